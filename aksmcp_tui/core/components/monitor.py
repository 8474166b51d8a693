"""`aksmcp monitor setup`: the monitoring component (ServiceMonitor, alerts, Grafana dashboard).

The alert expressions name the Deployment, its namespace and the scrape job (the Service's name). For a
project that keeps the base's names the component is used as it is; otherwise the overlay gets a patch
whose rules are the component's own, with the project's names put in (derived from the component file
at generation time, never a second copy in code)."""

from __future__ import annotations

import re
from typing import Any

from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.overlay import (
    add_component,
    drop_settings,
    enabled_components,
    read_component_file,
    write_settings,
)
from aksmcp_tui.core.components.project import BASE_NAME, BASE_NAMESPACE, ComponentError, Project
from aksmcp_tui.core.components.result import GeneratorResult

DEFAULT_RELEASE = "kube-prometheus-stack"
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")


def rename_in_promql(text: str, name: str, namespace: str) -> str:
    """The base's names in label matchers, replaced by the project's."""
    text = text.replace(f'namespace="{BASE_NAMESPACE}"', f'namespace="{namespace}"')
    text = text.replace(f'job="{BASE_NAME}"', f'job="{name}"')
    text = text.replace(f'deployment="{BASE_NAME}"', f'deployment="{name}"')
    text = text.replace(f'pod=~"{BASE_NAME}-.*"', f'pod=~"{name}-.*"')
    return text.replace(f"{BASE_NAMESPACE}/{BASE_NAME}", f"{namespace}/{name}")


def _renamed(node: Any, name: str, namespace: str) -> Any:
    if isinstance(node, str):
        return rename_in_promql(node, name, namespace)
    if isinstance(node, list):
        return [_renamed(item, name, namespace) for item in node]
    if isinstance(node, dict):
        return {key: _renamed(value, name, namespace) for key, value in node.items()}
    return node


def setup_monitoring(project: Project, release: str = DEFAULT_RELEASE) -> GeneratorResult:
    if not _LABEL_VALUE.match(release):
        raise ComponentError(f"--release {release!r} is not a valid label value")
    changes = ChangeSet(project.root)
    command = "aksmcp monitor setup" + ("" if release == DEFAULT_RELEASE else f" --release {release}")
    result = GeneratorResult(command, changes)
    add_component(changes, "monitoring")
    renamed = (project.name, project.namespace) != (BASE_NAME, BASE_NAMESPACE)
    if renamed or release != DEFAULT_RELEASE:
        rule = read_component_file("monitoring", "prometheusrule.yaml")[0]
        patches: list[dict[str, Any]] = [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE, "labels": {"release": release}},
                "spec": {"namespaceSelector": {"matchNames": [project.namespace]}},
            },
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE, "labels": {"release": release}},
                # A strategic-merge patch of a custom resource replaces lists: these are all the groups.
                "spec": {"groups": _renamed(rule["spec"]["groups"], project.name, project.namespace)},
            },
        ]
        write_settings(changes, "monitoring", patches, f"Written by `{command}`: the project's names in the alerts.")
    else:
        drop_settings(changes, "monitoring")
    result.notes += [
        "Needs the Prometheus Operator (e.g. helm install kube-prometheus-stack "
        "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack -n monitoring --create-namespace); "
        f"its Prometheus selects ServiceMonitors and rules labelled release={release}.",
        "Grafana's dashboard sidecar picks up the ConfigMap labelled grafana_dashboard=1 (folder MCP).",
    ]
    if "keda" in enabled_components(changes):
        result.notes.append("KEDA's request-rate trigger reads the rate this Prometheus scrapes.")
    return result
