"""`aksmcp scale configure`: an HPA on CPU or a KEDA ScaledObject on the server's request rate."""

from __future__ import annotations

from typing import Any

from aksmcp_tui.core.components import annotations as ann
from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.monitor import rename_in_promql
from aksmcp_tui.core.components.overlay import (
    add_component,
    enabled_components,
    read_component_file,
    remove_component,
    write_settings,
)
from aksmcp_tui.core.components.project import BASE_NAME, BASE_NAMESPACE, ComponentError, Project
from aksmcp_tui.core.components.result import GeneratorResult
from aksmcp_tui.core.components.tls import SESSION_HASH_ANNOTATION, SESSION_HASH_VALUE

DEFAULT_CPU_PERCENT = 70
MAX_REPLICAS_LIMIT = 1000
# Three hours: longer than an IDE session usually stays idle, shorter than forever.
SESSION_AFFINITY_SECONDS = 10800


def validate_scale(minimum: int, maximum: int, cpu: int | None, rps_per_pod: float | None) -> None:
    if minimum < 1:
        raise ComponentError("--min must be at least 1")
    if maximum < minimum:
        raise ComponentError(f"--max ({maximum}) must be at least --min ({minimum})")
    if maximum > MAX_REPLICAS_LIMIT:
        raise ComponentError(f"--max must be at most {MAX_REPLICAS_LIMIT}")
    if cpu is not None and rps_per_pod is not None:
        raise ComponentError("choose one of --cpu and --rps-per-pod")
    if cpu is not None and not 1 <= cpu <= 1000:
        raise ComponentError("--cpu is a percentage of the CPU request, between 1 and 1000")
    if rps_per_pod is not None and not rps_per_pod > 0:
        raise ComponentError("--rps-per-pod must be a positive number of requests per second")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def configure_scale(
    project: Project,
    minimum: int,
    maximum: int,
    cpu: int | None = None,
    rps_per_pod: float | None = None,
    prometheus_url: str | None = None,
) -> GeneratorResult:
    validate_scale(minimum, maximum, cpu, rps_per_pod)
    if prometheus_url is not None and not prometheus_url.startswith(("http://", "https://")):
        raise ComponentError(f"--prometheus-url {prometheus_url!r} must be an http(s) URL")
    changes = ChangeSet(project.root)
    on_rate = rps_per_pod is not None
    if on_rate:
        command = f"aksmcp scale configure --min {minimum} --max {maximum} --rps-per-pod {_number(rps_per_pod or 0)}"
    else:
        command = f"aksmcp scale configure --min {minimum} --max {maximum} --cpu {cpu or DEFAULT_CPU_PERCENT}"
    result = GeneratorResult(command, changes)
    keep, drop = ("keda", "hpa") if on_rate else ("hpa", "keda")
    if remove_component(changes, drop):
        result.warnings.append(f"The {drop} component is replaced by {keep} (one autoscaler per Deployment).")
    add_component(changes, keep)
    patches: list[dict[str, Any]] = []
    if on_rate:
        trigger = read_component_file("keda", "scaledobject.yaml")[0]["spec"]["triggers"][0]
        metadata = dict(trigger["metadata"])
        metadata["query"] = rename_in_promql(metadata["query"], project.name, project.namespace)
        metadata["threshold"] = _number(rps_per_pod or 0)
        if prometheus_url:
            metadata["serverAddress"] = prometheus_url
        summary = f"KEDA {minimum}-{maximum} replicas at {_number(rps_per_pod or 0)} requests/s per pod"
        patches.append(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE},
                "spec": {
                    "minReplicaCount": minimum,
                    "maxReplicaCount": maximum,
                    # A strategic-merge patch of a custom resource replaces lists: the whole trigger.
                    "triggers": [{**trigger, "metadata": metadata}],
                },
            }
        )
        if "monitoring" not in enabled_components(changes):
            result.warnings.append(
                "KEDA reads the request rate from Prometheus: run `aksmcp monitor setup` so it is scraped."
            )
        result.notes.append("Needs KEDA: helm install keda kedacore/keda -n keda --create-namespace")
    else:
        percent = cpu or DEFAULT_CPU_PERCENT
        summary = f"HPA {minimum}-{maximum} replicas at {percent}% CPU"
        patches.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE},
                "spec": {
                    "minReplicas": minimum,
                    "maxReplicas": maximum,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": percent},
                            },
                        }
                    ],
                },
            }
        )
        result.notes.append("The HPA needs the metrics server (on by default on AKS).")
    deployment_annotations = {f"{ann.PREFIX}{keep}": summary}
    patches.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE, "annotations": deployment_annotations},
        }
    )
    if project.stateful:
        # Stateful sessions live in one pod's memory: keep a client on its pod.
        patches.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE},
                "spec": {
                    "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": SESSION_AFFINITY_SECONDS}},
                },
            }
        )
        if "ingress-tls" in enabled_components(changes):
            patches.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {
                        "name": BASE_NAME,
                        "namespace": BASE_NAMESPACE,
                        "annotations": {SESSION_HASH_ANNOTATION: SESSION_HASH_VALUE},
                    },
                }
            )
        pinned = "ClientIP affinity"
        if "ingress-tls" in enabled_components(changes):
            pinned += ", and the Ingress hashes the Mcp-Session-Id header"
        result.warnings.append(
            f"This server keeps stateful sessions: the Service now pins each client to one pod ({pinned}), and "
            "scaling in drops the sessions of every removed pod: their clients must initialize again."
        )
    if minimum < 2:
        result.warnings.append(
            "With --min 1 the PodDisruptionBudget (minAvailable 1) blocks node drains while one pod runs."
        )
    write_settings(changes, "scale", patches, f"Written by `{command}`: run it again to change these.")
    return result
