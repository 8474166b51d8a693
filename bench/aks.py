"""Benchmark: the Azure branch at scale. Prints a table and saves bench/results/aks.json.

    .venv/bin/python bench/aks.py [--subscriptions 20] [--clusters 25] [--page 50] [--runs 5]

Against the local fake ARM of the tests (HTTPS on 127.0.0.1, tests/azure_cloud/fake_arm.py) with the
real SDK clients and the real DefaultAzureCredential (managed identity from the fake's endpoint):
- cold listing: a new AzureSession (credential, token, subscriptions, tenants, every cluster page of
  every subscription), median over runs;
- warm listing: the same session again within the cache time;
- tree: the Azure branch rendered with every cluster in a headless dashboard, and one filter keystroke
  (key press → branch re-rendered → frame drawn), median.
The issue asks for "hundreds of clusters, no cap" and gives no time goal; these figures are for
watching trends. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "aks.json"
sys.path.insert(0, str(ROOT))


def _environment(fake: Any, home: Path) -> None:
    from tests.azure_cloud.fake_arm import IDENTITY_HEADER

    os.environ.update(
        {
            "HOME": str(home),
            "AKSMCP_ARM_ENDPOINT": fake.url,
            "AKSMCP_ACR_ENDPOINT": fake.acr_endpoint,
            "SSL_CERT_FILE": str(fake.ca.ca_file),
            "REQUESTS_CA_BUNDLE": str(fake.ca.ca_file),
            "IDENTITY_ENDPOINT": fake.identity_endpoint,
            "IDENTITY_HEADER": IDENTITY_HEADER,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9",  # never 169.254.169.254
            "NO_PROXY": "127.0.0.1,localhost",
            "TEXTUAL_ANIMATIONS": "none",
        }
    )
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLOUD", "KUBECONFIG"):
        os.environ.pop(var, None)


def _seed(fake: Any, subscriptions: int, clusters: int, page: int) -> None:
    from tests.azure_cloud.fake_arm import FakeCluster

    state = fake.reset()
    state.page_size = page
    for s in range(subscriptions):
        sub = f"{s:08d}-0000-0000-0000-000000000000"
        fake.add_subscription(sub, f"sub-{s:02d}")
        for c in range(clusters):
            state.clusters.append(FakeCluster(sub, f"rg-{c % 5}", f"aks-{s:02d}-{c:03d}", entra=c % 3 == 0))


async def _listing(runs: int) -> tuple[list[float], list[float], int]:
    from aksmcp_tui.core.azure import AzureSession

    cold, warm = [], []
    count = 0
    for _ in range(runs):
        async with AzureSession() as session:
            start = time.perf_counter()
            listing = await session.list_clusters()
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            await session.list_clusters()
            warm.append(time.perf_counter() - start)
            count = len(listing.clusters)
    return cold, warm, count


async def _tree(kubeconfig: Path, keystrokes: int) -> tuple[float, list[float], int]:
    from aksmcp_tui.ui.app import make_app
    from aksmcp_tui.ui.widgets.cluster_tree import ClusterTree

    app = make_app(kubeconfig=str(kubeconfig))
    async with app.run_test(size=(140, 44)) as pilot:
        tree = app.screen.query_one(ClusterTree)
        await pilot.press("t")
        branch = tree._azure_branch
        assert branch is not None
        tree.move_cursor(branch.children[0])
        start = time.perf_counter()
        await pilot.press("enter")
        while tree.azure_loads < 1:
            await pilot.pause(0.005)
        await pilot.pause()
        shown_all = time.perf_counter() - start
        total = len(tree.azure_cluster_nodes)
        await pilot.press("slash")
        times = []
        for index in range(keystrokes):
            key, expected = ("0", "0") if index % 2 == 0 else ("backspace", "")
            start = time.perf_counter()
            await pilot.press(key)
            while tree.azure_filter != expected:
                await pilot.pause(0.001)
            await pilot.pause()  # the frame with the re-rendered branch
            times.append(time.perf_counter() - start)
        return shown_all, times, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=25, help="clusters per subscription")
    parser.add_argument("--page", type=int, default=50, help="page size of the fake's nextLink paging")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from tests.azure_cloud.fake_arm import FakeAzure

    with tempfile.TemporaryDirectory() as tmp, FakeAzure(Path(tmp)) as fake:
        _environment(fake, Path(tmp))
        _seed(fake, args.subscriptions, args.clusters, args.page)
        cold, warm, count = asyncio.run(_listing(args.runs))
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n")
        requests = len(fake.log)
        shown_all, keystrokes, rendered = asyncio.run(_tree(kubeconfig, 6))

    figures = {
        "clusters": count,
        "subscriptions": args.subscriptions,
        "page_size": args.page,
        "arm_requests_for_all_runs": requests,
        "list_cold_median_s": round(statistics.median(cold), 3),
        "list_warm_median_s": round(statistics.median(warm), 5),
        "tree_rendered_clusters": rendered,
        "tree_open_to_all_shown_s": round(shown_all, 3),
        "tree_filter_keystroke_median_s": round(statistics.median(keystrokes), 3),
    }
    width = max(len(k) for k in figures)
    print("Azure branch benchmark (fake ARM over HTTPS on 127.0.0.1, real SDK + DefaultAzureCredential)")
    for key, value in figures.items():
        print(f"  {key.ljust(width)}  {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "figures": figures,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
