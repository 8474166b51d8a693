"""Scrape /metrics of every pod of a deployment, round after round, and report rates per pod and summed.

Each pod is reached through the forward engine (a short-lived tunnel per scrape: one engine, no
second way into the cluster), so this works wherever `aksmcp forward` works, RBAC included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.observe.logs import LogTarget, parse_target, pod_query
from aksmcp_tui.core.observe.metrics_aggregate import RateWindow, pod_window, sum_windows
from aksmcp_tui.core.observe.metrics_parse import PodScrape, parse_scrape

SCRAPE_TIMEOUT = 5.0
MAX_BODY = 8 * 1024 * 1024  # a runaway exposition must not eat the dashboard's memory

# pod name → base URL ("http://127.0.0.1:PORT") that reaches the pod's metrics port while open
PodOpener = Callable[[str], AbstractAsyncContextManager[str]]


def forward_opener(kube: KubeContext, namespace: str) -> PodOpener:
    """Tunnels from the forward engine (issue 7's `open_tunnel`): the port named "mcp", else the first."""

    @contextlib.asynccontextmanager
    async def open_pod(pod: str) -> AsyncIterator[str]:
        from aksmcp_tui.core.forward import ForwardError, open_tunnel

        try:
            async with open_tunnel(kube, namespace, f"pod/{pod}", None) as tunnel:
                yield tunnel.local_url
        except ForwardError as error:  # no such port, pod not running: a scrape error, shown per pod
            raise ScrapeError(str(error)) from None

    return open_pod


@dataclass
class PodMetrics:
    pod: str
    window: RateWindow | None  # None on the first scrape of a pod (no rate yet) or when it failed
    error: str | None = None
    known: bool = False  # aksmcp-server metric names seen

    def to_json(self) -> dict[str, Any]:
        return {"pod": self.pod, "error": self.error, **(self.window.to_json() if self.window else {})}


@dataclass
class MetricsSnapshot:
    at: float  # wall-clock time of the round
    round: int
    pods: list[PodMetrics] = field(default_factory=list)
    total: RateWindow | None = None
    problem: str | None = None  # the pod list itself failed (the round has no pods)

    @property
    def errors(self) -> dict[str, str]:
        return {p.pod: p.error for p in self.pods if p.error}

    @property
    def known(self) -> bool:
        return any(p.known for p in self.pods)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "round": self.round,
            "problem": self.problem,
            "total": self.total.to_json() if self.total else None,
            "pods": [p.to_json() for p in self.pods],
        }


@dataclass
class _Seen:
    scrape: PodScrape
    at: float
    text: str = ""


class MetricsWatcher:
    """Round after round: list the target's running pods, scrape each, compute windows since the last round."""

    def __init__(
        self,
        kube: KubeContext,
        namespace: str,
        target: str | LogTarget,
        *,
        interval: float = 2.0,
        opener: PodOpener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.target = parse_target(target) if isinstance(target, str) else target
        self.interval = interval
        self.opener = opener or forward_opener(kube, namespace)
        self.clock = clock
        self.rounds = 0
        self._last: dict[str, _Seen] = {}
        self._texts: dict[str, str] = {}  # this round's text per pod (kept with the scrape it gave)
        self._query: dict[str, str] | None = None

    async def close(self) -> None:
        """Nothing is held between rounds (kept for callers that manage a watcher's lifetime)."""

    async def running_pods(self) -> list[str]:
        if self._query is None:
            self._query = await pod_query(self.kube, self.namespace, self.target)
        listing = await self.kube.get(f"/api/v1/namespaces/{self.namespace}/pods", **self._query)
        names = []
        for pod in (listing or {}).get("items") or []:
            meta = pod.get("metadata") or {}
            if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
                continue
            names.append(str(meta.get("name")))
        return sorted(names)

    async def scrape_text(self, pod: str, http: aiohttp.ClientSession) -> str:
        async with self.opener(pod) as base_url, http.get(base_url.rstrip("/") + "/metrics") as response:
            if response.status != 200:
                raise ScrapeError(f"/metrics answered HTTP {response.status}")
            body = await response.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ScrapeError("/metrics is larger than 8 MiB")
            return body.decode("utf-8", "replace")

    async def _scrape_pod(
        self, pod: str, http: aiohttp.ClientSession
    ) -> tuple[str, PodScrape | None, float, str | None]:
        try:
            text = await self.scrape_text(pod, http)
            at = self.clock()
            seen = self._last.get(pod)
            if seen is not None and seen.text == text:
                return pod, seen.scrape, at, None  # an idle pod: same text, same numbers, no parse
            scrape = parse_scrape(text)
            self._texts[pod] = text
            return pod, scrape, at, None
        except KubeProblem as problem:
            return pod, None, 0.0, problem.message
        except ScrapeError as error:
            return pod, None, 0.0, str(error)
        except ValueError as error:
            return pod, None, 0.0, f"/metrics is not Prometheus text: {error}"
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return pod, None, 0.0, f"scrape failed: {type(error).__name__} {error}".strip()

    async def scrape_round(self) -> MetricsSnapshot:
        self.rounds += 1
        snapshot = MetricsSnapshot(at=time.time(), round=self.rounds)
        try:
            pods = await self.running_pods()
        except KubeProblem as problem:
            snapshot.problem = problem.message
            return snapshot
        # a session per round: nothing stays open between rounds, whoever stops the watcher and how
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)) as http:
            results = await asyncio.gather(*(self._scrape_pod(p, http) for p in pods))
        windows = []
        for pod, scrape, at, error in results:
            if scrape is None:
                snapshot.pods.append(PodMetrics(pod, None, error))
                continue
            seen = self._last.get(pod)
            window = pod_window(seen.scrape, scrape, at - seen.at) if seen is not None else None
            self._last[pod] = _Seen(scrape, at, self._texts.pop(pod, seen.text if seen is not None else ""))
            snapshot.pods.append(PodMetrics(pod, window, None, scrape.known))
            if window is not None:
                windows.append(window)
        for gone in set(self._last) - set(pods):
            del self._last[gone]  # a vanished pod leaves the sum (and a new pod of that name starts afresh)
        snapshot.total = sum_windows(windows) if windows else None
        return snapshot

    async def snapshots(self) -> AsyncIterator[MetricsSnapshot]:
        """A round now, then one every `interval` seconds (measured start to start)."""
        try:
            while True:
                started = self.clock()
                yield await self.scrape_round()
                await asyncio.sleep(max(0.0, self.interval - (self.clock() - started)))
        finally:
            await self.close()


class ScrapeError(Exception):
    pass
