"""Attempts to break the tools' safety rules: path confinement, size caps, command allow-list, no shell,
timeouts, output caps. Most run the tool classes in-process (fast, exhaustive); the last ones go through a
real server with the SDK client so the rules are proven on the wire as well."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from aksmcp_server.tools import CommandTool, FileTool
from aksmcp_server.workspace import PathRefused, Workspace
from conftest import StartServer
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.txt").write_text("top secret\n")
    return secret


@pytest.fixture
def files(workspace: Path) -> FileTool:
    return FileTool(Workspace(workspace), max_read_bytes=1024, max_write_bytes=512)


TRAVERSALS = [
    "../outside/secret.txt",
    "../../etc/passwd",
    "sub/../../outside/secret.txt",
    "sub/../hello.txt",  # stays inside, but `..` is refused outright
    "..",
    "./..",
    "..\\outside\\secret.txt",
    "sub/..\\..\\outside",
    "/etc/passwd",
    "//etc/passwd",
    "hello.txt\x00.png",
    "",
    "   ",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("operation", ["read", "write", "list", "stat", "delete"])
def test_traversal_variants_refused(files: FileTool, outside: Path, path: str, operation: str) -> None:
    with pytest.raises(ToolError):
        files.run(operation, path, "pwned")
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_absolute_path_inside_workspace_is_fine(files: FileTool, workspace: Path) -> None:
    assert files.run("read", str(workspace / "hello.txt"), None)["content"] == "hello, workspace\n"


def test_absolute_path_with_workspace_prefix_trick(tmp_path: Path, workspace: Path) -> None:
    sibling = tmp_path / "workspace-evil"
    sibling.mkdir()
    (sibling / "x.txt").write_text("x")
    with pytest.raises(PathRefused):
        Workspace(workspace).resolve(str(sibling / "x.txt"))


@pytest.mark.parametrize("operation", ["read", "write", "list", "stat", "delete"])
def test_symlink_escape_refused(files: FileTool, workspace: Path, outside: Path, operation: str) -> None:
    (workspace / "link-file").symlink_to(outside / "secret.txt")
    (workspace / "link-dir").symlink_to(outside)
    for path in ("link-file", "link-dir/secret.txt", "link-dir"):
        with pytest.raises(ToolError, match="outside the workspace"):
            files.run(operation, path, "pwned")
    assert (outside / "secret.txt").read_text() == "top secret\n"
    assert (outside / "secret.txt").exists()


def test_symlink_chain_escape_refused(files: FileTool, workspace: Path, outside: Path) -> None:
    (workspace / "a").symlink_to(workspace / "b")
    (workspace / "b").symlink_to(outside / "secret.txt")
    with pytest.raises(ToolError, match="outside the workspace"):
        files.run("read", "a", None)


def test_symlink_inside_workspace_is_followed(files: FileTool, workspace: Path) -> None:
    (workspace / "alias").symlink_to(workspace / "hello.txt")
    assert files.run("read", "alias", None)["content"] == "hello, workspace\n"


def test_read_cap(files: FileTool, workspace: Path) -> None:
    (workspace / "big.bin").write_text("a" * 2048)
    with pytest.raises(ToolError, match="read limit"):
        files.run("read", "big.bin", None)


def test_write_cap(files: FileTool, workspace: Path) -> None:
    with pytest.raises(ToolError, match="write limit"):
        files.run("write", "big.txt", "é" * 300)  # 600 bytes in UTF-8, 300 characters
    assert not (workspace / "big.txt").exists()


def test_non_utf8_and_special_files(files: FileTool, workspace: Path) -> None:
    (workspace / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ToolError, match="UTF-8"):
        files.run("read", "bin", None)
    os.mkfifo(workspace / "fifo")
    with pytest.raises(ToolError, match="regular file"):
        files.run("read", "fifo", None)


def test_root_cannot_be_deleted_or_overwritten(files: FileTool, workspace: Path) -> None:
    for path in (".", str(workspace)):
        with pytest.raises(ToolError):
            files.run("delete", path, None)
        with pytest.raises(ToolError):
            files.run("write", path, "x")
    assert workspace.is_dir()


def test_delete_does_not_recurse(files: FileTool, workspace: Path) -> None:
    with pytest.raises(ToolError):
        files.run("delete", "sub", None)
    assert (workspace / "sub" / "nested.txt").exists()


def test_unknown_operation(files: FileTool) -> None:
    with pytest.raises(ToolError, match="unknown operation"):
        files.run("chmod", "hello.txt", None)


def test_errors_name_no_outside_paths(files: FileTool, outside: Path) -> None:
    with pytest.raises(ToolError) as caught:
        files.run("read", "missing/file.txt", None)
    assert str(outside.parent) not in str(caught.value)


# ------------------------------------------------------------------------------------ commands --


def commands(workspace: Path, allowed: tuple[str, ...], timeout: float = 5.0, cap: int = 1024) -> CommandTool:
    return CommandTool(Workspace(workspace), allowed, timeout, cap)


async def test_commands_disabled_without_allow_list(workspace: Path) -> None:
    with pytest.raises(ToolError, match="disabled"):
        await commands(workspace, ()).run("echo hi", None)


@pytest.mark.parametrize(
    "command",
    ["sh -c 'echo pwned'", "bash -c id", "/bin/sh -c id", "rm -rf /", "python3 -c 1", "../echo hi", "./echo hi", ""],
)
async def test_commands_outside_allow_list_refused(workspace: Path, command: str) -> None:
    with pytest.raises(ToolError):
        await commands(workspace, ("echo", "ls")).run(command, None)


async def test_shell_metacharacters_are_plain_arguments(workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    tool = commands(workspace, ("echo",))
    result = await tool.run(f"echo hi; touch {marker} && echo $(id) | cat > {marker} `id`", None)
    assert result["exit_code"] == 0
    assert result["stdout"] == f"hi; touch {marker} && echo $(id) | cat > {marker} `id`\n"
    assert not marker.exists()


async def test_allowed_command_runs_in_workspace(workspace: Path) -> None:
    result = await commands(workspace, ("ls",)).run("ls -1", None)
    assert result["exit_code"] == 0
    assert "hello.txt" in result["stdout"].splitlines()


async def test_exit_code_reported(workspace: Path) -> None:
    result = await commands(workspace, ("ls",)).run("ls definitely-missing", None)
    assert result["exit_code"] != 0
    assert result["stderr"]


async def test_full_path_must_be_listed_exactly(workspace: Path) -> None:
    echo = shutil.which("echo")
    assert echo
    with pytest.raises(ToolError):
        await commands(workspace, ("ls",)).run(f"{echo} hi", None)
    result = await commands(workspace, (echo,)).run(f"{echo} hi", None)
    assert result["stdout"] == "hi\n"


async def test_timeout_kills_the_process_group(workspace: Path) -> None:
    tool = commands(workspace, (sys.executable,), timeout=0.5)
    with pytest.raises(ToolError, match="timed out"):
        await tool.run(f"{sys.executable} -c 'import time; time.sleep(30)'", None)


async def test_output_is_capped(workspace: Path) -> None:
    tool = commands(workspace, (sys.executable,), cap=100)
    result = await tool.run(f"{sys.executable} -c 'print(\"x\" * 100000)'", None)
    assert len(result["stdout"]) == 100
    assert result["truncated"] is True


async def test_unparseable_command(workspace: Path) -> None:
    with pytest.raises(ToolError, match="parse"):
        await commands(workspace, ("echo",)).run("echo 'unterminated", None)


# --------------------------------------------------------------------------- over the wire --


async def test_rules_hold_over_the_wire(start_server: StartServer, workspace: Path, tmp_path: Path) -> None:
    server = start_server({"AKSMCP_ALLOWED_COMMANDS": "echo"})
    marker = tmp_path / "wire-pwned"
    (workspace / "escape").symlink_to(tmp_path)
    (tmp_path / "secret-wire.txt").write_text("secret")
    async with Client(server.url, mode="legacy") as client:
        echoed = await client.call_tool("execute_command", {"command": f"echo a;touch {marker}"})
        assert not echoed.is_error
        assert echoed.structured_content["stdout"] == f"a;touch {marker}\n"
        assert not marker.exists()
        refused = await client.call_tool("execute_command", {"command": "sh -c id"})
        assert refused.is_error and "allow-list" in refused.content[0].text
        for path in ("escape/secret-wire.txt", "../x", "/etc/hostname"):
            result = await client.call_tool("file_operation", {"operation": "read", "path": path})
            assert result.is_error, path
