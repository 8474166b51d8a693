"""What a generator hands back: the staged file changes, plus what the user must read (next steps,
warnings). The CLI prints it; the dashboard shows it; nothing is written until `changes.apply()`."""

from __future__ import annotations

from dataclasses import dataclass, field

from aksmcp_tui.core.components.changes import ChangeSet


@dataclass
class GeneratorResult:
    command: str  # the command line that produced it, for messages ("aksmcp tls enable ...")
    changes: ChangeSet
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
