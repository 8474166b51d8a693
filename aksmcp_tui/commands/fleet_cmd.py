"""`aksmcp clusters` and `aksmcp ls` (owned by the dashboard/core work)."""

from __future__ import annotations

from typing import Any


def register(subcommands: Any) -> None:
    return None
