"""Open cluster connections, one per target, shared by the fleet watch and the details screen."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aksmcp_tui.ui.targets import ClusterTarget

if TYPE_CHECKING:
    from aksmcp_tui.core.kube import KubeContext


class KubePool:
    def __init__(self) -> None:
        self._open: dict[tuple[str, str | None], KubeContext] = {}
        self._lock = asyncio.Lock()

    async def get(self, target: ClusterTarget) -> KubeContext:
        from aksmcp_tui.core.kube import KubeContext

        async with self._lock:
            kube = self._open.get(target.key)
            if kube is None:
                kube = await KubeContext.open(target.context, target.kubeconfig)
                self._open[target.key] = kube
            return kube

    async def forget(self, target: ClusterTarget) -> None:
        """Drop a connection so the next `get` reads the kubeconfig and credentials afresh (retry)."""
        async with self._lock:
            kube = self._open.pop(target.key, None)
        if kube is not None:
            await _close_quietly(kube)

    async def close_all(self) -> None:
        async with self._lock:
            kubes = list(self._open.values())
            self._open.clear()
        for kube in kubes:
            await _close_quietly(kube)


async def _close_quietly(kube: KubeContext) -> None:
    try:
        await kube.close()
    except Exception:  # closing a broken connection must not take the UI down
        pass
