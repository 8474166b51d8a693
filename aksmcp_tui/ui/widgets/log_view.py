"""A virtual log view: a ring buffer of lines, only the visible rows rendered, updates batched per frame.

Why not Textual's `Log`/`RichLog`: they keep every line as a string or renderable and measure widths
per write; under a flood the UI spends its time there (the `Log` widget managed about 13,400 lines/s
here). This view stores `LogLine`s in a `RingBuffer` (bounded memory), keeps a list of the rows that
pass the filters (absolute buffer indexes), and renders a row only when it is on screen, from an LRU
cache of strips. New lines are queued and taken in once per frame (`FRAME_SECONDS`), so a flood costs
one refresh per frame, not one per line.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from aksmcp_tui.core.observe.correlate import line_fields
from aksmcp_tui.core.observe.logs_model import LogLine
from aksmcp_tui.core.observe.ringbuffer import RingBuffer

FRAME_SECONDS = 1 / 30
DEFAULT_CAPACITY = 100_000
POD_COLOURS = ("cyan", "green", "yellow", "magenta", "blue", "bright_cyan", "bright_green", "bright_magenta")
LEVEL_STYLES = {
    "debug": Style(dim=True),
    "info": Style(color="green"),
    "warning": Style(color="yellow", bold=True),
    "warn": Style(color="yellow", bold=True),
    "error": Style(color="red", bold=True),
    "critical": Style(color="red", bold=True, reverse=True),
}
MESSAGE_KEYS = ("msg", "message")
LEVEL_KEYS = ("level", "severity", "lvl")
HIDDEN_KEYS = frozenset({"ts", "time", "timestamp", *MESSAGE_KEYS, *LEVEL_KEYS})
HIGHLIGHT = Style(bgcolor="yellow", color="black")
CURRENT = Style(bgcolor="dark_orange3", color="black", bold=True)
FOLDED = Style(dim=True)


@dataclass
class LogFilter:
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    tool: str | None = None
    request: str | None = None  # any of the ids a line carries (correlation, HTTP request, JSON-RPC)

    @property
    def active(self) -> bool:
        return any((self.include, self.exclude, self.tool, self.request))

    def accepts(self, line: LogLine) -> bool:
        text = line.text
        if self.include is not None and not self.include.search(text):
            return False
        if self.exclude is not None and self.exclude.search(text):
            return False
        if self.tool is not None or self.request is not None:
            from aksmcp_tui.core.observe.correlate import fields_match

            return fields_match(line_fields(text), tool=self.tool, request_id=self.request)
        return True

    def describe(self) -> str:
        parts = []
        if self.include is not None:
            parts.append(f"+/{self.include.pattern}/")
        if self.exclude is not None:
            parts.append(f"-/{self.exclude.pattern}/")
        if self.tool is not None:
            parts.append(f"tool={self.tool}")
        if self.request is not None:
            parts.append(f"request={self.request}")
        return " ".join(parts)


class LogView(ScrollView, can_focus=True):
    """Rows = lines of the buffer that pass the filter. Row r is buffer index `rows[r]` (or
    `buffer.first + r` when nothing filters)."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """

    class Changed(Message):
        """Lines were taken in, the filter changed or the view moved (the status line listens)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buffer: RingBuffer[LogLine] = RingBuffer(capacity)
        self.filter = LogFilter()
        self.highlight: re.Pattern[str] | None = None
        self.search: re.Pattern[str] | None = None
        self.current_row: int | None = None  # the search hit shown
        self.wrap = False
        self.json_fields = True
        self.following = True
        self.show_container = False
        self._rows: list[int] = []
        self._row0 = 0  # rows[:_row0] fell out of the buffer (trimmed lazily)
        self._pending: list[LogLine] = []
        self._width = 0  # widest row seen, for horizontal scrolling
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(2048)
        self._generation = 0
        self._pod_styles: dict[str, Style] = {}
        self.ingested = 0  # lines taken in (bench and tests)
        self.frames = 0  # flushes that changed something
        self.rendered_rows = 0  # rows rendered to strips (bench: proves only visible rows are drawn)
        self.unseen = 0  # lines that arrived while paused
        self._flush_scheduled = False
        self._wrap_key: tuple[Any, ...] | None = None
        self._wrap_rows: list[Strip] = []

    # -- feeding ----------------------------------------------------------------------------------
    def add_lines(self, lines: Iterable[LogLine]) -> None:
        """Queue lines; they appear at the next frame (one timer per frame, none while idle)."""
        self._pending.extend(lines)
        if not self._flush_scheduled and self.is_mounted:
            self._flush_scheduled = True
            self.set_timer(FRAME_SECONDS, self._frame)

    def _frame(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Take queued lines into the buffer and refresh once (runs every frame)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        buffer = self.buffer
        # paused: the view stays on the lines it shows while the oldest ones fall out of the buffer
        top = None if self.following else self.row_index(int(self.scroll_y))
        hit = None if self.current_row is None else self.row_index(self.current_row)
        buffer.extend(pending)  # a frame bigger than the buffer keeps its newest lines (counted as dropped)
        start = buffer.end - len(pending)  # absolute index of pending[0]
        self.ingested += len(pending)
        if self.filter.active:
            accepts = self.filter.accepts
            first = buffer.first
            self._rows.extend(i for i in range(max(start, first), buffer.end) if accepts(buffer[i]))
            self._trim_rows()
        # widths of a sample are enough for the horizontal scrollbar; rendering crops each row anyway
        tail = pending[-200:]
        widest = max(map(_line_width, tail)) + max(len(line.pod) + len(line.container) + 2 for line in tail)
        if widest > self._width:
            self._width = widest
        if not self.following:
            self.unseen += len(pending)
        if hit is not None:
            self.current_row = self.row_of(hit)
        self.frames += 1
        self._update_size()
        if top is not None:
            self.scroll_to(y=self.row_of(top) or 0, animate=False, immediate=True)
        self.post_message(self.Changed())

    # -- rows -------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        if self.filter.active:
            return len(self._rows) - self._row0
        return len(self.buffer)

    def row_index(self, row: int) -> int | None:
        """Buffer index of a row (None if out of range)."""
        if self.filter.active:
            i = self._row0 + row
            return self._rows[i] if row >= 0 and i < len(self._rows) else None
        return self.buffer.first + row if 0 <= row < len(self.buffer) else None

    def row_of(self, index: int) -> int | None:
        """The row showing buffer index `index` (None once it left the buffer or the filter)."""
        if index < self.buffer.first:
            return None
        if not self.filter.active:
            return index - self.buffer.first if index < self.buffer.end else None
        i = bisect_left(self._rows, index, self._row0)
        return i - self._row0 if i < len(self._rows) and self._rows[i] == index else None

    def row_line(self, row: int) -> LogLine | None:
        index = self.row_index(row)
        return None if index is None else self.buffer.get(index)

    def _trim_rows(self) -> None:
        first = self.buffer.first
        rows = self._rows
        i = self._row0
        while i < len(rows) and rows[i] < first:
            i += 1
        self._row0 = i
        if i > 4096 and i > len(rows) // 2:
            del rows[:i]
            self._row0 = 0

    def set_filter(self, new: LogFilter) -> None:
        """Re-filter the whole buffer (up to its capacity: a bounded cost, once per change)."""
        self.filter = new
        self._rows = []
        self._row0 = 0
        if new.active:
            accepts = new.accepts
            self._rows = [i for i in range(self.buffer.first, self.buffer.end) if accepts(self.buffer[i])]
        self.current_row = None
        self._invalidate()

    def lines(self) -> list[LogLine]:
        """The lines that pass the filter, oldest first (save, tests)."""
        return [line for r in range(self.row_count) if (line := self.row_line(r)) is not None]

    # -- settings ---------------------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._update_size()
        self.post_message(self.Changed())

    def set_highlight(self, pattern: re.Pattern[str] | None) -> None:
        self.highlight = pattern
        self._invalidate()

    def set_wrap(self, wrap: bool) -> None:
        self.wrap = wrap
        self._invalidate()

    def set_json_fields(self, on: bool) -> None:
        self.json_fields = on
        self._invalidate()

    def set_capacity(self, capacity: int) -> None:
        self.buffer.resize(capacity)
        self.set_filter(self.filter)

    def clear(self) -> None:
        self.buffer.clear()
        self._rows = []
        self._row0 = 0
        self._pending = []
        self.unseen = 0
        self.current_row = None
        self._width = 0
        self._invalidate()

    def set_following(self, following: bool) -> None:
        self.following = following
        if following:
            self.unseen = 0
            self.scroll_end(animate=False, immediate=True)
        self.post_message(self.Changed())

    # -- search -----------------------------------------------------------------------------------
    def find(self, pattern: re.Pattern[str], *, forward: bool = True) -> int | None:
        """Move to the next (or previous) row matching `pattern` from the current hit (or the view)."""
        self.search = pattern
        count = self.row_count
        if count == 0:
            return None
        here = self.current_row if self.current_row is not None else int(self.scroll_y) - (1 if forward else -1)
        step = 1 if forward else -1
        row = here + step
        for _ in range(count):
            if not 0 <= row < count:
                row = 0 if forward else count - 1
            line = self.row_line(row)
            if line is not None and pattern.search(line.text):
                self.current_row = row
                self.set_following(False)
                self.scroll_to(y=max(0, row - self.size.height // 2), animate=False, immediate=True)
                self._invalidate()
                return row
            row += step
        return None

    # -- rendering --------------------------------------------------------------------------------
    def _update_size(self) -> None:
        self.virtual_size = Size(self.size.width if self.wrap else max(self._width, 1), self.row_count)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _pod_style(self, pod: str) -> Style:
        style = self._pod_styles.get(pod)
        if style is None:
            style = Style(color=POD_COLOURS[len(self._pod_styles) % len(POD_COLOURS)])
            self._pod_styles[pod] = style
        return style

    def line_strip(self, row: int) -> Strip:
        """One row, uncropped (cached per row until a setting changes)."""
        index = self.row_index(row)
        key = (index if index is not None else -1, self._generation * 2 + (row == self.current_row))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        line = self.buffer.get(index) if index is not None else None
        if line is None:
            return Strip.blank(0)
        self.rendered_rows += 1
        segments = [Segment(line.pod, self._pod_style(line.pod))]
        if self.show_container:
            segments.append(Segment(f" {line.container}", FOLDED))
        segments.append(Segment(" "))
        segments.extend(self._body(line.text, current=row == self.current_row))
        strip = Strip(segments)
        self._cache[key] = strip
        return strip

    def _body(self, text: str, *, current: bool) -> list[Segment]:
        fields = line_fields(text) if self.json_fields else None
        if fields is not None:
            level = next((str(fields[k]) for k in LEVEL_KEYS if k in fields), "")
            message = next((str(fields[k]) for k in MESSAGE_KEYS if k in fields), "")
            rest = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if k not in HIDDEN_KEYS)
            out = []
            if level:
                out.append(Segment(f"{level.upper():<5} ", LEVEL_STYLES.get(level.lower(), Style())))
            out.extend(self._marked(message, current))
            if rest:
                out.append(Segment("  " + rest, FOLDED))
            return out
        return self._marked(text, current)

    def _marked(self, text: str, current: bool) -> list[Segment]:
        pattern = self.search if current else self.highlight
        style = CURRENT if current else HIGHLIGHT
        if pattern is None:
            return [Segment(text)]
        out: list[Segment] = []
        last = 0
        for match in pattern.finditer(text):
            if match.end() == match.start():
                continue
            if match.start() > last:
                out.append(Segment(text[last : match.start()]))
            out.append(Segment(match.group(), style))
            last = match.end()
        if last < len(text):
            out.append(Segment(text[last:]))
        return out or [Segment(text, style if current else Style())]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.wrap:
            rows = self._wrapped_rows(width)
            strip = rows[y] if y < len(rows) else Strip.blank(width)
            return strip.extend_cell_length(width)
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        if row >= self.row_count:
            return Strip.blank(width)
        return self.line_strip(row).crop_extend(scroll_x, scroll_x + width, None)

    def _wrapped_rows(self, width: int) -> list[Strip]:
        """The screen's rows in wrap mode: from the top row down, or (following) from the last row up,
        so the newest line is always whole at the bottom."""
        key = (self.scroll_offset.y, width, self.size.height, self.row_count, self._generation, self.following)
        if self._wrap_key == key:
            return self._wrap_rows
        height = self.size.height
        out: list[Strip] = []
        if self.following:
            row = self.row_count - 1
            while row >= 0 and len(out) < height:
                out[:0] = _wrap(self.line_strip(row), width)
                row -= 1
            out = out[-height:] if len(out) > height else out
        else:
            row = int(self.scroll_y)
            while row < self.row_count and len(out) < height:
                out.extend(_wrap(self.line_strip(row), width))
                row += 1
        self._wrap_key = key
        self._wrap_rows = out
        return out


def _wrap(strip: Strip, width: int) -> list[Strip]:
    length = strip.cell_length
    if width <= 0 or length <= width:
        return [strip]
    return list(strip.divide([*range(width, length, width), length]))


def _line_width(line: LogLine) -> int:
    return cell_len(line.text) if not line.text.isascii() else len(line.text)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "…"
