"""IDE and agent connect: write each MCP client's own config entry for an endpoint, and keep it current.

- `CLIENTS` / `WRITERS`: one writer per client (clients/), each knowing its files, format and secrets.
- `parse_target`, `resolve` (forward + key), `plan` (the change and its diff), `commit` (atomic write,
  one backup per run, record), `plan_remove`/`remove`, `plan_refresh`, `entry_state`.
- `refresh_entries_for_forward(old_local_url, new_local_url)` (the contract) and
  `refresh_entries_for_target(context, namespace, target, new_local_url)`: the forward daemon's hooks.
"""

from __future__ import annotations

from aksmcp_tui.core.ide.clients import CLIENTS, WRITERS
from aksmcp_tui.core.ide.connect import (
    PlannedChange,
    Resolved,
    commit,
    entry_state,
    parse_target,
    plan,
    plan_refresh,
    plan_remove,
    refresh_entries_for_forward,
    refresh_entries_for_target,
    remove,
    resolve,
)
from aksmcp_tui.core.ide.files import Backups, IdeError
from aksmcp_tui.core.ide.model import SCOPES, EntrySpec, Scope
from aksmcp_tui.core.ide.record import RecordedEntry, Target

__all__ = [
    "CLIENTS",
    "SCOPES",
    "WRITERS",
    "Backups",
    "EntrySpec",
    "IdeError",
    "PlannedChange",
    "RecordedEntry",
    "Resolved",
    "Scope",
    "Target",
    "commit",
    "entry_state",
    "parse_target",
    "plan",
    "plan_refresh",
    "plan_remove",
    "refresh_entries_for_forward",
    "refresh_entries_for_target",
    "remove",
    "resolve",
]
