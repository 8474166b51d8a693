"""Snapshots of the main screen and the details screen, on the sandbox with the fixed fleet.

Deterministic: fixed names (tests/ui/sandbox_support.py), a fixed terminal size, the dashboard's clock
frozen 30 minutes after seeding (so every age reads "30m"), and the random parts of generated names
(ReplicaSet hash, pod suffix) replaced in what the details loader returns — the data still comes from
the sandbox through core.details.load_details.
Update with `pytest tests/ui/test_snapshots.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.details import DetailsScreen
from aksmcp_tui.ui.targets import ClusterTarget
from aksmcp_tui.ui.widgets.fleet_table import FleetTable

from .conftest import SeededSandbox
from .support import free_port, wait_for, write_kubeconfig

pytestmark = pytest.mark.timeout(120)
SIZE = (130, 34)
_POD = re.compile(r"\b([a-z]+-mcp)-[a-z0-9]{5,10}-[a-z0-9]{5}\b")
_REPLICA_SET = re.compile(r"\b([a-z]+-mcp)-[a-z0-9]{5,10}\b")


def _stable(text: str) -> str:
    return _REPLICA_SET.sub(r"\1-RSHASH", _POD.sub(r"\1-RSHASH-POD01", text))


def _app(tmp_path: Path, seeded: SeededSandbox) -> AksmcpApp:
    sandbox = seeded.sandbox
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        {"aksmcp-sandbox": sandbox.url, "staging": f"http://127.0.0.1:{free_port()}"},
        token=sandbox.token,
        current="aksmcp-sandbox",
    )
    frozen = seeded.seeded_at + timedelta(minutes=30, seconds=30)
    app = make_app(kubeconfig=str(kubeconfig), clock=lambda: frozen)
    real_loader = app.details_loader

    async def stable_details(target: ClusterTarget, workload: Any) -> Any:
        details = await real_loader(target, workload)
        pods = tuple(dataclasses.replace(p, name=_stable(p.name)) for p in details.pods)
        conditions = tuple(dataclasses.replace(c, message=_stable(c.message)) for c in details.conditions)
        events = tuple(
            sorted(
                (dataclasses.replace(e, object=_stable(e.object), message=_stable(e.message)) for e in details.events),
                key=lambda e: (e.object, e.reason),
            )
        )
        return dataclasses.replace(details, pods=pods, conditions=conditions, events=events)

    app.details_loader = stable_details
    return app


async def _fleet_settled(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: bool(pilot.app.screen.query(FleetTable)), "the main screen")
    table = pilot.app.screen.query_one(FleetTable)

    def settled() -> bool:
        rows = {w.name: (w.ready, w.desired, str(w.health)) for w in table.visible_workloads()}
        return rows == {
            "alpha-mcp": (1, 1, "healthy"),
            "beta-mcp": (2, 2, "healthy"),
            "gamma-mcp": (0, 0, "scaled-down"),
        }

    await wait_for(pilot, settled, "the fixed fleet, settled")
    await pilot.pause()


def test_main_screen(snap_compare: Any, tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    assert snap_compare(_app(tmp_path, seeded_sandbox), terminal_size=SIZE, run_before=_fleet_settled)


def test_details_screen(snap_compare: Any, tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    async def open_details(pilot: Pilot[Any]) -> None:
        await _fleet_settled(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DetailsScreen), "the details screen")
        screen = pilot.app.screen
        assert isinstance(screen, DetailsScreen)
        await wait_for(pilot, lambda: screen.loads >= 1, "details loaded")
        await pilot.pause()

    assert snap_compare(_app(tmp_path, seeded_sandbox), terminal_size=SIZE, run_before=open_details)
