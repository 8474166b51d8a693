"""Local cluster that serves the Kubernetes REST API; pods are local processes.

Imports nothing from aksmcp_tui.core (and core imports nothing from here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aksmcp_tui.sandbox.cluster import SandboxCluster

__all__ = ["SandboxCluster"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import aksmcp_tui.sandbox.daemon` (used by the CLI) stays light.
    if name == "SandboxCluster":
        from aksmcp_tui.sandbox.cluster import SandboxCluster

        return SandboxCluster
    raise AttributeError(name)
