"""Error states shown inline with a retry, never a crash: unreachable, 403 namespace, missing credentials."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button

from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.screens.help import HelpScreen
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from aksmcp_tui.ui.widgets.problem_panel import ProblemPanel

from .support import forbidding_api_server, free_port, wait_for, write_kubeconfig

SIZE = (130, 36)


def _panel(app: object) -> ProblemPanel:
    return app.screen.query_one(ProblemPanel)  # type: ignore[attr-defined]


async def test_unreachable_cluster_shows_a_message_and_retry_keeps_the_ui_alive(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config", {"gone": f"http://127.0.0.1:{free_port()}"})
    app = make_app(kubeconfig=str(kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        panel = _panel(app)
        await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
        assert panel.title_text == "Cannot reach the cluster"
        assert "gone" in panel.body_text and "127.0.0.1" in panel.body_text
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.live_state == "problem"
        assert "No data" in app.screen.query_one(FleetTable)._empty_message

        # the UI still answers keys while the watch keeps failing
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back on the main screen")

        # r retries: a new connection attempt, which fails the same way
        connects = screen.connects
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.connects == connects + 1, "a reconnect")
        await wait_for(pilot, lambda: screen.live_state == "problem" and panel.is_shown, "the problem again")

        # the Retry button does the same with the mouse
        await pilot.click("#problem-retry")
        await wait_for(pilot, lambda: screen.connects == connects + 2, "a reconnect from the button")
        await wait_for(pilot, lambda: screen.live_state == "problem" and panel.is_shown, "the problem again")
        assert app.screen.query_one("#problem-retry", Button).label.plain == "Retry (r)"


async def test_forbidden_namespace_is_explained_and_another_namespace_recovers(tmp_path: Path) -> None:
    async with forbidding_api_server("locked") as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", {"rbac": server})
        app = make_app(kubeconfig=str(kubeconfig), namespace="locked")
        async with app.run_test(size=SIZE) as pilot:
            panel = _panel(app)
            await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
            assert panel.title_text == "Access denied (403 Forbidden)"
            assert "locked" in panel.body_text
            assert ":ns" in panel.body_text  # tells the user what to do

            # `:ns open` switches to a namespace the account may read: the message goes away
            await pilot.press("colon", *"ns open", "enter")
            screen = app.screen
            assert isinstance(screen, MainScreen)
            await wait_for(pilot, lambda: screen.live_state == "live", "a live, empty namespace")
            assert not panel.is_shown
            assert screen.namespace == "open"
            table = screen.query_one(FleetTable)
            assert table.total == 0
            assert "No MCP deployments in namespace open" in table._empty_message


async def test_cluster_wide_list_forbidden_suggests_a_namespace(tmp_path: Path) -> None:
    async with forbidding_api_server("locked") as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", {"rbac": server})
        app = make_app(kubeconfig=str(kubeconfig))
        async with app.run_test(size=SIZE) as pilot:
            panel = _panel(app)
            await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
            assert panel.title_text == "Access denied (403 Forbidden)"
            assert "all namespaces" in panel.body_text


async def test_expired_token_is_explained_and_retry_rereads_the_kubeconfig(tmp_path: Path) -> None:
    async with forbidding_api_server("locked", token="fresh-token") as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", {"aks": server}, token="expired-token")
        app = make_app(kubeconfig=str(kubeconfig), namespace="team")
        async with app.run_test(size=SIZE) as pilot:
            panel = _panel(app)
            await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
            assert panel.title_text == "The cluster rejected the credentials"
            assert "401" in panel.body_text and "Log in again" in panel.body_text

            # the user fetches new credentials; r reopens the context and reads them
            write_kubeconfig(kubeconfig, {"aks": server}, token="fresh-token")
            await pilot.press("r")
            screen = app.screen
            assert isinstance(screen, MainScreen)
            await wait_for(pilot, lambda: screen.live_state == "live" and not panel.is_shown, "a live connection")


async def test_missing_credential_plugin_is_a_credentials_problem(tmp_path: Path) -> None:
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": str(tmp_path / "kubelogin-not-installed"),
            "args": ["get-token"],
            "interactiveMode": "Never",
        }
    }
    kubeconfig = write_kubeconfig(tmp_path / "config", {"aks": f"http://127.0.0.1:{free_port()}"}, user=exec_user)
    app = make_app(kubeconfig=str(kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        panel = _panel(app)
        await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
        assert panel.title_text == "Credentials are missing or expired"
        assert "kubelogin-not-installed" in panel.body_text


async def test_broken_kubeconfig_is_shown_not_raised(tmp_path: Path) -> None:
    broken = tmp_path / "config"
    broken.write_text("this: is: not: yaml: [")
    app = make_app(kubeconfig=str(broken))
    async with app.run_test(size=SIZE) as pilot:
        panel = _panel(app)
        await wait_for(pilot, lambda: panel.is_shown, "the problem panel")
        assert panel.title_text == "The kubeconfig cannot be read"
        assert app.screen.query_one(FleetTable).total == 0
