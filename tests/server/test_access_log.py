"""The access log: with a write-through stdout (PYTHONUNBUFFERED=1, as the image sets) lines wait for the
periodic flush instead of costing a write() per request; other log lines still leave at once."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator

import pytest
from aksmcp_server import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logs.flush_access_log()
    logs._access_stream = None
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _read_all(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


FIELDS = {"request_id": "r-1", "http_method": "POST", "path": "/mcp", "status": 200, "mcp_method": "tools/call"}


@pytest.mark.usefixtures("restore_logging")
def test_access_lines_wait_for_the_flush_when_stdout_writes_through() -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    # What `python -u` / PYTHONUNBUFFERED=1 makes of stdout: an unbuffered binary layer, text written through.
    stdout = io.TextIOWrapper(io.FileIO(write_end, "w", closefd=False), encoding="utf-8", write_through=True)
    try:
        logs.configure_logging("INFO", stdout)
        for n in range(50):
            logs.write_access_line({**FIELDS, "request_id": f"r-{n}"})
        assert _read_all(read_end) == b"", "an access line left before the flush"
        logging.getLogger("aksmcp_server.test").warning("right away")
        other = _read_all(read_end)
        assert json.loads(other)["msg"] == "right away"  # other log lines are not held back
        logs.flush_access_log()
        lines = _read_all(read_end).decode().splitlines()
        assert [json.loads(line)["request_id"] for line in lines] == [f"r-{n}" for n in range(50)]
        entry = json.loads(lines[0])
        assert entry["logger"] == "aksmcp_server.access"
        assert {k: entry[k] for k in FIELDS} == {**FIELDS, "request_id": "r-0"}
    finally:
        stdout.close()
        os.close(write_end)
        os.close(read_end)


@pytest.mark.usefixtures("restore_logging")
def test_a_buffered_stream_is_used_as_it_is() -> None:
    stream = io.StringIO()
    logs.configure_logging("INFO", stream)
    logs.write_access_line(FIELDS)
    assert json.loads(stream.getvalue())["request_id"] == "r-1"  # the stream's own buffering applies


@pytest.mark.usefixtures("restore_logging")
def test_no_access_lines_above_info() -> None:
    stream = io.StringIO()
    logs.configure_logging("WARNING", stream)
    logs.write_access_line(FIELDS)
    logs.flush_access_log()
    assert stream.getvalue() == ""


@pytest.mark.usefixtures("restore_logging")
def test_a_line_is_one_json_object_with_the_log_shape() -> None:
    stream = io.StringIO()
    logs.configure_logging("INFO", stream)
    logs.write_access_line({**FIELDS, "duration_ms": 1.25, "mcp_method": 'say "hi"\n'})
    logs.write_access_line({})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(first)[:4] == ["ts", "level", "logger", "msg"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert (first["level"], first["logger"], first["msg"]) == ("info", "aksmcp_server.access", "request")
    assert first["mcp_method"] == 'say "hi"\n' and first["duration_ms"] == 1.25  # escaped, not spliced raw
    assert set(second) == {"ts", "level", "logger", "msg"}


def test_duration_ms_rounds_to_a_hundredth() -> None:
    value = logs.duration_ms(time.perf_counter() - 0.0012345)  # 1.2345 ms ago, plus the call itself
    assert value >= 1.23 and round(value, 2) == value
