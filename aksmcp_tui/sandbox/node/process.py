"""One container attempt as a local process (its own session, so its children die with it).

The process also dies with the sandbox's host process: on Linux it gets PR_SET_PDEATHSIG=SIGKILL
(the kernel kills it when the *thread* that forked it exits; asyncio forks from the event loop's
thread, which lives as long as the node). It carries ``AKSMCP_SANDBOX_POD_UID`` and is noted in
``<state_dir>/pod-processes.json``, so that whatever a dead host left behind (grandchildren, which
PDEATHSIG does not reach) is killed on the next start (daemon.reap_leftover_pods).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from aksmcp_tui.sandbox.daemon import POD_UID_ENV, forget_pod_process, record_pod_process
from aksmcp_tui.sandbox.node.logs import ContainerLog

_LINE_LIMIT = 256 * 1024
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


# Loaded once in the parent: the child, between fork and exec, only calls it.
_prctl = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when its parent (this host) dies."""
    if _prctl is None:
        return None
    prctl = _prctl
    parent = os.getpid()
    kill_signal = ctypes.c_ulong(int(signal.SIGKILL))
    zero = ctypes.c_ulong(0)

    def preexec() -> None:
        prctl(ctypes.c_int(_PR_SET_PDEATHSIG), kill_signal, zero, zero, zero)
        # The parent may have died between fork and prctl: then no signal will ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class ContainerProcess:
    """A started process whose stdout/stderr lines go to a ContainerLog."""

    # The state dir whose record of pod processes notes this one (see daemon.reap_leftover_pods).
    recorded_in: Path | None = None

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
    async def start(
        cls,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        log: ContainerLog,
        pod: tuple[Path, str] | None = None,
    ) -> ContainerProcess:
        """Spawn argv; OSError (no such executable, bad cwd, ...) propagates to the caller.
        ``pod`` is (state dir, pod uid): the process is marked and recorded for reaping after a crash.

        Must run on the event loop's thread (it forks there; see the module docstring)."""
        if pod is not None:
            env = {**env, POD_UID_ENV: pod[1]}  # the node's own name: it overrides the spec
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # pid = process group: killpg reaches grandchildren
            preexec_fn=die_with_parent(),
            limit=_LINE_LIMIT,
        )
        process = cls(proc, log)
        if pod is not None:
            with contextlib.suppress(OSError):
                record_pod_process(pod[0], proc.pid, pod[1])
                process.recorded_in = pod[0]
        return process

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
        if self.recorded_in is not None:
            with contextlib.suppress(OSError):
                forget_pod_process(self.recorded_in, self.pid)
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
