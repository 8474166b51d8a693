"""Connect a client to an MCP endpoint: resolve the target, plan the file change, write it, record it.

The steps are separate so every front end shares them: `resolve` (async: the managed forward and
the key) gives the endpoint; `plan` returns a `PlannedChange` with the diff, which `--dry-run` and
the dashboard's preview show; `commit` writes it (atomic, one backup per run) and records the entry.
`plan_refresh`, `remove` and `refresh_entries_for_forward` reuse the same writers.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aksmcp_tui.core.ide import record
from aksmcp_tui.core.ide.clients import WRITERS, ClientWriter
from aksmcp_tui.core.ide.files import Backups, IdeError, atomic_write, check_writable, read_text, unified_diff
from aksmcp_tui.core.ide.model import EntrySpec, Scope, default_secret_env, valid_entry_name
from aksmcp_tui.core.ide.record import RecordedEntry, Target

DEFAULT_KEY_SECRET = "aksmcp-server-api-key"
KEY_FIELD = "api-key"

# A deployment target -> the MCP URL of a forward to it (default: the daemon's managed forward).
ForwardResolver = Callable[[Target], Awaitable[str]]


@dataclass
class Resolved:
    target: Target
    url: str  # the MCP endpoint
    api_key: str | None  # the API key, or an Entra ID access token when `entra` is set
    notes: list[str] = field(default_factory=list)  # e.g. the forward still waits for a ready pod
    entra: EntraAuth | None = None  # the deployment takes Entra ID tokens, not an API key


@dataclass(frozen=True)
class EntraAuth:
    """Where an entry's Entra ID token comes from: what the record keeps (never the token itself)."""

    tenant: str
    scope: str

    def token_command(self) -> str:
        """The Azure CLI command that prints a fresh token (for env-var references and helpers)."""
        from aksmcp_tui.core.components.entra import token_scope

        return (
            f"az account get-access-token --tenant {self.tenant} --scope {token_scope(self.scope)} "
            "--query accessToken --output tsv"
        )


@dataclass
class PlannedChange:
    client: str
    scope: str
    path: Path
    name: str
    before: str | None
    after: str | None
    notes: list[str] = field(default_factory=list)
    inline_secret: bool = False
    secrets: tuple[str, ...] = ()
    entry: RecordedEntry | None = None  # what gets recorded (None for removals)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        return unified_diff(self.path, self.before, self.after, self.secrets)


def writer_for(client: str) -> ClientWriter:
    try:
        return WRITERS[client]
    except KeyError:
        raise IdeError(f"unknown client {client!r}; choose one of: {', '.join(WRITERS)}") from None


def parse_target(
    text: str, *, namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None
) -> Target:
    """`deploy/NAME` (with -n/--context) or an http(s) URL (the MCP endpoint; `/mcp` is added to a bare host)."""
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        if not parts.hostname:
            raise IdeError(f"{text!r} is not a URL with a host")
        url = text if parts.path not in ("", "/") else text.rstrip("/") + "/mcp"
        return Target("url", url=url)
    kind, _, name = text.partition("/")
    if kind in ("deploy", "deployment", "deployments") and name and "/" not in name:
        return Target("deploy", context=context, namespace=namespace, deployment=name, kubeconfig=kubeconfig)
    raise IdeError(f"target {text!r}: expected deploy/NAME (with -n NAMESPACE) or an http(s) URL")


async def resolve(
    target: Target,
    *,
    forward: ForwardResolver | None = None,
    api_key: str | None = None,
    kube: Any = None,
) -> Resolved:
    """The endpoint URL and key: a deployment's managed forward and the key from its Secret.

    `kube` is an open KubeContext for the target's context (the dashboard's pool); without one, the
    target's context is opened and closed here.
    """
    if target.kind == "url":
        return Resolved(target, str(target.url), api_key)
    from aksmcp_tui.core.kube import KubeContext, KubeProblem

    try:
        if kube is not None:
            target = replace(target, namespace=target.namespace or kube.namespace, context=target.context or kube.name)
            key, entra = await deployment_credential(kube, str(target.namespace), str(target.deployment))
        else:
            async with await KubeContext.open(target.context, target.kubeconfig) as opened:
                namespace = target.namespace or opened.namespace
                target = replace(target, namespace=namespace, context=target.context or opened.name)
                key, entra = await deployment_credential(opened, namespace, str(target.deployment))
    except KubeProblem as exc:
        raise IdeError(str(exc)) from None
    notes: list[str] = []
    if forward is None:
        url, state = await managed_forward(target)
        if state != "active":
            notes.append(f"the forward is {state} (no ready pod answers yet); the entry works once one does")
    else:
        url = await forward(target)
    return Resolved(target, url, key, notes, entra)


async def deployment_credential(kube: Any, namespace: str, deployment: str) -> tuple[str, EntraAuth | None]:
    """What the deployment asks of a caller: an Entra ID token (through azure-identity, the developer's
    own sign-in) when its auth-entra annotations say so, else the API key from its Secret. Raised
    before anything is written: no sign-in names `az login --tenant T`."""
    from aksmcp_tui.core.components.annotations import entra_client_settings
    from aksmcp_tui.core.components.entra import EntraTokenError, entra_access_token

    spec = await _get_deployment(kube, namespace, deployment)
    settings = entra_client_settings(spec)
    if settings is None:
        return await read_api_key(kube, namespace, deployment), None
    tenant, _client_id, scope = settings
    try:
        token = await entra_access_token(tenant, scope)
    except EntraTokenError as exc:
        raise IdeError(f"deploy/{deployment} uses Entra ID: {exc}") from None
    return token, EntraAuth(tenant, scope)


async def _get_deployment(kube: Any, namespace: str, deployment: str) -> dict[str, Any]:
    from aksmcp_tui.core.kube import KubeProblem

    try:
        return dict(await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"))
    except KubeProblem as exc:
        if exc.kind == "not_found":
            raise IdeError(f"deployment {namespace}/{deployment} not found") from None
        raise


def _entra_helper(
    writer: ClientWriter, resolved: Resolved, scope: Scope, secret_env: str | None
) -> tuple[str, str] | None:
    """A command that fetches the token beats an inline token (nothing in the file expires); user
    scope only, since it names this machine's interpreter, and not when --secret-env asks for a reference."""
    if resolved.entra is None or not writer.headers_helper or scope != "user" or secret_env:
        return None
    return resolved.entra.tenant, resolved.entra.scope


def token_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (read, not verified: only to tell the user when it runs out)."""
    import json

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def entra_notes(client: str, resolved: Resolved, spec: EntrySpec) -> list[str]:
    """What a user must know about an Entra ID entry: it expires, and how it is renewed."""
    assert resolved.entra is not None
    if spec.entra_helper:
        return []  # the writer says how its command fetches a fresh token
    if client == "vscode":
        # VS Code keeps what it is given in its secret storage: the file never changes, so refresh cannot help.
        return [
            f"VS Code asks for the token, not an API key: paste the output of `{resolved.entra.token_command()}`; "
            "it expires in about an hour, then clear it (Command Palette: MCP: Reset Cached Inputs) and paste a new one"
        ]
    expiry = token_expiry(resolved.api_key or "")
    when = f" (at {time.strftime('%H:%M UTC', time.gmtime(expiry))})" if expiry else ""
    notes = [
        f"Entra ID token from azure-identity (tenant {resolved.entra.tenant}): it expires in about an hour{when}; "
        "`aksmcp connect --refresh` renews every recorded Entra entry"
    ]
    if spec.secret_mode == "reference":
        notes.append(
            f"the token is not in the file: set {spec.secret_env} to the output of `{resolved.entra.token_command()}`"
        )
    return notes


async def read_api_key(kube: Any, namespace: str, deployment: str) -> str:
    """The API key from the Secret the deployment mounts (the base's default name when it names none)."""
    from aksmcp_tui.core.kube import KubeProblem

    try:
        spec = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
    except KubeProblem as exc:
        if exc.kind == "not_found":
            raise IdeError(f"deployment {namespace}/{deployment} not found") from None
        raise
    secret_name, field_name = key_secret_of(spec)
    try:
        secret = await kube.get(f"/api/v1/namespaces/{namespace}/secrets/{secret_name}")
    except KubeProblem as exc:
        if exc.kind == "not_found":
            raise IdeError(
                f"missing key: Secret {namespace}/{secret_name} (the API key of deploy/{deployment}) does not exist"
            ) from None
        if exc.kind == "forbidden":
            raise IdeError(f"missing key: not allowed to read Secret {namespace}/{secret_name} ({exc})") from None
        raise
    raw = (secret.get("data") or {}).get(field_name)
    if not raw:
        raise IdeError(f"missing key: Secret {namespace}/{secret_name} has no {field_name!r} field")
    try:
        return base64.b64decode(raw).decode("utf-8").strip()
    except (ValueError, UnicodeDecodeError):
        raise IdeError(f"missing key: Secret {namespace}/{secret_name} field {field_name!r} is not text") from None


def key_secret_of(deployment: dict[str, Any]) -> tuple[str, str]:
    """Which Secret and field hold the key: a volume projecting `api-key`, or an AKSMCP_API_KEY env ref."""
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or []:
        for env in container.get("env") or []:
            ref = ((env.get("valueFrom") or {}).get("secretKeyRef")) or {}
            if env.get("name") == "AKSMCP_API_KEY" and ref.get("name"):
                return str(ref["name"]), str(ref.get("key") or KEY_FIELD)
    for volume in pod.get("volumes") or []:
        secret = volume.get("secret") or {}
        items = secret.get("items") or []
        if secret.get("secretName") and (
            any(i.get("key") == KEY_FIELD for i in items) or (not items and volume.get("name") == KEY_FIELD)
        ):
            return str(secret["secretName"]), KEY_FIELD
    return DEFAULT_KEY_SECRET, KEY_FIELD


async def managed_forward(target: Target) -> tuple[str, str]:
    """The deployment's managed forward (created when missing), through the forward daemon: its MCP
    URL and state."""
    import importlib

    try:
        forward = importlib.import_module("aksmcp_tui.core.forward")
    except ImportError:
        forward = None
    # Looked up by name: the daemon client (issue 7) may be absent from a build that has the engine only.
    ensure_forward = getattr(forward, "ensure_forward", None)
    if ensure_forward is None:
        try:
            ensure_forward = importlib.import_module("aksmcp_tui.core.forward.control").ensure_forward
        except (ImportError, AttributeError):
            ensure_forward = None
    ForwardSpec = getattr(forward, "ForwardSpec", None)
    if ensure_forward is None or ForwardSpec is None:
        raise IdeError(
            "missing forward: managed forwards are not available in this aksmcp build; connect with a URL instead"
        )
    spec = ForwardSpec(
        context=str(target.context),
        namespace=str(target.namespace),
        target=f"deploy/{target.deployment}",
        kubeconfig=target.kubeconfig,
    )
    try:
        status = await ensure_forward(spec)
    except Exception as exc:  # the daemon's own errors: say which forward failed
        raise IdeError(f"missing forward: cannot forward {target.describe()}: {exc}") from None
    if status.state == "failed":
        raise IdeError(f"missing forward: the forward of {target.describe()} failed: {status.last_error}")
    return str(status.mcp_url), str(status.state)


def plan(
    client: str,
    resolved: Resolved,
    *,
    scope: Scope = "user",
    name: str | None = None,
    project_dir: Path | None = None,
    secret_env: str | None = None,
    force: bool = False,
) -> PlannedChange:
    """The change to one client's file; nothing is written. Raises IdeError for anything refused,
    including an entry of that name that aksmcp did not write (unless `force`)."""
    writer = writer_for(client)
    writer.check_scope(scope)
    entry_name = name or _default_name(resolved.target)
    if not valid_entry_name(entry_name):
        raise IdeError(f"entry name {entry_name!r}: use letters, digits, '-', '_' or '.' (at most 64)")
    path = writer.path(scope, (project_dir or Path.cwd()).resolve())
    spec = EntrySpec(
        name=entry_name,
        url=resolved.url,
        api_key=resolved.api_key,
        scope=scope,
        secret_env=secret_env or default_secret_env(entry_name, token=resolved.entra is not None),
        force_reference=secret_env is not None,
        entra=resolved.entra is not None,
        entra_helper=_entra_helper(writer, resolved, scope, secret_env),
    )
    before = read_text(path)
    if not force and before is not None and writer.get_entry(before, path, entry_name) is not None:
        ours = RecordedEntry(client, scope, str(path), entry_name, resolved.target, "", "").id
        if not any(e.id == ours for e in record.load()):
            raise IdeError(
                f"{path} already has an entry {entry_name!r} that aksmcp did not write; "
                "choose another --name, or --force to replace it"
            )
    rendered = writer.write(before, path, spec)
    rendered.text = _same_line_endings(before, rendered.text)
    writer.parse(rendered.text, path)  # what we wrote must parse as the client's format
    secret = {
        "none": "none",
        "inline": "inline",
        "reference": f"env:{spec.secret_env}",
    }[spec.secret_mode]
    if client == "vscode" and secret != "none":
        secret = "input"  # VS Code keeps the key in its secret storage in either scope
    if spec.entra_helper:
        secret = "helper"
    entry = RecordedEntry(
        client=client,
        scope=scope,
        file=str(path),
        name=entry_name,
        target=resolved.target,
        url=resolved.url,
        secret=secret,
        extra={"secret_env": spec.secret_env} if secret_env else {},
    )
    if resolved.entra is not None:
        # --refresh finds Entra entries by this, and gets a new token from the same tenant and API.
        entry.extra.update(auth="entra", tenant=resolved.entra.tenant, scope=resolved.entra.scope)
        rendered.notes.extend(entra_notes(client, resolved, spec))
    keep_private = rendered.inline_secret or _already_private(path)
    rendered.notes.extend(resolved.notes)
    parts = urlsplit(resolved.url)
    if resolved.api_key and parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        rendered.notes.append(
            f"{parts.hostname} is reached over plain http: the key crosses the network unencrypted (use https)"
        )
    return PlannedChange(
        client,
        scope,
        path,
        entry_name,
        before,
        rendered.text,
        rendered.notes,
        keep_private,
        tuple(s for s in (resolved.api_key,) if s),
        entry,
    )


def commit(change: PlannedChange, backups: Backups | None = None) -> Path | None:
    """Write the planned change (unless it changes nothing) and record the entry; returns the backup."""
    backup = None
    if change.changed:
        check_writable(change.path)
        if read_text(change.path) != change.before:
            raise IdeError(f"{change.path} changed while the change was prepared; run again")
        backup = (backups or Backups()).save(change.path, change.before)
        assert change.after is not None
        atomic_write(change.path, change.after, private=change.inline_secret)
    if change.entry is not None:
        change.entry.written_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record.upsert(change.entry)
    return backup


def plan_remove(entry: RecordedEntry) -> PlannedChange:
    writer = writer_for(entry.client)
    path = Path(entry.file)
    before = read_text(path)
    after = before
    if before is not None and writer.get_entry(before, path, entry.name) is not None:
        after = _same_line_endings(before, writer.remove(before, path, entry.name))
        writer.parse(after, path)
    return PlannedChange(entry.client, entry.scope, path, entry.name, before, after)


def remove(entry: RecordedEntry, backups: Backups | None = None) -> PlannedChange:
    change = plan_remove(entry)
    if change.changed:
        check_writable(change.path)
        (backups or Backups()).save(change.path, change.before)
        assert change.after is not None
        atomic_write(change.path, change.after, private=_already_private(change.path))
    record.discard(entry.id)
    return change


async def plan_refresh(entry: RecordedEntry, *, forward: ForwardResolver | None = None) -> PlannedChange:
    """Rewrite a recorded entry from its target as it is now (the forward's URL, the Secret's key)."""
    if entry.target.kind == "url":
        # A URL entry's endpoint and key came from the user: there is nothing newer to write.
        path = Path(entry.file)
        text = read_text(path)
        return PlannedChange(
            entry.client, entry.scope, path, entry.name, text, text, ["a URL target: nothing to refresh"]
        )
    resolved = await resolve(entry.target, forward=forward)
    secret_env = entry.extra.get("secret_env")
    change = plan(
        entry.client,
        resolved,
        scope="project" if entry.scope == "project" else "user",
        name=entry.name,
        project_dir=_project_dir_of(entry),
        secret_env=str(secret_env) if secret_env else None,
    )
    if entry.secret.startswith("env:") and change.entry is not None and change.entry.secret != entry.secret:
        change.entry.secret = entry.secret
    return change


def refresh_entries_for_forward(old_local_url: str, new_local_url: str) -> list[str]:
    """Rewrite every recorded entry that points at `old_local_url` (a forward's local URL, no path)
    to `new_local_url`; returns "client name (file)" for each entry changed. Called by the forward
    daemon when a managed forward's port has to change. Keys are left as the files have them."""
    old = old_local_url.rstrip("/")
    new = new_local_url.rstrip("/")
    changed: list[str] = []
    backups = Backups()
    for entry in record.load():
        if not (entry.url == old or entry.url.startswith(old + "/")):
            continue
        writer = writer_for(entry.client)
        path = Path(entry.file)
        try:
            before = read_text(path)
            current = writer.get_entry(before, path, entry.name) if before is not None else None
            if before is None or current is None:
                continue  # removed by hand: nothing to rewrite
            updated = _replace_prefix(current, old, new)
            if updated == current:
                continue
            after = _same_line_endings(before, writer.put_entry(before, path, entry.name, updated))
            check_writable(path)
            backups.save(path, before)
            atomic_write(path, after, private=_already_private(path))
        except IdeError:
            continue  # one unwritable file must not stop the others; `aksmcp connect --list` shows it
        entry.url = new + entry.url[len(old) :]
        record.upsert(entry)
        changed.append(f"{entry.client} {entry.name} ({path})")
    return changed


def refresh_entries_for_target(context: str, namespace: str, target: str, new_local_url: str) -> list[str]:
    """A managed forward of `target` (deploy/NAME) now listens on `new_local_url` (re-created on another
    port): rewrite the recorded entries that point at an earlier forward of the same deployment."""
    kind, _, name = target.partition("/")
    if kind not in ("deploy", "deployment", "deployments") or not name:
        return []
    new = new_local_url.rstrip("/")
    olds = {
        _local_url(e.url)
        for e in record.load()
        if e.target.kind == "deploy"
        and e.target.deployment == name
        and e.target.namespace == namespace
        and e.target.context == context
        and _local_url(e.url) != new
    }
    changed: list[str] = []
    for old in sorted(olds):
        changed += refresh_entries_for_forward(old, new)
    return changed


def _local_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def entry_state(entry: RecordedEntry) -> str:
    """ "ok", "missing" (removed by hand), "changed" (URL differs), or "unreadable"."""
    writer = writer_for(entry.client)
    path = Path(entry.file)
    try:
        current = writer.get_entry(read_text(path), path, entry.name)
    except IdeError:
        return "unreadable"
    if current is None:
        return "missing"
    return "ok" if writer.entry_url(current) == entry.url else "changed"


def _same_line_endings(before: str | None, after: str) -> str:
    """A file written with CRLF (Windows editors) keeps CRLF: new lines from the editors are LF."""
    if before is None or "\r\n" not in before:
        return after
    return re.sub(r"(?<!\r)\n", "\r\n", after)


def _replace_prefix(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new + value[len(old) :] if value == old or value.startswith(old + "/") else value
    if isinstance(value, dict):
        return {k: _replace_prefix(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_prefix(v, old, new) for v in value]
    return value


def _default_name(target: Target) -> str:
    if target.kind == "deploy":
        return str(target.deployment)
    host = urlsplit(str(target.url)).hostname or "mcp"
    return host.replace(":", "-")


def _already_private(path: Path) -> bool:
    try:
        return path.stat().st_mode & 0o077 == 0
    except FileNotFoundError:
        return False


def _project_dir_of(entry: RecordedEntry) -> Path:
    """The project folder a project-scope file lives in (e.g. PROJECT/.vscode/mcp.json)."""
    path = Path(entry.file)
    if entry.scope != "project":
        return Path.cwd()
    # .mcp.json sits in the project itself; the others one or two folders down.
    for parent in [path.parent, *path.parents]:
        if WRITERS[entry.client].path("project", parent) == path:
            return parent
    return path.parent
