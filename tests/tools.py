"""Where tests find the third-party programs `.ci/install-tools` installs (MCP servers, bridges, clients).

`require_tool("mcp-server-time")` returns the command's path: `.tools/bin` first, then PATH. When it
is missing the test is skipped locally with the install command, but fails under CI (CI=true), where
`.ci/run` has installed every tool: a skip there would hide a missing install step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TOOLS_BIN = Path(__file__).resolve().parents[1] / ".tools" / "bin"


def find_tool(command: str) -> str | None:
    candidate = TOOLS_BIN / command
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(command)


def require_tool(command: str) -> str:
    path = find_tool(command)
    if path is not None:
        return path
    message = f"{command} is not installed: run `bash .ci/install-tools` (it lists every tool the tests use)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
