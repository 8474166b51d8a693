"""The dashboard with narrow RBAC (an AKS developer who may read one namespace): all namespaces are
forbidden, so it shows the context's namespace with a plain notice and stays live; pods forbidden
gives one notice, not a problem. A real RBAC proxy (403 Status) in front of a real in-process sandbox
(tests/core/test_fleet_rbac.py has the proxy and the core-level checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from core.test_fleet_rbac import TEAM, RbacProxy, create, rbac_cluster

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.cluster import SandboxCluster
from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from aksmcp_tui.ui.widgets.problem_panel import ProblemPanel

from .support import screen_text, wait_for

pytestmark = pytest.mark.timeout(120)
SIZE = (130, 36)


@dataclass
class Rbac:
    proxy: RbacProxy
    admin: KubeContext
    kubeconfig: str


@pytest.fixture
async def rbac(sandbox: SandboxCluster, tmp_path: Path) -> AsyncIterator[Rbac]:
    async with rbac_cluster(sandbox, tmp_path) as cluster:
        yield Rbac(cluster.proxy, cluster.admin, cluster.kubeconfig())


async def test_all_namespaces_forbidden_shows_the_context_namespace_with_a_notice(rbac: Rbac) -> None:
    app = make_app(kubeconfig=rbac.kubeconfig)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        table = screen.query_one(FleetTable)
        panel = screen.query_one(ProblemPanel)
        await wait_for(pilot, lambda: screen.live_state == "live" and table.total == 1, "the team-a fleet")
        assert [(w.namespace, w.name) for w in table.visible_workloads()] == [(TEAM, "tools")]
        # a notice, not an error: info style, no retry button, the fleet is live
        assert panel.is_shown and panel.has_class("-info") and screen.problem is None
        assert panel.title_text == "Showing namespace team-a only"
        assert "No access to all namespaces; showing namespace team-a" in panel.body_text
        assert not screen.query_one("#problem-actions").display
        text = screen_text(app)
        assert "namespace team-a (no access to all)" in text and "● live" in text
        assert "No access to all namespaces; showing namespace team-a" in text

        # live: a deployment created later in team-a appears; the notice stays
        await create(rbac.admin, TEAM, "late")
        await wait_for(pilot, lambda: table.get((TEAM, "Deployment", "late")) is not None, "the late deployment")
        assert panel.is_shown and panel.title_text == "Showing namespace team-a only"
        assert screen.live_state == "live"

        # `:ns` to another namespace is the user's choice: the narrowing notice goes away
        await pilot.press("colon", *f"ns {TEAM}", "enter")
        await wait_for(pilot, lambda: screen.namespace == TEAM and screen.live_state == "live", "namespace team-a")
        await wait_for(pilot, lambda: table.total == 2, "both team-a deployments")
        assert not panel.is_shown and screen.narrowed_to is None


async def test_pods_forbidden_is_one_notice_and_the_fleet_stays_live(rbac: Rbac) -> None:
    rbac.proxy.deny_pods = True
    app = make_app(kubeconfig=rbac.kubeconfig)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        table = screen.query_one(FleetTable)
        panel = screen.query_one(ProblemPanel)
        key = (TEAM, "Deployment", "tools")

        def healthy() -> bool:
            workload = table.get(key)
            return workload is not None and str(workload.health) == "healthy"

        await wait_for(pilot, healthy, "tools healthy from its Deployment status")
        await wait_for(pilot, lambda: "Health without pods" in panel.title_text, "the pods notice")
        assert panel.has_class("-info") and screen.problem is None and screen.live_state == "live"
        assert "Showing namespace team-a only" in panel.title_text
        assert "health comes from Deployment conditions only" in panel.body_text
        # the pods are retried quietly: the notice stays a notice, never a problem panel
        denied = rbac.proxy.denied["pods"]
        await wait_for(pilot, lambda: rbac.proxy.denied["pods"] > denied, "a quiet pods retry", within=60)
        assert screen.problem is None and screen.live_state == "live" and panel.has_class("-info")
