"""The details screen lists a deployment's production components (from the annotations the components
put on the Deployment) and offers each generator: enter opens it, Preview shows the diff it would make
to the deployment's project (nothing written), Apply writes it; bad input is a message, not a crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Static

from aksmcp_tui.core import components
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.screens.component import ComponentScreen
from aksmcp_tui.ui.screens.details import DetailsScreen
from tests.components.support import kubectl_kustomize, make_project
from tests.components.test_render import _build
from tests.ui.sandbox_support import api_client, deployment, ensure_namespace
from tests.ui.support import wait_for, write_kubeconfig

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def _textual_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    # No pods needed: the screen reads the Deployment; replicas stay at 0.
    with ThreadedSandbox(tmp_path_factory.mktemp("dash-sandbox"), run_node=False) as sandbox:
        yield sandbox


async def test_details_screen_shows_components_and_offers_generators(
    tmp_path: Path, api_only: ThreadedSandbox, _textual_env: None
) -> None:
    # A Deployment carrying exactly what the rendered overlay (API key + TLS + HPA) puts on it.
    root = _build(tmp_path / "p", "apikey", True, False, "hpa")
    project = make_project(tmp_path / "weather")
    rendered = next(o for o in kubectl_kustomize(root / "manifests") if o["kind"] == "Deployment")
    body = deployment("weather", "tools", replicas=0)
    body["metadata"]["annotations"] = rendered["metadata"]["annotations"]
    api = api_client(api_only.kubeconfig_path)
    try:
        from kubernetes import client

        ensure_namespace(api, "tools")
        client.AppsV1Api(api).create_namespaced_deployment("tools", body)
    finally:
        api.close()
    kubeconfig = write_kubeconfig(
        tmp_path / "config", {"aksmcp-sandbox": api_only.url}, token=api_only.token, current="aksmcp-sandbox"
    )
    app = make_app(kubeconfig=str(kubeconfig))
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: "weather" in app.screen.query_one("FleetTable").visible_names(), "the row")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details screen")
        details = app.screen
        assert isinstance(details, DetailsScreen)
        await wait_for(pilot, lambda: details.loads >= 1, "details loaded")
        table = details.query_one("#details-components", DataTable)
        rows = {table.get_row_at(i)[0]: tuple(table.get_row_at(i)[1:]) for i in range(table.row_count)}
        assert rows["auth-apikey"][0] == "on" and "rotation" in rows["auth-apikey"][1]
        assert rows["ingress-tls"] == ("on", "https://mcp.contoso.com/mcp")
        assert rows["hpa"] == ("on", "HPA 2-6 replicas at 60% CPU")
        assert rows["monitoring"] == ("—", components.GENERATORS["monitoring"])
        assert rows["keda"][0] == rows["auth-entra"][0] == rows["ci"][0] == "—"
        table.focus()
        table.move_cursor(row=list(rows).index("monitoring"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ComponentScreen), "the component screen")
        screen = app.screen
        assert isinstance(screen, ComponentScreen)
        assert screen.query_one("#component-command", Input).value == "aksmcp monitor setup"
        result = screen.query_one("#component-result", Static)

        async def press(button: str, runs: int) -> str:
            screen.query_one(button, Button).press()
            await wait_for(pilot, lambda: screen.runs >= runs, f"{button} finished")
            return str(result.render())

        # no project yet: a message, not a crash
        assert "Which project?" in await press("#component-preview", 1)
        screen.query_one("#component-project", Input).value = str(project)
        before = (project / "manifests" / "kustomization.yaml").read_text()
        preview = await press("#component-preview", 2)
        assert "+++ b/manifests/kustomization.yaml" in preview and "+- aksmcp/components/monitoring" in preview
        assert (project / "manifests" / "kustomization.yaml").read_text() == before, "preview wrote to the project"
        applied = await press("#component-apply", 3)
        assert f"updated {project / 'manifests' / 'kustomization.yaml'}" in applied
        assert "aksmcp/components/monitoring" in (project / "manifests" / "kustomization.yaml").read_text()
        assert "No changes" in await press("#component-apply", 4)  # idempotent, as on the CLI
        screen.query_one("#component-command", Input).value = "aksmcp scale configure --min 5 --max 2"
        assert "--max (2) must be at least --min (5)" in await press("#component-preview", 5)
        screen.query_one("#component-command", Input).value = "aksmcp ls"
        assert "not a component generator" in await press("#component-preview", 6)
        screen.query_one("#component-copy", Button).press()
        await wait_for(pilot, lambda: copied == ["aksmcp ls"], "the command copied")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "back on the details screen")
