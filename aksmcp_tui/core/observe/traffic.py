"""calls/s and error ratio of every deployment that has a managed forward, for the fleet table.

Only forwarded deployments are scraped (the user is working with those, and a whole cluster's worth
of tunnels every few seconds would cost more than the column is worth). Each keeps a MetricsWatcher,
so rates come from consecutive rounds of every pod (a forward's own port would land on one pod at a
time and mix counters of different processes).
"""

from __future__ import annotations

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe.metrics import MetricsWatcher

TrafficKey = tuple[str, str]  # (namespace, deployment name)


class ForwardedTraffic:
    def __init__(self, kube: KubeContext, context: str) -> None:
        self.kube = kube
        self.context = context
        self.watchers: dict[TrafficKey, MetricsWatcher] = {}

    async def forwarded(self) -> set[TrafficKey]:
        """Deployments of this context with a managed forward (none when no forward daemon runs)."""
        from aksmcp_tui.core.forward.control import list_forwards

        try:
            forwards = await list_forwards()
        except Exception:  # no daemon, or an old one: no forwards to show, never an error in the table
            return set()
        found = set()
        for forward in forwards:
            kind, _, name = forward.target.partition("/")
            if forward.context == self.context and kind in ("deploy", "deployment") and name:
                found.add((forward.namespace, name))
        return found

    async def round(self) -> dict[TrafficKey, tuple[float, float | None]]:
        wanted = await self.forwarded()
        for key in set(self.watchers) - wanted:
            await self.watchers.pop(key).close()
        out: dict[TrafficKey, tuple[float, float | None]] = {}
        for key in sorted(wanted):
            watcher = self.watchers.get(key)
            if watcher is None:
                watcher = self.watchers[key] = MetricsWatcher(self.kube, key[0], f"deploy/{key[1]}")
            snapshot = await watcher.scrape_round()
            if snapshot.total is not None:
                out[key] = (snapshot.total.calls_per_s, snapshot.total.error_ratio)
        return out

    async def close(self) -> None:
        for watcher in self.watchers.values():
            await watcher.close()
        self.watchers.clear()
