"""Start a stdio child in its own process group but in the bridge's session, and await its exit.

Why not the event loop's subprocess support: the child must not get the terminal's Ctrl-C (the bridge
drains in-flight calls first, then closes the child's stdin), so it needs a process group of its own.
`start_new_session` gives it one, but also a session of its own, and Linux with autogroup scheduling
(on by default in most distributions' kernels, for processes in the root cgroup) gives every session
its own scheduling group: the child's threads then share one group's CPU weight and wait behind the
bridge's group for a CPU. Measured on 2 cores at concurrency 8 (bench/bridge.py's targets, paired
turns): 0.89 of direct stdio with a session of its own, 0.98 with the bridge's (2025-11-25; 2026-07-28
0.96 against 1.09). uvloop cannot make a process group without a session, so the child is started with
`subprocess.Popen`'s `process_group=0` (a setpgid in the forked child, no Python code run between fork
and exec) and its exit is awaited through a pidfd on Linux (a thread elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Mapping, Sequence


class ChildProcess:
    """The parts of `asyncio.subprocess.Process` the bridge uses: pid, returncode, wait, signals, stderr."""

    def __init__(self, popen: subprocess.Popen[bytes], stderr: asyncio.StreamReader) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.stderr = stderr
        self._exited = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._watch_exit()

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        await self._exited.wait()
        status = self._popen.returncode
        assert status is not None
        return status

    def terminate(self) -> None:
        self._popen.terminate()  # a no-op once the child has been reaped: never signals a recycled pid

    def kill(self) -> None:
        self._popen.kill()

    def _watch_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
            threading.Thread(target=self._wait_in_thread, name=f"child-{self.pid}-exit", daemon=True).start()
            return

        def reap() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._popen.wait()  # readable means it has exited: this reaps it without blocking
            self._exited.set()

        self._loop.add_reader(pidfd, reap)

    def _wait_in_thread(self) -> None:
        self._popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._exited.set)


async def spawn(
    command: Sequence[str], *, stdin: int, stdout: int, env: Mapping[str, str] | None, cwd: str | None
) -> ChildProcess:
    """Start `command` with the given stdin and stdout descriptors and a piped stderr (OSError if it cannot)."""
    popen = subprocess.Popen(  # noqa: ASYNC220 - fork and exec only; the exit is awaited through the loop
        list(command), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=cwd, process_group=0
    )
    assert popen.stderr is not None
    stderr = asyncio.StreamReader()  # asyncio's default limit: a longer line raises ValueError in readline
    try:
        await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stderr), popen.stderr)
    except BaseException:
        popen.kill()
        popen.wait()
        raise
    return ChildProcess(popen, stderr)
