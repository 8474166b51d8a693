"""`aksmcp connect` for a deployment that runs auth-entra: the entry carries an Entra ID token got
through azure-identity (the Azure CLI credential), the Entra-mode server accepts it through the entry's
own URL and headers, `--refresh` renews it, project scope never holds it, and no sign-in fails before
any file is touched.

Entra ID cannot exist here: test_entra_token.py's local JWKS server and stand-in `az` serve its wire
formats (reused, not copied)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from forward.support import create, ensure_namespace, server_deployment, wait_ready
from mcp import Client, StdioServerParameters
from tools import require_tool

from aksmcp_tui.cli import main
from aksmcp_tui.core.ide import Resolved, Target, commit, plan, plan_refresh, resolve
from aksmcp_tui.core.ide.connect import EntraAuth
from aksmcp_tui.core.ide.record import load as load_record
from aksmcp_tui.core.ide.record import record_path
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.components.support import CLIENT_ID, TENANT
from tests.components.test_entra_token import (  # noqa: F401  (fixtures, shared with the token test)
    KID,
    SCOPE,
    _token,
    entra_server,
    fake_az,
    jwks_url,
    signing_key,
)

from .clientfiles import endpoint, load
from .conftest import Home, aksmcp
from .test_deploy_target import list_tools

NAMESPACE = "ide-entra"


def fresh_token(key: rsa.RSAPrivateKey, n: int) -> str:
    """A token as Entra ID issues it, told apart by a token id (RS256 signatures are deterministic, so
    two tokens minted in the same second would otherwise be the same string)."""
    claims = jwt.decode(_token(key, CLIENT_ID), options={"verify_signature": False})
    return jwt.encode({**claims, "uti": f"token-{n}"}, key, algorithm="RS256", headers={"kid": KID})


def entra_deployment(name: str) -> dict[str, Any]:
    """A Deployment with the annotations `aksmcp auth enable --entra` puts on it."""
    body = server_deployment(name, replicas=0)  # no pod needed: the token side is what is tested
    body["metadata"].setdefault("annotations", {}).update(
        {
            "aksmcp.dev/entra-tenant-id": TENANT,
            "aksmcp.dev/entra-client-id": CLIENT_ID,
            "aksmcp.dev/entra-scope": SCOPE,
        }
    )
    return body


async def test_entra_entry_is_accepted_and_refreshed(
    ide_home: Home,
    kube: KubeContext,
    sandbox_session: ThreadedSandbox,
    entra_server: str,  # noqa: F811
    fake_az: tuple[Path, Path],  # noqa: F811
    signing_key: rsa.RSAPrivateKey,  # noqa: F811
) -> None:
    token_file, calls = fake_az
    first_token = fresh_token(signing_key, 1)
    token_file.write_text(first_token)
    await ensure_namespace(kube, NAMESPACE)
    await create(kube, NAMESPACE, entra_deployment("entra"))
    target = Target("deploy", namespace=NAMESPACE, deployment="entra", kubeconfig=str(sandbox_session.kubeconfig_path))

    async def forward(_: Target) -> str:
        return entra_server  # the Entra-mode server stands where the deployment's forward would answer

    resolved = await resolve(target, forward=forward)
    assert resolved.entra is not None and resolved.entra.tenant == TENANT
    assert resolved.api_key == first_token
    az_args = json.loads(calls.read_text().splitlines()[-1])
    assert az_args[:2] == ["account", "get-access-token"] and TENANT in az_args

    user = plan("cursor", resolved, scope="user")
    project = plan("claude-code", resolved, scope="project")
    assert any("expires in about an hour" in n and "--refresh" in n for n in user.notes)
    assert any("AKSMCP_ENTRA_TOKEN" in n and "az account get-access-token" in n for n in project.notes)
    commit(user)
    commit(project)
    assert stat.S_IMODE(user.path.stat().st_mode) == 0o600
    assert first_token not in project.path.read_text()  # project scope: a reference only
    url, headers = endpoint("cursor", load("cursor", user.path), "entra", "unused")
    assert headers == {"Authorization": f"Bearer {first_token}"}
    assert "system_info" in await list_tools(url, headers)
    url, headers = endpoint("claude-code", load("claude-code", project.path), "entra", first_token)
    assert "system_info" in await list_tools(url, headers)

    # VS Code keeps a secret input: the file names it, the note says what to paste and when it runs out.
    vscode = plan("vscode", resolved, scope="user")
    assert first_token not in (vscode.after or "") and "${input:" in (vscode.after or "")
    assert any("az account get-access-token" in n and "about an hour" in n for n in vscode.notes)

    # Claude Code in user scope runs a headers helper instead: the file holds a command, no token.
    helper = plan("claude-code", resolved, scope="user")
    commit(helper)
    entry = load("claude-code", helper.path)["mcpServers"]["entra"]
    assert "headers" not in entry and first_token not in helper.path.read_text()
    assert any("headersHelper" in n for n in helper.notes)
    third_token = fresh_token(signing_key, 3)
    token_file.write_text(third_token)  # the helper gets whatever az gives now, not the token at connect time
    ran = await asyncio.to_thread(
        subprocess.run, entry["headersHelper"], shell=True, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    helper_headers = json.loads(ran.stdout)
    assert helper_headers == {"Authorization": f"Bearer {third_token}"}
    assert "system_info" in await list_tools(entry["url"], helper_headers)

    # The record says the entries are Entra (tenant and scope), never the token.
    record_text = record_path().read_text()
    assert first_token not in record_text
    recorded = {(e.client, e.scope): e for e in load_record()}
    assert recorded["cursor", "user"].extra == {"auth": "entra", "tenant": TENANT, "scope": SCOPE}
    assert recorded["cursor", "user"].secret == "inline"
    assert recorded["claude-code", "user"].secret == "helper"
    assert recorded["claude-code", "project"].secret == "env:AKSMCP_ENTRA_TOKEN"

    # An hour later: --refresh gets a new token and writes it; the server accepts the new one.
    second_token = fresh_token(signing_key, 2)
    assert second_token != first_token
    token_file.write_text(second_token)
    refreshed = await plan_refresh(recorded["cursor", "user"], forward=forward)
    assert refreshed.changed and second_token in (refreshed.after or "")
    assert second_token not in refreshed.diff()  # diffs are masked
    commit(refreshed)
    url, headers = endpoint("cursor", load("cursor", user.path), "entra", "unused")
    assert headers == {"Authorization": f"Bearer {second_token}"}
    assert "system_info" in await list_tools(url, headers)
    assert {(e.client, e.scope): e for e in load_record()}["cursor", "user"].extra["auth"] == "entra"
    project_refresh = await plan_refresh(recorded["claude-code", "project"], forward=forward)
    assert not project_refresh.changed and second_token not in (project_refresh.after or "")


async def test_no_sign_in_names_az_login_and_touches_nothing(
    ide_home: Home,
    kube: KubeContext,
    sandbox_session: ThreadedSandbox,
    fake_az: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "bin" / "az").write_text("#!/bin/sh\necho 'Please run az login to setup account.' >&2\nexit 1\n")
    await ensure_namespace(kube, NAMESPACE)
    await create(kube, NAMESPACE, entra_deployment("nosignin"))
    cursor_file = ide_home.home / ".cursor" / "mcp.json"
    cursor_file.parent.mkdir()
    cursor_file.write_text('{"mcpServers": {}}\n')
    kubeconfig = str(sandbox_session.kubeconfig_path)
    args = ["connect", "cursor", "deploy/nosignin", "-n", NAMESPACE, "--kubeconfig", kubeconfig]
    assert await asyncio.wait_for(asyncio.to_thread(main, args), 90) == 1
    err = capsys.readouterr().err
    assert f"az login --tenant {TENANT}" in err and "Entra ID" in err
    assert cursor_file.read_text() == '{"mcpServers": {}}\n' and load_record() == []


async def test_claude_code_runs_the_headers_helper(
    ide_home: Home,
    entra_server: str,  # noqa: F811
    fake_az: tuple[Path, Path],  # noqa: F811
    signing_key: rsa.RSAPrivateKey,  # noqa: F811
) -> None:
    """The real Claude Code CLI connects to the Entra-mode server with the token its headersHelper got.
    Async: the local JWKS server runs on this test's event loop, so the CLI runs in a worker thread."""
    claude = require_tool("claude")
    token_file, _calls = fake_az
    token = fresh_token(signing_key, 4)
    token_file.write_text(token)
    resolved = Resolved(Target("url", url=entra_server), entra_server, token, [], EntraAuth(TENANT, SCOPE))
    commit(plan("claude-code", resolved, scope="user", name="entra"))
    assert token not in (ide_home.home / ".claude.json").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKSMCP_", "ANTHROPIC_"))}

    def claude_list() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [claude, "mcp", "list"],
            cwd=ide_home.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    listed = await asyncio.to_thread(claude_list)
    line = listed.stdout.split("entra: ")[1].splitlines()[0]
    assert line.startswith(entra_server) and "✔ Connected" in line, listed.stdout + listed.stderr
    token_file.write_text("not-a-token")  # the helper's token is what makes it connect
    listed = await asyncio.to_thread(claude_list)
    assert "✔ Connected" not in listed.stdout.split("entra: ")[1].splitlines()[0], listed.stdout


async def test_claude_desktop_shim_gets_its_own_token(
    ide_home: Home,
    entra_server: str,  # noqa: F811
    fake_az: tuple[Path, Path],  # noqa: F811
    signing_key: rsa.RSAPrivateKey,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Claude Desktop's entry gets a token through azure-identity, then starts mcp-remote with it: the
    official SDK's stdio client runs the entry's command and lists the Entra-mode server's tools."""
    mcp_remote = require_tool("mcp-remote")
    token_file, _calls = fake_az
    token = fresh_token(signing_key, 5)
    token_file.write_text(token)
    resolved = Resolved(Target("url", url=entra_server), entra_server, token, [], EntraAuth(TENANT, SCOPE))
    change = plan("claude-desktop", resolved, scope="user", name="entra")
    commit(change)
    assert token not in change.path.read_text()
    assert change.entry is not None and change.entry.secret == "helper"
    entry = load("claude-desktop", change.path)["mcpServers"]["entra"]
    # `npx -y mcp-remote` from the registry = the pinned mcp-remote in .tools (no download in tests).
    npx = tmp_path / "bin" / "npx"
    npx.write_text(f'#!/bin/sh\n[ "$1 $2" = "-y mcp-remote" ] || exit 64\nshift 2\nexec {mcp_remote} "$@"\n')
    npx.chmod(0o755)
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env={"PATH": os.environ["PATH"], "HOME": str(ide_home.home)}
    )
    async with Client(params) as session:
        assert "system_info" in [t.name for t in (await session.list_tools()).tools]


async def test_cli_connect_and_refresh_through_the_managed_forward(
    ide_home: Home,
    daemon: None,
    kube: KubeContext,
    jwks_url: str,  # noqa: F811
    fake_az: tuple[Path, Path],  # noqa: F811
    signing_key: rsa.RSAPrivateKey,  # noqa: F811
) -> None:
    """The whole command: an Entra-mode server pod on the sandbox, `aksmcp connect` through its managed
    forward, then `aksmcp connect --refresh` an hour later (a new token from az)."""
    token_file, _calls = fake_az
    first, second = fresh_token(signing_key, 6), fresh_token(signing_key, 7)
    token_file.write_text(first)
    await ensure_namespace(kube, NAMESPACE)
    body = entra_deployment("entra-live")
    body["spec"]["replicas"] = 1
    body["spec"]["template"]["spec"]["containers"][0]["env"] += [
        {"name": k, "value": v}
        for k, v in {
            "AKSMCP_AUTH_MODE": "entra",
            "AKSMCP_ENTRA_TENANT_ID": TENANT,
            "AKSMCP_ENTRA_AUDIENCE": f"api://{CLIENT_ID},{CLIENT_ID}",
            "AKSMCP_ENTRA_SCOPES": SCOPE,
            "AKSMCP_ENTRA_ISSUER": f"https://login.microsoftonline.com/{TENANT}/v2.0",
            "AKSMCP_ENTRA_JWKS_URL": jwks_url,  # the local stand-in for the tenant's keys
        }.items()
    ]
    await create(kube, NAMESPACE, body)
    await wait_ready(kube, NAMESPACE, "app=entra-live", 1)

    done = await asyncio.to_thread(aksmcp, "connect", "cursor", "deploy/entra-live", "-n", NAMESPACE)
    assert done.returncode == 0, done.stderr
    assert "expires in about an hour" in done.stdout and "aksmcp connect --refresh" in done.stdout
    assert first not in done.stdout + done.stderr  # the token is never printed
    path = ide_home.home / ".cursor" / "mcp.json"
    url, headers = endpoint("cursor", load("cursor", path), "entra-live", "unused")
    assert headers == {"Authorization": f"Bearer {first}"}
    assert "system_info" in await list_tools(url, headers)

    token_file.write_text(second)
    refreshed = await asyncio.to_thread(aksmcp, "connect", "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "refreshed cursor 'entra-live'" in refreshed.stdout and "expires in about an hour" in refreshed.stdout
    assert second not in refreshed.stdout + refreshed.stderr
    url, headers = endpoint("cursor", load("cursor", path), "entra-live", "unused")
    assert headers == {"Authorization": f"Bearer {second}"}
    assert "system_info" in await list_tools(url, headers)
