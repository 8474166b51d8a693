"""Resuming a log stream without losing or repeating a line.

The kubelet stamps each line; after a drop we ask again with `sinceTime`. Two facts make naive
"skip what is <= the last timestamp" wrong:
- several lines can share one timestamp (a burst inside one clock tick), so skipping by timestamp
  loses the ones after the drop, and keeping them repeats the ones before it;
- the real API server passes sinceTime on at *second* precision (metav1.Time), while others (the
  sandbox) honour nanoseconds. So the replay starts anywhere from the start of that second.

So we always ask from the start of the second of the last line seen, and remember how many lines we
emitted for each exact timestamp in that second. A replayed line is skipped while its timestamp
still has uncounted emissions; the log is an append-only file read in order, so the k-th replayed
line with timestamp T is the k-th line we saw with T. Memory: one counter per distinct timestamp in
the newest second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aksmcp_tui.core.observe.logs_model import format_since_time

NS = 1_000_000_000


@dataclass
class ResumeCursor:
    last_ns: int | None = None
    _second: int = -1
    _counts: dict[int, int] = field(default_factory=dict)  # timestamp → lines emitted, newest second only
    _skip: dict[int, int] = field(default_factory=dict)  # during a replay: lines still to skip per timestamp
    _replay_floor: int = -1

    def since_time(self) -> str | None:
        """The sinceTime for the next request (None before any line was seen)."""
        return None if self.last_ns is None else format_since_time(self.last_ns)

    def start_replay(self) -> None:
        """A new request with `since_time()` is about to be read."""
        self._skip = dict(self._counts)
        self._replay_floor = self._second * NS if self._second >= 0 else -1

    def accept(self, ns: int) -> bool:
        """True if a line stamped `ns` is new (and counts it); False if it is a replayed one."""
        if self._replay_floor >= 0:
            if ns < self._replay_floor:
                return False  # older than the window we asked for: seen before the drop
            left = self._skip.get(ns)
            if left:
                self._skip[ns] = left - 1
                return False
            if ns > (self.last_ns or 0) and not any(self._skip.values()):
                self._replay_floor = -1  # past everything we had: stop checking
        second = ns // NS
        if second > self._second:
            self._second = second
            self._counts = {}
        # A line from an earlier second than the newest (a clock step) is not counted: a replay from our
        # sinceTime starts after it and drops it as old.
        if second == self._second:
            self._counts[ns] = self._counts.get(ns, 0) + 1
        if self.last_ns is None or ns > self.last_ns:
            self.last_ns = ns
        return True
