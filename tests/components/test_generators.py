"""The generators as the CLI runs them: what they print, idempotence, --dry-run, bad input, one auth mode
and one autoscaler at a time, stateful sessions, the README steps, and alerts/dashboard/KEDA queries
that only name metrics the server really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from aksmcp_server.metrics import Metrics

from aksmcp_tui.cli import main
from aksmcp_tui.core import components
from tests.components.support import CLIENT_ID, MANIFESTS, TENANT, make_project

GENERATOR_ARGS = [
    ["auth", "enable", "--api-key"],
    ["auth", "enable", "--entra", "--tenant", TENANT, "--client-id", CLIENT_ID],
    ["tls", "enable", "--host", "mcp.contoso.com", "--issuer", "letsencrypt-staging", "--ingress-class", "nginx"],
    ["monitor", "setup"],
    ["scale", "configure", "--min", "2", "--max", "8", "--cpu", "65"],
    ["scale", "configure", "--min", "2", "--max", "8", "--rps-per-pod", "30"],
    ["ci", "generate", "github", "--registry", "myacr01.azurecr.io", "--repo", "contoso/weather"],
]


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "weather", name="weather", namespace="tools")


@pytest.mark.parametrize("args", GENERATOR_ARGS, ids=lambda a: "-".join(a[:3]))
def test_generator_prints_changes_then_is_idempotent_and_dry_run_writes_nothing(
    project: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(project)
    assert main([*args, "--project", str(project), "--dry-run"]) == 0
    diff = capsys.readouterr().out
    assert diff.startswith("--- ") and "\n+++ b/" in diff
    assert _snapshot(project) == before, "--dry-run wrote to the project"

    assert main([*args, "--project", str(project)]) == 0
    out = capsys.readouterr().out
    after = _snapshot(project)
    changed = sorted(set(after) ^ set(before) | {k for k in after if before.get(k) not in (None, after[k])})
    assert changed, "the generator changed nothing"
    for rel in changed:
        assert f"{'created' if rel not in before else 'updated'} {project / rel}" in out

    assert main([*args, "--project", str(project)]) == 0
    assert "no changes: the project already has this configuration" in capsys.readouterr().out
    assert _snapshot(project) == after
    assert main([*args, "--project", str(project), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("no changes")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tls", "enable", "--host", "Not A Host", "--issuer", "letsencrypt-prod"], "--host"),
        (["tls", "enable", "--host", "mcp.contoso.com", "--issuer", "letsencrypt-prod", "--email", "x"], "--email"),
        (["scale", "configure", "--min", "5", "--max", "2"], "--max (2) must be at least --min (5)"),
        (["scale", "configure", "--min", "0", "--max", "2"], "--min must be at least 1"),
        (["scale", "configure", "--min", "1", "--max", "2", "--rps-per-pod", "0"], "--rps-per-pod"),
        (["auth", "enable", "--entra", "--tenant", TENANT], "--entra needs --client-id"),
        (["auth", "enable", "--entra", "--tenant", TENANT, "--client-id", "app"], "--client-id 'app'"),
        (["auth", "enable", "--api-key", "--tenant", TENANT], "go with --entra"),
        (["ci", "generate", "github", "--registry", "docker.io"], "ACR login server"),
        (["monitor", "setup", "--release", "bad release"], "--release"),
        (["auth", "rotate", "svc/weather"], "must be deploy/NAME"),
        (["auth", "rotate", "--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    project: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(project)
    assert main([*args, "--project", str(project)]) == 2
    assert message in capsys.readouterr().err
    assert _snapshot(project) == before


def test_not_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "setup", "--project", str(tmp_path)]) == 2
    assert "not an aksmcp project" in capsys.readouterr().err
    assert main(["auth", "rotate", "--project", str(tmp_path)]) == 2
    assert "which deployment? pass deploy/NAME" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_one_auth_mode_and_one_autoscaler_at_a_time(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "enable", "--api-key", "--project", str(project)]) == 0
    assert (
        main(["auth", "enable", "--entra", "--tenant", TENANT, "--client-id", CLIENT_ID, "--project", str(project)])
        == 0
    )
    assert "API-key auth is replaced by Entra ID auth" in capsys.readouterr().err
    overlay = yaml.safe_load((project / "manifests" / "kustomization.yaml").read_text())
    assert overlay["components"] == ["aksmcp/components/auth-entra"]
    assert overlay["patches"] == [{"path": "auth-entra-settings.yaml"}]
    assert main(["auth", "enable", "--api-key", "--project", str(project)]) == 0
    overlay = yaml.safe_load((project / "manifests" / "kustomization.yaml").read_text())
    assert overlay["components"] == ["aksmcp/components/auth-apikey"] and "patches" not in overlay
    assert not (project / "manifests" / "auth-entra-settings.yaml").exists()

    assert main(["scale", "configure", "--min", "2", "--max", "4", "--project", str(project)]) == 0
    assert (
        main(["scale", "configure", "--min", "2", "--max", "4", "--rps-per-pod", "5", "--project", str(project)]) == 0
    )
    err = capsys.readouterr().err
    assert "hpa component is replaced by keda" in err
    assert "run `aksmcp monitor setup`" in err  # KEDA without a Prometheus scraping the server
    overlay = yaml.safe_load((project / "manifests" / "kustomization.yaml").read_text())
    assert overlay["components"] == ["aksmcp/components/auth-apikey", "aksmcp/components/keda"]


def test_overlay_comments_survive_an_unchanged_run(project: Path) -> None:
    components.enable_api_key(components.load_project(project)).changes.apply()
    overlay = project / "manifests" / "kustomization.yaml"
    overlay.write_text("# my notes\n" + overlay.read_text())
    assert components.enable_api_key(components.load_project(project)).changes.changes() == []
    assert overlay.read_text().startswith("# my notes\n")


def test_stateful_sessions_get_affinity_and_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p", stateful=True)
    assert (
        main(["tls", "enable", "--host", "mcp.contoso.com", "--issuer", "letsencrypt-prod", "--project", str(root)])
        == 0
    )
    assert main(["scale", "configure", "--min", "2", "--max", "5", "--project", str(root)]) == 0
    err = capsys.readouterr().err
    assert "scaling in drops the sessions" in err and "Mcp-Session-Id" in err
    docs = list(yaml.safe_load_all((root / "manifests" / "scale-settings.yaml").read_text()))
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$http_mcp_session_id"


def test_stateless_project_gets_no_affinity(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scale", "configure", "--min", "2", "--max", "5", "--project", str(project)]) == 0
    assert "sessions" not in capsys.readouterr().err
    kinds = [d["kind"] for d in yaml.safe_load_all((project / "manifests" / "scale-settings.yaml").read_text())]
    assert kinds == ["HorizontalPodAutoscaler", "Deployment"]


def test_entra_readme_lists_the_app_registration_in_order(project: Path) -> None:
    components.enable_entra(components.load_project(project), TENANT, CLIENT_ID).changes.apply()
    readme = (project / "README.md").read_text()
    order = [
        f"az login --tenant {TENANT}",
        "az ad app create --display-name",
        '--identifier-uris "api://$APP_ID"',
        "oauth2PermissionScopes",
        "preAuthorizedApplications",
        'az ad sp create --id "$APP_ID"',
        f"aksmcp auth enable --entra --tenant {TENANT}",
        'az account get-access-token --scope "api://$APP_ID/access_as_user"',
    ]
    positions = [readme.find(step) for step in order]
    assert -1 not in positions and positions == sorted(positions), list(zip(order, positions, strict=True))
    # switching mode replaces the section, never stacks a second one
    components.enable_api_key(components.load_project(project)).changes.apply()
    readme = (project / "README.md").read_text()
    assert readme.count("<!-- aksmcp:auth -->") == 1 and "Entra" not in readme and "auth rotate" in readme


def _promql_metric_names(text: str) -> set[str]:
    return set(re.findall(r"\b(mcp_[a-z_]+|kube_[a-z_]+|container_[a-z_]+|up)\b(?=\s*[{\[)=<>])", text))


def test_alerts_dashboard_and_keda_use_the_servers_real_metric_names() -> None:
    metrics = Metrics(["system_info"])
    # Label sets of these two appear with the first request / error, as on a live server.
    metrics.count_http("POST", 200)
    metrics.count_error(-32601)
    exposition = metrics.render().decode()
    server_names = set(re.findall(r"^([a-z_]+)(?:\{| )", exposition, re.MULTILINE))
    # Names from kube-state-metrics and cAdvisor (kubelet), which kube-prometheus-stack scrapes.
    cluster_names = {
        "up",
        "kube_deployment_status_replicas_available",
        "kube_pod_container_status_restarts_total",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    }
    rule = yaml.safe_load((MANIFESTS / "components" / "monitoring" / "prometheusrule.yaml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "McpServerHighErrorRatio",
        "McpServerHighLatencyP95",
        "McpServerNoReadyReplica",
        "McpServerRestarting",
    }
    dashboard_cm = yaml.safe_load((MANIFESTS / "components" / "monitoring" / "grafana-dashboard.yaml").read_text())
    assert dashboard_cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_cm["data"]["aksmcp-server.json"])
    panel_exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in dashboard["panels"]}
    scaled = yaml.safe_load((MANIFESTS / "components" / "keda" / "scaledobject.yaml").read_text())
    keda_query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    used = _promql_metric_names(" ".join([*alerts.values(), *panel_exprs.values(), keda_query]))
    mcp_used = {n for n in used if n.startswith("mcp_")}
    assert mcp_used, "no server metric is used at all"
    assert mcp_used <= server_names, f"not exported by the server: {sorted(mcp_used - server_names)}"
    assert used - mcp_used <= cluster_names, sorted(used - mcp_used - cluster_names)
    # what the dashboard must show, per the issue
    wanted = {
        "per-tool rate": "sum by (tool) (rate(mcp_tool_calls_total",
        "errors": 'outcome!="ok"',
        "latency quantiles": "histogram_quantile(0.99, sum by (le, tool)",
        "in-flight": "mcp_http_requests_in_flight",
        "sessions": "mcp_active_sessions",
        "cpu": "container_cpu_usage_seconds_total",
        "memory": "container_memory_working_set_bytes",
    }
    text = " ".join(panel_exprs.values())
    assert [w for w, expr in wanted.items() if expr not in text] == []
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
