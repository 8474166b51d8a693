"""Container log files: one file per container attempt, lines stamped with RFC3339Nano times.

Layout: ``<pod dir>/logs/<container>/<attempt>.log`` (attempt = restartCount when it started),
plus ``<attempt>.log.1`` once a file outgrows ``max_bytes`` (so one attempt keeps at most
2 x max_bytes). Only the current and the previous attempt are kept, like the kubelet.
A line on disk is ``<timestamp> <stdout|stderr> <text>``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def rfc3339nano(ns: int | None = None) -> str:
    """The kubelet's fixed-width RFC3339Nano (9 fractional digits, UTC)."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_time_ns(value: str) -> int:
    """RFC3339 (with or without fraction, Z or ±hh:mm) → ns since the epoch; ValueError if malformed."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    frac_ns = 0
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        text = head + rest
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + frac_ns


@dataclass
class LogRecord:
    timestamp: str
    stream: str  # stdout | stderr
    text: bytes  # without the trailing newline

    @property
    def time_ns(self) -> int:
        return parse_time_ns(self.timestamp)


def parse_records(data: bytes) -> list[LogRecord]:
    records = []
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 2)
        if len(parts) < 3:
            continue
        records.append(LogRecord(parts[0].decode(), parts[1].decode(), parts[2]))
    return records


class ContainerLog:
    """The log of one container attempt, written by the node and followed by log readers."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.generation = 0  # bumps on each rotation, so followers know their offset moved to .1
        self.closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "ab")  # noqa: SIM115 - kept open for the attempt's lifetime
        self._size = self._fh.tell()
        self._changed = asyncio.Event()

    @property
    def rotated_path(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def write(self, stream: str, text: bytes) -> None:
        if self.closed:
            return
        line = rfc3339nano().encode() + b" " + stream.encode() + b" " + text.rstrip(b"\n") + b"\n"
        if self._size + len(line) > self.max_bytes and self._size > 0:
            self._fh.close()
            os.replace(self.path, self.rotated_path)
            self._fh = open(self.path, "ab")  # noqa: SIM115
            self._size = 0
            self.generation += 1
        self._fh.write(line)
        self._fh.flush()
        self._size += len(line)
        self._notify()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._fh.close()
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, seconds: float) -> None:
        event = self._changed
        if self.closed:
            return
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass


def read_all(path: Path) -> bytes:
    """A finished or live attempt's whole log (rotated part first)."""
    data = b""
    for part in (path.with_name(path.name + ".1"), path):
        try:
            data += part.read_bytes()
        except FileNotFoundError:
            pass
    return data


def read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return b""


class LogDirectory:
    """All attempts of one container."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def attempts(self) -> list[int]:
        found = set()
        if self.directory.is_dir():
            for entry in self.directory.iterdir():
                stem = entry.name.split(".", 1)[0]
                if stem.isdigit():
                    found.add(int(stem))
        return sorted(found)

    def path_for(self, attempt: int) -> Path:
        return self.directory / f"{attempt}.log"

    def open_attempt(self, attempt: int) -> ContainerLog:
        """Start a new attempt's log and drop the attempts older than the previous one."""
        for old in self.attempts():
            if old < attempt - 1 or old == attempt:
                for suffix in ("", ".1"):
                    try:
                        os.unlink(self.directory / f"{old}.log{suffix}")
                    except FileNotFoundError:
                        pass
        return ContainerLog(self.path_for(attempt), self.max_bytes)
