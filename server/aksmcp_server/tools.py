"""The reference tools, safe by default: file_operation, execute_command, system_info (+ a test-only slow tool).

Tools are async on purpose: the SDK runs sync tools in a worker thread per call, which costs more than
the small, bounded file and /proc reads done here. Failures the caller can act on are `ToolError`s, which
the SDK returns as `isError: true` results; nothing here lets an exception text carry a host path from
outside the workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shlex
import shutil
import signal
import stat as stat_module
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import ConfigDict

from .config import Settings
from .workspace import PathRefused, Workspace

MAX_LIST_ENTRIES = 1000
_STARTED_AT = time.monotonic()
_PYTHON_VERSION = platform.python_version()
_CPU_COUNT = os.cpu_count()  # a sysfs read per call otherwise; CPUs do not come and go under a pod

FileOperation = Literal["read", "write", "list", "stat", "delete"]


class FileTool:
    def __init__(self, workspace: Workspace, max_read_bytes: int, max_write_bytes: int) -> None:
        self.workspace = workspace
        self.max_read_bytes = max_read_bytes
        self.max_write_bytes = max_write_bytes

    def run(self, operation: str, path: str, content: str | None) -> dict[str, Any]:
        try:
            if operation == "read":
                return self._read(self.workspace.resolve_str(path))
            target = self.workspace.resolve(path)
            if operation == "write":
                return self._write(target, content)
            if operation == "list":
                return self._list(target)
            if operation == "stat":
                return self._stat(target)
            if operation == "delete":
                return self._delete(target)
        except PathRefused as exc:
            raise ToolError(str(exc)) from None
        except FileNotFoundError:
            raise ToolError(f"{path!r} does not exist") from None
        except IsADirectoryError:
            raise ToolError(f"{path!r} is a directory") from None
        except NotADirectoryError:
            raise ToolError(f"{path!r} is not a directory") from None
        except PermissionError:
            raise ToolError(f"permission denied for {path!r}") from None
        except OSError as exc:
            # errno text only: the OS message could name paths outside the workspace.
            raise ToolError(f"{operation} {path!r} failed: {os.strerror(exc.errno or 0)}") from None
        raise ToolError(f"unknown operation {operation!r}; use read, write, list, stat or delete")

    def _read(self, target: str) -> dict[str, Any]:
        # O_NONBLOCK: opening a FIFO planted in the workspace must not hang the event loop (it is then
        # refused as not a regular file); it has no effect on regular files.
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat_module.S_ISREG(info.st_mode):
                raise ToolError(f"{self.workspace.display(target)!r} is not a regular file")
            if info.st_size > self.max_read_bytes:
                raise ToolError(f"file is {info.st_size} bytes, over the {self.max_read_bytes}-byte read limit")
            chunks = []
            size = 0
            while size <= self.max_read_bytes:
                chunk = os.read(fd, self.max_read_bytes + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if len(data) > self.max_read_bytes:
            raise ToolError(f"file grew past the {self.max_read_bytes}-byte read limit while reading")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError("file is not UTF-8 text") from None
        return {"path": self.workspace.display(target), "size": len(data), "content": text}

    def _write(self, target: Path, content: str | None) -> dict[str, Any]:
        if content is None:
            raise ToolError("write needs 'content'")
        data = content.encode("utf-8")
        if len(data) > self.max_write_bytes:
            raise ToolError(f"content is {len(data)} bytes, over the {self.max_write_bytes}-byte write limit")
        if target == self.workspace.root:
            raise ToolError("cannot write to the workspace root")
        if target.is_dir():
            raise ToolError(f"{self.workspace.display(target)!r} is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary sibling and rename: readers never see half a file, and a symlink placed at
        # the target after the check is replaced rather than followed.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".aksmcp-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return {"path": self.workspace.display(target), "size": len(data), "written": True}

    def _list(self, target: Path) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        truncated = False
        with os.scandir(target) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if len(entries) >= MAX_LIST_ENTRIES:
                    truncated = True
                    break
                kind = "symlink" if entry.is_symlink() else "dir" if entry.is_dir() else "file"
                size = entry.stat(follow_symlinks=False).st_size if kind == "file" else None
                entries.append({"name": entry.name, "type": kind, "size": size})
        return {"path": self.workspace.display(target), "entries": entries, "truncated": truncated}

    def _stat(self, target: Path) -> dict[str, Any]:
        info = target.lstat()
        kind = "dir" if stat_module.S_ISDIR(info.st_mode) else "file" if stat_module.S_ISREG(info.st_mode) else "other"
        return {
            "path": self.workspace.display(target),
            "type": kind,
            "size": info.st_size,
            "mode": oct(stat_module.S_IMODE(info.st_mode)),
            "modified": info.st_mtime,
        }

    def _delete(self, target: Path) -> dict[str, Any]:
        if target == self.workspace.root:
            raise ToolError("cannot delete the workspace root")
        if target.is_dir() and not target.is_symlink():
            target.rmdir()  # only empty directories: no recursive deletes from a model
        else:
            target.unlink()
        return {"path": self.workspace.display(target), "deleted": True}


class CommandTool:
    def __init__(
        self, workspace: Workspace, allowed: tuple[str, ...], timeout_seconds: float, max_output_bytes: int
    ) -> None:
        self.workspace = workspace
        self.allowed = allowed
        self.timeout_seconds = timeout_seconds
        self.max_output_bytes = max_output_bytes

    def _executable(self, name: str) -> str:
        """Map argv[0] to an allowed executable path, or refuse."""
        if not self.allowed:
            raise ToolError("execute_command is disabled: no commands are allowed (set AKSMCP_ALLOWED_COMMANDS)")
        if "/" in name:
            # A path is only accepted when that exact path is on the allow-list.
            if name in self.allowed:
                return name
        elif name in self.allowed or any(os.path.basename(a) == name and "/" in a for a in self.allowed):
            explicit = next((a for a in self.allowed if "/" in a and os.path.basename(a) == name), None)
            found = explicit or shutil.which(name)
            if found:
                return found
            raise ToolError(f"command {name!r} is allowed but not installed")
        raise ToolError(f"command {name!r} is not in the allow-list")

    async def run(self, command: str, timeout_seconds: float | None) -> dict[str, Any]:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ToolError(f"cannot parse command: {exc}") from None
        if not argv:
            raise ToolError("command is empty")
        executable = self._executable(argv[0])
        timeout = (
            self.timeout_seconds if timeout_seconds is None else min(max(timeout_seconds, 0.1), self.timeout_seconds)
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.workspace.root),
            "LANG": "C.UTF-8",
        }
        # No shell anywhere: argv goes straight to exec, so ; | $() and friends are plain arguments.
        proc = await asyncio.create_subprocess_exec(
            executable,
            *argv[1:],
            cwd=self.workspace.root,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        started = time.monotonic()
        out_task = asyncio.ensure_future(_read_capped(proc.stdout, self.max_output_bytes))
        err_task = asyncio.ensure_future(_read_capped(proc.stderr, self.max_output_bytes))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await proc.wait()
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
        (stdout, out_cut), (stderr, err_cut) = await asyncio.gather(out_task, err_task)
        if timed_out:
            raise ToolError(f"command timed out after {timeout:g}s and was killed")
        return {
            "exit_code": proc.returncode,
            "stdout": stdout.decode("utf-8", errors="replace"),
            "stderr": stderr.decode("utf-8", errors="replace"),
            "truncated": out_cut or err_cut,
            "duration_seconds": round(time.monotonic() - started, 3),
        }


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    """Keep the first `cap` bytes and drain the rest, so a chatty child never blocks on a full pipe."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if room > 0:
            kept.extend(chunk[:room])
        if len(chunk) > room:
            truncated = True
    return bytes(kept), truncated


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _memory() -> dict[str, int]:
    info: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                info["total_bytes" if key == "MemTotal" else "available_bytes"] = int(rest.split()[0]) * 1024
            if len(info) == 2:
                break
    return info


def _system_uptime() -> float | None:
    try:
        with open("/proc/uptime", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


HOST_SAMPLE_SECONDS = 1.0
_host_sample: tuple[float, dict[str, Any]] | None = None


def _host_stats(workspace: Workspace) -> tuple[float, dict[str, Any]]:
    """Load, memory and disk figures, sampled at most once a second: they move slowly, and reading
    /proc and statfs on every call was a measurable share of a system_info call under load."""
    global _host_sample
    now = time.monotonic()
    if _host_sample is not None and now - _host_sample[0] < HOST_SAMPLE_SECONDS:
        return _host_sample
    usage = shutil.disk_usage(workspace.root)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    stats = {
        "load_average": list(load) if load else None,
        "memory": _memory(),
        "system_uptime_seconds": _system_uptime(),
        "workspace": {
            "path": str(workspace.root),
            "total_bytes": usage.total,
            "used_bytes": usage.used,
            "free_bytes": usage.free,
        },
    }
    _host_sample = (now, stats)
    return _host_sample


def system_info(workspace: Workspace) -> dict[str, Any]:
    now = time.monotonic()
    sampled_at, stats = _host_stats(workspace)
    uptime = stats["system_uptime_seconds"]
    return {
        "platform": platform.platform(),
        "python": _PYTHON_VERSION,
        "cpu_count": _CPU_COUNT,
        "load_average": stats["load_average"],
        "memory": dict(stats["memory"]),
        "process_uptime_seconds": round(now - _STARTED_AT, 3),
        "system_uptime_seconds": None if uptime is None else round(uptime + (now - sampled_at), 2),
        "workspace": dict(stats["workspace"]),
    }


def build_tools(settings: Settings) -> list[Tool]:
    """The reference tools as SDK `Tool` objects (handed to `MCPServer(tools=...)` and to the fast path)."""
    workspace = Workspace(settings.workspace)
    files = FileTool(workspace, settings.max_read_bytes, settings.max_write_bytes)
    commands = CommandTool(
        workspace, settings.allowed_commands, settings.command_timeout_seconds, settings.max_output_bytes
    )
    # Computed once up front: the platform string shells out on some systems.
    platform.platform()

    async def file_operation(operation: FileOperation, path: str = ".", content: str | None = None) -> dict[str, Any]:
        return files.run(operation, path, content)

    async def execute_command(command: str, timeout_seconds: float | None = None) -> dict[str, Any]:
        return await commands.run(command, timeout_seconds)

    async def system_info_tool() -> dict[str, Any]:
        return system_info(workspace)

    tools = [
        Tool.from_function(
            file_operation,
            name="file_operation",
            description="Read, write, list, stat or delete a file inside the server's workspace directory. "
            "Paths are relative to the workspace; '..' and anything resolving outside it are refused.",
            annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False),
        ),
        Tool.from_function(
            execute_command,
            name="execute_command",
            description="Run an allow-listed executable (no shell) in the workspace with a timeout; returns exit "
            "code and capped stdout/stderr. Disabled unless the server has an allow-list.",
            annotations=ToolAnnotations(destructive_hint=True, open_world_hint=True),
        ),
        Tool.from_function(
            system_info_tool,
            name="system_info",
            description="Platform, Python, CPU, memory, uptime and workspace disk usage of the server.",
            annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
    ]
    tools = [_refuse_undeclared_arguments(tool) for tool in tools]
    if settings.enable_test_tools:

        async def slow_operation(seconds: float = 1.0) -> dict[str, Any]:
            await anyio.sleep(min(max(seconds, 0.0), 120.0))
            return {"slept_seconds": seconds}

        tools.append(
            Tool.from_function(slow_operation, name="slow_operation", description="Test only: sleep, then answer.")
        )
    return tools


def _refuse_undeclared_arguments(tool: Tool) -> Tool:
    """Arguments a tool does not declare are refused (an `isError` result naming them), not dropped.

    The SDK's argument model ignores unknown keys, so a caller's typo (`pth` for `path`) would run the
    tool with its defaults and look like success; `aksmcp test --call` checks this. The published
    schema says the same with `additionalProperties: false`.
    """
    base = tool.fn_metadata.arg_model
    strict = type(
        base.__name__,
        (base,),
        {"model_config": ConfigDict(**{**base.model_config, "extra": "forbid"}), "__module__": base.__module__},
    )
    tool.fn_metadata.arg_model = strict
    tool.parameters = {**tool.parameters, "additionalProperties": False}
    return tool


def register_tools(server: MCPServer[Any], settings: Settings) -> list[str]:
    """Add the reference tools to any `MCPServer` (used by the benchmark's plain-SDK server)."""
    names = []
    for tool in build_tools(settings):
        server.add_tool(tool.fn, name=tool.name, description=tool.description, annotations=tool.annotations)
        names.append(tool.name)
    return names
