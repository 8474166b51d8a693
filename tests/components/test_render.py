"""Every combination of components, added by the generators to a project, renders with `kubectl kustomize`,
validates offline (built-in kinds with kubernetes-validate, custom resources against the vendored CRD
schemas) and keeps the restricted Pod Security Standard; each component marks the Deployment."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from aksmcp_tui.core import components
from aksmcp_tui.core.manifests import DeployParameters, apply_parameters, render_kustomization
from tests.components.support import (
    CLIENT_ID,
    MANIFESTS,
    TENANT,
    kubectl_kustomize,
    make_project,
    restricted_violations,
    validate_object,
)

AUTH = (None, "apikey", "entra")
TLS = (False, True)
MONITORING = (False, True)
SCALE = (None, "hpa", "keda")
Combination = tuple[str | None, bool, bool, str | None]
COMBINATIONS: list[Combination] = list(itertools.product(AUTH, TLS, MONITORING, SCALE))


def _build(root: Path, auth: str | None, tls: bool, monitoring: bool, scale: str | None, **meta: Any) -> Path:
    make_project(root, **meta)
    steps = []
    if auth == "apikey":
        steps.append(components.enable_api_key)
    if auth == "entra":
        steps.append(lambda p: components.enable_entra(p, TENANT, CLIENT_ID))
    if tls:
        steps.append(lambda p: components.enable_tls(p, "mcp.contoso.com", "letsencrypt-prod", "ops@contoso.com"))
    if monitoring:
        steps.append(components.setup_monitoring)
    if scale == "hpa":
        steps.append(lambda p: components.configure_scale(p, 2, 6, cpu=60))
    if scale == "keda":
        steps.append(lambda p: components.configure_scale(p, 3, 9, rps_per_pod=12.5))
    for step in steps:
        step(components.load_project(root)).changes.apply()
    return root


def _kinds(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    return by_kind


@pytest.mark.parametrize(("auth", "tls", "monitoring", "scale"), COMBINATIONS)
def test_combination_renders_validates_and_stays_restricted(
    rendered_combinations: dict[Combination, tuple[Path, list[dict[str, Any]]]],
    auth: str | None,
    tls: bool,
    monitoring: bool,
    scale: str | None,
) -> None:
    root, objects = rendered_combinations[(auth, tls, monitoring, scale)]
    # aksmcp's own renderer (what `aksmcp deploy` uses, no kustomize binary) renders the same objects
    assert render_kustomization(root / "manifests") == objects
    problems = [problem for obj in objects for problem in validate_object(obj)]
    assert problems == []
    # ...and `aksmcp deploy`'s parameters (name, namespace, key Secret) keep every object valid and wired
    deployed = apply_parameters(objects, DeployParameters("weather", "tools"))
    assert [p for obj in deployed for p in validate_object(obj)] == []
    volumes = next(o for o in deployed if o["kind"] == "Deployment")["spec"]["template"]["spec"]["volumes"]
    secrets = {v["secret"]["secretName"] for v in volumes if "secret" in v}
    assert secrets == {"weather-api-key"}, "the previous-key volume must follow the renamed key Secret"
    for obj in deployed:
        target = (obj.get("spec") or {}).get("scaleTargetRef")
        if target:
            assert target["name"] == "weather"
    kinds = _kinds(objects)
    (deployment,) = kinds["Deployment"]
    assert restricted_violations(deployment["spec"]["template"]["spec"]) == []
    marks = {c.name for c in components.deployed_components(deployment)}
    expected = {n for n, on in (("auth-apikey", auth == "apikey"), ("auth-entra", auth == "entra")) if on}
    expected |= {"ingress-tls"} if tls else set()
    expected |= {"monitoring"} if monitoring else set()
    expected |= {scale} if scale else set()
    assert marks == expected
    config = next(c for c in kinds["ConfigMap"] if c["metadata"]["name"] == "aksmcp-server")["data"]
    assert config["AKSMCP_AUTH_MODE"] == ("entra" if auth == "entra" else "apikey")
    if auth == "entra":
        assert config["AKSMCP_ENTRA_TENANT_ID"] == TENANT
        assert config["AKSMCP_ENTRA_AUDIENCE"].split(",") == [f"api://{CLIENT_ID}", CLIENT_ID]
    # No key in any ConfigMap or rendered Secret: keys only live in the Secret the cluster holds.
    assert "AKSMCP_API_KEY" not in config and "Secret" not in kinds
    if scale:
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        assert ("HorizontalPodAutoscaler" in kinds) == (scale == "hpa")
        assert ("ScaledObject" in kinds) == (scale == "keda")
    else:
        assert deployment["spec"]["replicas"] == 2
    if tls:
        (ingress,) = kinds["Ingress"]
        assert [r["host"] for r in ingress["spec"]["rules"]] == ["mcp.contoso.com"]
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
        assert ingress["spec"]["ingressClassName"] == "webapprouting.kubernetes.azure.com"
        # only the MCP endpoint and its OAuth metadata are published, never /metrics
        paths = [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
        assert paths == ["/mcp", "/.well-known/oauth-protected-resource"]
        assert "mcp.contoso.com" in config["AKSMCP_ALLOWED_HOSTS"].split(",")
        assert "weather.tools.svc" in config["AKSMCP_ALLOWED_HOSTS"].split(",")
        issuers = {i["metadata"]["name"]: i for i in kinds["ClusterIssuer"]}
        assert issuers["letsencrypt-prod"]["spec"]["acme"]["email"] == "ops@contoso.com"
    if scale == "keda":
        (scaled,) = kinds["ScaledObject"]
        trigger = scaled["spec"]["triggers"][0]["metadata"]
        assert trigger["threshold"] == "12.5"
        assert 'namespace="tools"' in trigger["query"] and 'job="weather"' in trigger["query"]
        assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (3, 9)
    if monitoring:
        (rule,) = kinds["PrometheusRule"]
        exprs = [r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]]
        assert len(exprs) == 4 and not any("mcp-system" in e or "aksmcp-server" in e for e in exprs)
        assert any('deployment="weather"' in e for e in exprs) and all('namespace="tools"' in e for e in exprs)
        (monitor,) = kinds["ServiceMonitor"]
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == ["tools"]


def test_components_alone_render_and_validate(tmp_path: Path) -> None:
    """aksmcp's own components, straight from manifests/components, on the base (no generator settings)."""
    names = sorted(p.name for p in (MANIFESTS / "components").iterdir() if p.is_dir())
    assert set(names) == set(components.COMPONENT_NAMES)
    for name in names:
        root = make_project(tmp_path / name)
        shutil.copytree(MANIFESTS / "components" / name, root / "manifests" / "aksmcp" / "components" / name)
        overlay = root / "manifests" / "kustomization.yaml"
        overlay.write_text(overlay.read_text() + f"components:\n  - aksmcp/components/{name}\n")
        objects = kubectl_kustomize(root / "manifests")
        assert [p for obj in objects for p in validate_object(obj)] == [], name
        kustomization = yaml.safe_load((MANIFESTS / "components" / name / "kustomization.yaml").read_text())
        # only the kustomize features the project renderer supports (the generated-project contract)
        assert set(kustomization) <= {"apiVersion", "kind", "resources", "patches"}, name
        assert kustomization["kind"] == "Component"


def test_validation_catches_broken_custom_resources() -> None:
    """The offline check can fail: a wrong type and an unknown field in custom resources are caught."""
    scaled = yaml.safe_load((MANIFESTS / "components" / "keda" / "scaledobject.yaml").read_text())
    assert validate_object(scaled) == []
    scaled["spec"]["minReplicaCount"] = "two"
    assert any("minReplicaCount" in p for p in validate_object(scaled))
    monitor = yaml.safe_load((MANIFESTS / "components" / "monitoring" / "servicemonitor.yaml").read_text())
    monitor["spec"]["endpoints"][0]["scrapeEvery"] = "30s"
    assert any("scrapeEvery" in p for p in validate_object(monitor))
    issuer = next(yaml.safe_load_all((MANIFESTS / "components" / "ingress-tls" / "clusterissuers.yaml").read_text()))
    del issuer["spec"]["acme"]["privateKeySecretRef"]
    assert any("privateKeySecretRef" in p for p in validate_object(issuer))
