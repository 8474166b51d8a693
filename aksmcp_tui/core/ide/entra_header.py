"""Commands a client runs to get a fresh Entra ID token from azure-identity, so its file holds a
command and never a token that expires in an hour.

    python -m aksmcp_tui.core.ide.entra_header --tenant T --scope S
        prints {"Authorization": "Bearer <token>"} (Claude Code's `headersHelper`)
    python -m aksmcp_tui.core.ide.entra_header --tenant T --scope S --exec-env VAR -- CMD ARGS...
        runs CMD with VAR="Bearer <token>" (Claude Desktop's stdio shim: mcp-remote reads the header from VAR)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys


def _base(tenant: str, scope: str) -> list[str]:
    # This interpreter: the one with azure-identity installed, whatever PATH the client starts with.
    return [sys.executable, "-m", "aksmcp_tui.core.ide.entra_header", "--tenant", tenant, "--scope", scope]


def helper_command(tenant: str, scope: str) -> str:
    """The shell command a headers-helper client runs."""
    return shlex.join(_base(tenant, scope))


def exec_argv(tenant: str, scope: str, env_var: str, command: list[str]) -> list[str]:
    """The argv of a stdio entry that runs `command` with `env_var` holding the Authorization value."""
    return [*_base(tenant, scope), "--exec-env", env_var, "--", *command]


def main(argv: list[str] | None = None) -> int:
    from aksmcp_tui.core.components.entra import EntraTokenError, entra_access_token

    parser = argparse.ArgumentParser(prog="aksmcp-entra-header", description=__doc__)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--scope", required=True)
    parser.add_argument("--exec-env", metavar="VAR", help="run COMMAND with VAR='Bearer <token>' instead of printing")
    parser.add_argument("command", nargs="*", metavar="COMMAND", help="after --: the command to run")
    args = parser.parse_args(argv)
    if bool(args.exec_env) != bool(args.command):
        parser.error("--exec-env VAR and a COMMAND go together")
    try:
        token = asyncio.run(entra_access_token(args.tenant, args.scope))
    except EntraTokenError as exc:
        print(f"aksmcp: {exc}", file=sys.stderr)  # the client shows the helper's stderr
        return 1
    if args.exec_env:
        env = {**os.environ, args.exec_env: f"Bearer {token}"}
        if sys.platform == "win32":  # no exec there: run it, passing stdio through
            return subprocess.call(args.command, env=env)
        os.execvpe(args.command[0], args.command, env)  # the stdio server takes this process's place
    print(json.dumps({"Authorization": f"Bearer {token}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
