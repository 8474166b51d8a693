"""The dashboard's deploy screen (`d`) on the same core: steps, pod states, the smoke test, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Input, Label, RichLog

from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.screens.deploy import DeployScreen
from tests.deploy.support import REFERENCE_IMAGE, add_patch, make_project

pytestmark = [pytest.mark.timeout(150), pytest.mark.usefixtures("isolated_home")]
SIZE = (150, 45)


async def _wait(pilot: object, condition: object, what: str, within: float = 90.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def _log_text(screen: DeployScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#deploy-log", RichLog).lines)


async def _open(pilot: object, app: object) -> DeployScreen:
    await pilot.press("d")  # type: ignore[attr-defined]
    await _wait(pilot, lambda: isinstance(app.screen, DeployScreen), "the deploy screen", 20)  # type: ignore[attr-defined]
    return app.screen  # type: ignore[attr-defined,no-any-return]


async def test_d_deploys_step_by_step_with_pod_states_and_smoke_test(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    project = make_project(tmp_path, "from-screen", "deploy-ui")
    app = make_app(kubeconfig=str(deploy_sandbox.kubeconfig_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, app)
        assert screen.target.context == "aksmcp-sandbox"
        screen.query_one("#deploy-path", Input).value = str(project)
        screen.query_one("#deploy-image", Input).value = REFERENCE_IMAGE
        screen.query_one("#deploy-replicas", Input).value = "1"
        await pilot.click("#deploy-start")
        await _wait(pilot, lambda: screen.finished is not None, "the deploy to finish")
        text = _log_text(screen)
        assert screen.finished is True, text
        assert screen.statuses == {
            "build": "skipped",
            "push": "skipped",
            "render": "done",
            "apply": "done",
            "rollout": "done",
            "smoke test": "done",
        }
        assert "✓ rollout" in str(screen.query_one("#label-rollout", Label).render())
        assert "pod from-screen-" in text and "running, ready" in text
        assert "answered tools/list with 3 tools" in text
        assert "connect your IDE: aksmcp connect vscode deploy/from-screen -n deploy-ui" in text
        await pilot.press("escape")
        await _wait(pilot, lambda: not isinstance(app.screen, DeployScreen), "back to the fleet", 10)


async def test_cancel_stops_the_flow_and_says_what_is_left(deploy_sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    project = make_project(tmp_path, "cancelled", "deploy-cancel")
    # Never ready: the rollout would wait on it, so there is time to cancel mid-rollout.
    add_patch(
        project,
        "cancelled-probe.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n          readinessProbe:\n"
        "            httpGet: {path: /never, port: mcp}\n            failureThreshold: 100\n",
    )
    app = make_app(kubeconfig=str(deploy_sandbox.kubeconfig_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot, app)
        screen.query_one("#deploy-path", Input).value = str(project)
        screen.query_one("#deploy-image", Input).value = REFERENCE_IMAGE
        screen.query_one("#deploy-replicas", Input).value = "1"
        await pilot.click("#deploy-start")
        await _wait(pilot, lambda: screen.statuses["rollout"] == "running", "the rollout to start")
        assert not screen.query_one("#deploy-cancel", Button).disabled
        await pilot.click("#deploy-cancel")
        await _wait(pilot, lambda: screen.finished is False, "the cancel", 20)
        text = _log_text(screen)
        assert "cancelled" in text
        assert "applied: Namespace deploy-cancel" in text and "Deployment deploy-cancel/cancelled" in text
        assert "remove with: kubectl -n deploy-cancel delete" in text
        assert isinstance(app.screen, DeployScreen)  # the screen stays usable after a cancel
        assert not screen.query_one("#deploy-start", Button).disabled
