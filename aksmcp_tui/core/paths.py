"""Where aksmcp keeps configuration and state (XDG base directories).

Only path arithmetic lives here: nothing is created or read, so callers decide when touching the
disk is worth it.
"""

from __future__ import annotations

import os
from pathlib import Path

SANDBOX_CONTEXT = "aksmcp-sandbox"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    """`${XDG_CONFIG_HOME:-~/.config}/aksmcp`."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "aksmcp"


def state_dir() -> Path:
    """`${XDG_STATE_HOME:-~/.local/state}/aksmcp`."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "aksmcp"


def sandbox_kubeconfig_path() -> Path:
    """The kubeconfig the sandbox daemon writes while it runs (the file may not exist)."""
    return state_dir() / "sandbox" / "kubeconfig"


def default_kubeconfig_path() -> Path:
    """kubectl's default when $KUBECONFIG is unset."""
    return Path.home() / ".kube" / "config"
