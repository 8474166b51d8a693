"""A headers helper for clients that run a command to get their request headers (Claude Code's
`headersHelper`): prints `{"Authorization": "Bearer <token>"}` with a fresh Entra ID token from
azure-identity, so the client's file holds a command and never a token that expires in an hour.

    python -m aksmcp_tui.core.ide.entra_header --tenant T --scope S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys


def helper_command(tenant: str, scope: str) -> str:
    """The shell command a client runs (this interpreter, so the helper finds azure-identity)."""
    return shlex.join([sys.executable, "-m", "aksmcp_tui.core.ide.entra_header", "--tenant", tenant, "--scope", scope])


def main(argv: list[str] | None = None) -> int:
    from aksmcp_tui.core.components.entra import EntraTokenError, entra_access_token

    parser = argparse.ArgumentParser(prog="aksmcp-entra-header", description=__doc__)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--scope", required=True)
    args = parser.parse_args(argv)
    try:
        token = asyncio.run(entra_access_token(args.tenant, args.scope))
    except EntraTokenError as exc:
        print(f"aksmcp: {exc}", file=sys.stderr)  # the client shows the helper's stderr
        return 1
    print(json.dumps({"Authorization": f"Bearer {token}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
