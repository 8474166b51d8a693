"""Metrics on the sandbox with the reference server: the rates and quantiles match the calls we sent,
a restarted container gives no negative rate, a pod that goes away leaves the sum."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from mcp import Client

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe import MetricsWatcher
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.observe.support import (
    create,
    new_namespace,
    pod_url,
    ready_pods,
    server_deployment,
    wait_until,
)
from tests.observe.test_logs_cli import aksmcp, env_for

pytestmark = pytest.mark.timeout(180)


async def call(url: str, tool: str, arguments: dict[str, object], times: int) -> list[bool]:
    """`times` calls of one tool with the official SDK client; the is_error of each."""
    outcomes = []
    async with Client(url + "/mcp") as client:
        for _ in range(times):
            result = await client.call_tool(tool, arguments)
            outcomes.append(bool(result.is_error))
    return outcomes


async def test_rates_quantiles_restart_and_leaving_pod(
    kube: KubeContext, sandbox_session: ThreadedSandbox, tmp_path: Path
) -> None:
    kubeconfig = sandbox_session.kubeconfig_path
    ns = await new_namespace(kube)
    await create(kube, ns, server_deployment("mcp", tmp_path, replicas=2))
    pods = await wait_until(lambda: _n_ready(kube, ns, 2), within=90, what="two ready server pods")
    a, b = (p["metadata"]["name"] for p in pods)
    url_a, url_b = await pod_url(kube, ns, a), await pod_url(kube, ns, b)
    watcher = MetricsWatcher(kube, ns, "deploy/mcp")  # through the forward engine (open_tunnel)
    try:
        first = await watcher.scrape_round()
        assert [p.pod for p in first.pods] == [a, b] and first.total is None  # no rate from one scrape
        assert all(p.known and not p.error for p in first.pods)

        fast = await call(url_a, "system_info", {}, 10) + await call(url_b, "system_info", {}, 6)
        bad = await call(url_a, "file_operation", {"operation": "read", "path": "../outside"}, 4)
        slow = await call(url_b, "slow_operation", {"seconds": 0.3}, 3)
        assert fast.count(True) == 0 and bad == [True] * 4 and slow == [False] * 3

        second = await watcher.scrape_round()
        total = second.total
        assert total is not None
        tools = total.tools
        assert tools["system_info"].calls == 16 and tools["system_info"].errors == 0
        assert tools["file_operation"].calls == 4 and tools["file_operation"].error_ratio == 1.0
        assert tools["slow_operation"].calls == 3
        assert 0.25 < (tools["slow_operation"].quantile(0.5) or 0) <= 0.5
        assert (tools["system_info"].quantile(0.99) or 1) < 0.25
        window = total.seconds
        assert tools["system_info"].calls_per_s == pytest.approx(16 / window, rel=0.35)
        per_pod = {p.pod: p.window for p in second.pods}
        assert per_pod[a] is not None and per_pod[a].tools["system_info"].calls == 10
        assert per_pod[b] is not None and per_pod[b].tools["system_info"].calls == 6
        assert total.rss_bytes and total.rss_bytes > 10 * 1024 * 1024 and total.cpu_cores is not None

        # restart pod a's container: its counters start from zero again
        pid = int(
            (await kube.get(f"/api/v1/namespaces/{ns}/pods/{a}"))["metadata"]["annotations"][
                "sandbox.aksmcp.dev/pid-server"
            ]
        )
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: _restarted(kube, ns, a), within=60, what="pod a to restart and be ready")
        await call(await pod_url(kube, ns, a), "system_info", {}, 2)
        third = await watcher.scrape_round()
        after = {p.pod: p.window for p in third.pods}
        assert after[a] is not None and after[a].tools["system_info"].calls == 2
        for pod_window in after.values():
            assert pod_window is not None
            assert all(t.calls >= 0 and t.calls_per_s >= 0 for t in pod_window.tools.values())
            assert all(c >= 0 for t in pod_window.tools.values() for _, c in t.bucket_increase)
            assert (pod_window.cpu_cores or 0) >= 0

        # pod b goes away: the next round sums pod a only
        await kube.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{ns}/deployments/mcp",
            body={"spec": {"replicas": 1}},
            content_type="application/merge-patch+json",
        )
        await wait_until(lambda: _n_ready(kube, ns, 1), within=60, what="one pod left")
        remaining = (await ready_pods(kube, ns, "mcp"))[0]["metadata"]["name"]
        await call(await pod_url(kube, ns, remaining), "system_info", {}, 3)
        fourth = await watcher.scrape_round()
        assert [p.pod for p in fourth.pods] == [remaining]
        assert fourth.total is not None and fourth.total.tools["system_info"].calls == 3
        doc = fourth.to_json()
        assert doc["total"]["tools"][-1]["tool"] == "unknown" and doc["pods"][0]["pod"] == remaining
    finally:
        await watcher.close()

    # the CLI prints the same rounds
    env = env_for(tmp_path)
    common = ["-n", ns, "--kubeconfig", str(kubeconfig), "--context", "aksmcp-sandbox", "--interval", "0.5"]
    code, out, err = await aksmcp("metrics", "deploy/mcp", *common, "-o", "json", env=env)
    assert code == 0, err
    printed = json.loads(out)
    assert printed["round"] == 2 and [p["pod"] for p in printed["pods"]] == [remaining]
    assert {t["tool"] for t in printed["total"]["tools"]} >= {"system_info", "file_operation", "slow_operation"}
    code, out, err = await aksmcp("metrics", "mcp", *common, env=env)
    assert code == 0 and "TOOL" in out and "system_info" in out and "(all pods)" in out, err
    code, _, err = await aksmcp("metrics", "deploy/nothing", *common, env=env)
    assert code == 1 and "not found" in err


async def _n_ready(kube: KubeContext, ns: str, n: int) -> list[dict[str, object]] | None:
    pods = await ready_pods(kube, ns, "mcp")
    all_pods = await kube.get(f"/api/v1/namespaces/{ns}/pods", labelSelector="app=mcp")
    return pods if len(pods) == n and len(all_pods["items"]) == n else None


async def _restarted(kube: KubeContext, ns: str, pod: str) -> bool:
    obj = await kube.get(f"/api/v1/namespaces/{ns}/pods/{pod}")
    statuses = obj["status"].get("containerStatuses") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions") or [])
    return ready and any(s.get("restartCount", 0) >= 1 for s in statuses)
