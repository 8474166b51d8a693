"""One generator-owned section of the project README, between markers, replaced in place on re-runs."""

from __future__ import annotations

from aksmcp_tui.core.components.changes import ChangeSet

README = "README.md"


def set_readme_section(changes: ChangeSet, key: str, body: str) -> None:
    begin, end = f"<!-- aksmcp:{key} -->", f"<!-- /aksmcp:{key} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = changes.read(README) or ""
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        updated = head + block.rstrip("\n") + tail
    else:
        updated = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    changes.write(README, updated)
