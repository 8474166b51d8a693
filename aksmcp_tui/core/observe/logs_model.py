"""Typed log events and the options of a log request (shared by the CLI and the log screen)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple


class LogLine(NamedTuple):
    """One line (a tuple: a flood creates hundreds of thousands per second, and tuples are cheapest)."""

    pod: str
    container: str
    time_ns: int  # from the kubelet's timestamp (0 when the line had none)
    timestamp: str  # as the server sent it (RFC3339, usually 9 fractional digits)
    text: str

    def to_json(self) -> dict[str, str]:
        return {"pod": self.pod, "container": self.container, "timestamp": self.timestamp, "message": self.text}


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Lines of one container stream, in order (batched: a flood arrives in chunks, not line by line)."""

    lines: list[LogLine]


@dataclass(frozen=True, slots=True)
class PodJoined:
    pod: str
    containers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PodLeft:
    pod: str
    reason: str  # "deleted" | "completed"


@dataclass(frozen=True, slots=True)
class StreamDropped:
    """A container stream broke; it is being resumed from the last line seen (nothing lost)."""

    pod: str
    container: str
    reason: str


@dataclass(frozen=True, slots=True)
class StreamResumed:
    pod: str
    container: str
    since: str  # the sinceTime asked for (lines already shown are skipped, see logs_resume)


@dataclass(frozen=True, slots=True)
class LogNotice:
    """Something the user should know that is not a line (a container still waiting, a 403)."""

    message: str
    pod: str | None = None
    fatal: bool = False  # the whole follow stops (target not found, forbidden)


LogEvent = LogBatch | PodJoined | PodLeft | StreamDropped | StreamResumed | LogNotice


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail: int | None = None  # lines per container at the start (None: all)
    since_seconds: int | None = None
    container: str | None = None  # None: every container of every pod
    previous: bool = False
    read_timeout: float = 300.0  # silence after which a follow stream is resumed (catches dead links)


_SECOND_CACHE: dict[str, int] = {}


def parse_timestamp(value: str) -> int:
    """RFC3339 / RFC3339Nano (UTC "Z" or an offset) → ns since the epoch. Fast for the kubelet's
    "2026-12-01T15:36:57.123456789Z": the seconds part is parsed once per distinct second."""
    head = value[:19]
    seconds = _SECOND_CACHE.get(head)
    if seconds is not None and len(value) == 30 and value[19] == "." and value[29] == "Z":
        return seconds * 1_000_000_000 + int(value[20:29])  # the kubelet's fixed width: the common case
    if seconds is None:
        try:
            seconds = calendar.timegm(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").timetuple())
        except ValueError:
            raise ValueError(f"not an RFC3339 time: {value!r}") from None
        if len(_SECOND_CACHE) > 4096:
            _SECOND_CACHE.clear()
        _SECOND_CACHE[head] = seconds
    rest = value[19:]
    frac = 0
    if rest.startswith("."):
        digits = 0
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        digits = i - 1
        frac = int(rest[1:i].ljust(9, "0")[:9]) if digits else 0
        rest = rest[i:]
    offset = 0
    if rest and rest not in ("Z", "z"):
        sign = -1 if rest[0] == "-" else 1
        hours, _, minutes = rest[1:].partition(":")
        offset = sign * (int(hours) * 3600 + int(minutes or 0) * 60)
    return (seconds - offset) * 1_000_000_000 + frac


def format_since_time(ns: int) -> str:
    """sinceTime at second precision, floored: what the real API server forwards to the kubelet anyway
    (metav1.Time is RFC3339 without fraction), so both kinds of server replay the same window."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
