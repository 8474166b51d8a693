"""One container attempt as a local process (its own session, so its children die with it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from aksmcp_tui.sandbox.node.logs import ContainerLog

_LINE_LIMIT = 256 * 1024


class ContainerProcess:
    """A started process whose stdout/stderr lines go to a ContainerLog."""

    def __init__(self, proc: asyncio.subprocess.Process, log: ContainerLog) -> None:
        self.proc = proc
        self.log = log
        self.pid = proc.pid
        self._readers = [
            asyncio.create_task(self._pump(proc.stdout, "stdout")),
            asyncio.create_task(self._pump(proc.stderr, "stderr")),
        ]
        self._exit: asyncio.Task[int] = asyncio.create_task(self._wait())

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], cwd: str | None, log: ContainerLog) -> ContainerProcess:
        """Spawn argv; OSError (no such executable, bad cwd, ...) propagates to the caller."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            limit=_LINE_LIMIT,
        )
        return cls(proc, log)

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        while True:
            try:
                line = await stream.readline()
            except ValueError:
                # A line longer than the limit: take what is buffered as one record.
                line = await stream.read(_LINE_LIMIT)
            if not line:
                return
            self.log.write(name, line)

    async def _wait(self) -> int:
        code = await self.proc.wait()
        # PID 1 of a container gone means the container is gone: kill whatever it left behind
        # (they would also keep the log pipes open).
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), 5)
        for reader in self._readers:
            reader.cancel()
        with contextlib.suppress(Exception):
            await self.after_exit()
        self.log.close()
        return code

    async def after_exit(self) -> None:
        """Runtime-specific clean-up once the process is gone."""

    @property
    def running(self) -> bool:
        return not self._exit.done()

    async def wait(self) -> int:
        """The raw return code (negative for a signal)."""
        return await asyncio.shield(self._exit)

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def terminate(self, grace: float) -> int:
        """SIGTERM, up to ``grace`` seconds, then SIGKILL; returns the raw return code."""
        if self.running:
            self.signal_group(signal.SIGTERM)
            try:
                return await asyncio.wait_for(self.wait(), max(grace, 0))
            except TimeoutError:
                self.signal_group(signal.SIGKILL)
        return await self.wait()


def exit_code(returncode: int) -> int:
    """A container runtime's exit code: 128 + signal for a killed process."""
    return 128 - returncode if returncode < 0 else returncode


def resolve_executable(argv0: str, path_env: str, cwd: str | None) -> str | None:
    """argv[0] as the runtime would find it: a path (relative to cwd) or a PATH lookup."""
    import shutil

    if "/" in argv0:
        candidate = Path(cwd or ".") / argv0 if not argv0.startswith("/") else Path(argv0)
        return str(candidate) if os.access(candidate, os.X_OK) and candidate.is_file() else None
    return shutil.which(argv0, path=path_env)
