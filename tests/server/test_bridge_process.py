"""bridge.process: a child in a process group of its own but the bridge's session, its exit awaited
through a pidfd (Linux) or, where there is none, a thread; real processes, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import pytest
from aksmcp_server.bridge.process import spawn

EXITS_3 = "import sys; sys.stderr.write('first\\nsecond\\n'); sys.stderr.flush(); sys.exit(3)"
SLEEPS = "import time; time.sleep(60)"


@contextlib.contextmanager
def stdio() -> Iterator[tuple[int, int]]:
    """A pipe whose ends serve as the child's stdin and stdout (the child here uses neither)."""
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    finally:
        os.close(read_end)
        os.close(write_end)


async def run(code: str) -> tuple[int, list[bytes], int, int]:
    """(exit status, stderr lines, process group, session) of `python -c CODE` started by `spawn`."""
    with stdio() as (stdin, stdout):
        child = await spawn([sys.executable, "-c", code], stdin=stdin, stdout=stdout, env=None, cwd=None)
        group, session = os.getpgid(child.pid), os.getsid(child.pid)
        assert group == child.pid
        lines = []
        while line := await child.stderr.readline():
            lines.append(line)
        async with asyncio.timeout(30):
            status = await child.wait()
        assert child.returncode == status
        return status, lines, group, session


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "thread"])
async def test_exit_status_and_stderr_with_its_own_group_in_our_session(
    pidfd: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)  # as on macOS
    elif not hasattr(os, "pidfd_open"):
        pytest.fail("this Linux has no os.pidfd_open")
    status, lines, group, session = await run(EXITS_3)
    assert status == 3
    assert lines == [b"first\n", b"second\n"]
    assert group != os.getpgrp()  # a terminal's Ctrl-C to our group does not reach it
    assert session == os.getsid(0)  # the same session: the same autogroup, not a scheduling group of its own


async def test_kill_ends_it_and_signals_after_the_exit_do_nothing() -> None:
    with stdio() as (stdin, stdout):
        child = await spawn([sys.executable, "-c", SLEEPS], stdin=stdin, stdout=stdout, env=None, cwd=None)
        child.kill()
        async with asyncio.timeout(30):
            assert await child.wait() == -signal.SIGKILL
        child.terminate()  # reaped already: no signal to a pid that may belong to someone else now
        child.kill()


async def test_a_missing_program_raises_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        await spawn(["/nonexistent/mcp-server"], stdin=0, stdout=1, env=None, cwd=None)
