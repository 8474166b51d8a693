"""An AKS cluster's credentials, merged into a kubeconfig as a new context (what `az aks get-credentials` does).

Rules: the kubeconfig is backed up before it changes; it is written atomically with mode 0600; only the
new cluster, user and context entries are added (every other entry, and current-context when one is
set, stay as they were); a name already used by a different entry is a clash unless `overwrite`.
For Entra ID clusters the user entry is kubelogin's exec format, with the login mode that matches the
credential aksmcp signed in with; a missing kubelogin binary is a note, not an error.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.azure.cloud import AzureCloud
from aksmcp_tui.core.azure.models import AksCluster
from aksmcp_tui.core.azure.session import AzureError, AzureSession, describe_error
from aksmcp_tui.core.paths import default_kubeconfig_path

KUBELOGIN_INSTALL = (
    "kubelogin is not installed, and this Entra ID cluster needs it to sign in: install it with "
    "`az aks install-cli`, or download it from https://github.com/Azure/kubelogin/releases and put it on PATH"
)
_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


class KubeconfigClash(AzureError):
    """A name in the kubeconfig already means something else; the message says the choices."""


@dataclass(frozen=True)
class MergeResult:
    kubeconfig: Path
    context: str
    backup: Path | None
    replaced: tuple[str, ...]  # "context NAME" etc. that --overwrite replaced
    unchanged: bool  # the same entries were already there: nothing was written
    current_context: str | None
    notes: tuple[str, ...]
    login_mode: str | None  # kubelogin --login, for Entra ID clusters

    def to_json(self) -> dict[str, Any]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "backup": str(self.backup) if self.backup else None,
            "replaced": list(self.replaced),
            "unchanged": self.unchanged,
            "current_context": self.current_context,
            "login_mode": self.login_mode,
            "notes": list(self.notes),
        }


def target_kubeconfig(kubeconfig: str | None) -> Path:
    """Where new entries go: --kubeconfig, else the first $KUBECONFIG file (as kubectl writes), else ~/.kube/config."""
    if kubeconfig:
        return Path(kubeconfig).expanduser()
    env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if env:
        return Path(env[0]).expanduser()
    return default_kubeconfig_path()


async def fetch_credentials(session: AzureSession, cluster: AksCluster, *, admin: bool = False) -> dict[str, Any]:
    """The kubeconfig the management API returns for the cluster (user credentials in exec format)."""
    from azure.mgmt.containerservice.aio import ContainerServiceClient

    if admin and not cluster.local_accounts:
        raise AzureError(
            f"{cluster.name} has local accounts disabled, so there are no admin credentials; "
            "use the user credentials (without --admin)"
        )
    credential = await session.credential()
    options = session.client_options()
    try:
        async with ContainerServiceClient(credential, cluster.subscription_id, **options) as client:
            ops = client.managed_clusters
            if admin:
                result = await ops.list_cluster_admin_credentials(cluster.resource_group, cluster.name)
            else:
                result = await ops.list_cluster_user_credentials(cluster.resource_group, cluster.name, format="exec")
    except Exception as error:
        raise AzureError(f"cannot get the credentials of {cluster.name}: {describe_error(error)[1]}") from error
    kubeconfigs = result.kubeconfigs or []
    if not kubeconfigs or not kubeconfigs[0].value:
        raise AzureError(f"the management API returned no kubeconfig for {cluster.name}")
    raw = kubeconfigs[0].value
    text = raw.decode() if isinstance(raw, bytes | bytearray) else base64.b64decode(raw).decode()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise AzureError(f"the kubeconfig returned for {cluster.name} is not a mapping")
    return data


def _arg(args: list[str], flag: str) -> str | None:
    for index, value in enumerate(args):
        if value == flag and index + 1 < len(args):
            return args[index + 1]
        if value.startswith(flag + "="):
            return value.split("=", 1)[1]
    return None


def kubelogin_args(args: list[str], mode: str, cloud: AzureCloud) -> list[str]:
    """kubelogin get-token arguments for `mode`, keeping the cluster's server id (and tenant where needed).

    The same shape `kubelogin convert-kubeconfig -l MODE` writes. Secrets are never written: spn reads
    AZURE_CLIENT_SECRET, workloadidentity its token file, from the environment at run time.
    """
    server_id = _arg(args, "--server-id") or "6dae42f8-4368-4678-94ff-3960e28e3630"
    tenant = _arg(args, "--tenant-id")
    environment = _arg(args, "--environment") or cloud.kubelogin_environment
    out = ["get-token", "--login", mode, "--server-id", server_id]
    if mode == "devicecode":
        client_id = _arg(args, "--client-id")
        out += ["--environment", environment]
        if client_id:
            out += ["--client-id", client_id]
        if tenant:
            out += ["--tenant-id", tenant]
    elif mode == "spn":
        out += ["--environment", environment]
        client_id = os.environ.get("AZURE_CLIENT_ID")
        if client_id:
            out += ["--client-id", client_id]
        tenant = os.environ.get("AZURE_TENANT_ID") or tenant
        if tenant:
            out += ["--tenant-id", tenant]
    elif mode == "msi":
        client_id = os.environ.get("AZURE_CLIENT_ID")
        if client_id:
            out += ["--client-id", client_id]
    return out


def prepare(
    kubeconfig: dict[str, Any],
    *,
    login_mode: str | None,
    cloud: AzureCloud,
    context_name: str | None = None,
) -> tuple[dict[str, Any], str | None, list[str]]:
    """The entries to merge (login mode applied, renamed to `context_name`), the login mode used, notes."""
    notes: list[str] = []
    used_mode: str | None = None
    data = {section: list(kubeconfig.get(section) or []) for section, _ in _SECTIONS}
    for item in data["users"]:
        exec_conf = (item.get("user") or {}).get("exec")
        if isinstance(exec_conf, dict) and os.path.basename(str(exec_conf.get("command", ""))) == "kubelogin":
            used_mode = login_mode or _arg(list(exec_conf.get("args") or []), "--login") or "devicecode"
            exec_conf["args"] = kubelogin_args([str(a) for a in exec_conf.get("args") or []], used_mode, cloud)
            if shutil.which("kubelogin") is None:
                notes.append(KUBELOGIN_INSTALL)
    if context_name:
        if len(data["contexts"]) != 1:
            raise AzureError("the returned kubeconfig does not have exactly one context to rename")
        context = data["contexts"][0]
        old_cluster, old_user = context["context"]["cluster"], context["context"]["user"]
        new_user = f"{old_user}_{context_name}"
        for item in data["clusters"]:
            if item["name"] == old_cluster:
                item["name"] = context_name
        for item in data["users"]:
            if item["name"] == old_user:
                item["name"] = new_user
        context["name"] = context_name
        context["context"] = {**context["context"], "cluster": context_name, "user": new_user}
    return {**data, "current-context": (data["contexts"][0]["name"] if data["contexts"] else None)}, used_mode, notes


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise AzureError(f"{path} is not valid YAML, so nothing was merged into it: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AzureError(f"{path} is not a kubeconfig (not a mapping), so nothing was merged into it")
    return data


def _write_private(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`, mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _backup(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    backup = path.with_name(f"{path.name}.aksmcp-backup-{stamp}")
    _write_private(backup, path.read_text(encoding="utf-8"))
    return backup


def merge_kubeconfig(path: Path, new: dict[str, Any], *, overwrite: bool = False) -> MergeResult:
    """Merge the entries of `new` into the kubeconfig at `path` (see the module docstring). Blocking I/O."""
    existing = _load(path)
    merged = {key: value for key, value in existing.items()}
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    clashes: list[str] = []
    replaced: list[str] = []
    changed = False
    for section, inner in _SECTIONS:
        entries = list(merged.get(section) or [])
        for item in new.get(section) or []:
            name = item["name"]
            index = next((i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("name") == name), None)
            if index is None:
                entries.append(item)
                changed = True
            elif (entries[index].get(inner) or {}) != (item.get(inner) or {}):
                if overwrite:
                    entries[index] = item
                    replaced.append(f"{inner} {name}")
                    changed = True
                else:
                    clashes.append(f"{inner} {name!r}")
        merged[section] = entries
    context = str(new.get("current-context") or "")
    if clashes:
        raise KubeconfigClash(
            f"{path} already has a different {', '.join(clashes)}; nothing was changed. "
            f"Pass --overwrite to replace {'it' if len(clashes) == 1 else 'them'}, "
            "or --context-name NAME to add the cluster under another name."
        )
    notes: list[str] = []
    current = existing.get("current-context") or None
    if not current:
        merged["current-context"] = context
        current = context
        changed = True
    elif current != context:
        notes.append(f"current context is still {current}; switch with: kubectl config use-context {context}")
    backup: Path | None = None
    if changed:
        if path.exists():
            backup = _backup(path)
        _write_private(path, yaml.safe_dump(merged, sort_keys=False, default_flow_style=False))
    elif path.exists():
        path.chmod(0o600)
    return MergeResult(path, context, backup, tuple(replaced), not changed, current, tuple(notes), None)


async def get_credentials(
    session: AzureSession,
    cluster: AksCluster,
    *,
    admin: bool = False,
    kubeconfig: str | None = None,
    overwrite: bool = False,
    context_name: str | None = None,
) -> MergeResult:
    """Fetch the cluster's credentials and merge them: the whole of `aksmcp aks credentials`."""
    import asyncio
    from dataclasses import replace

    from aksmcp_tui.core.azure.credential import kubelogin_login_mode

    raw = await fetch_credentials(session, cluster, admin=admin)
    mode = kubelogin_login_mode(await session.credential())
    new, used_mode, notes = prepare(raw, login_mode=mode, cloud=session.cloud, context_name=context_name)
    path = target_kubeconfig(kubeconfig)
    result = await asyncio.to_thread(merge_kubeconfig, path, new, overwrite=overwrite)
    if cluster.stopped:
        notes.append(
            f"{cluster.name} is stopped: start it with `az aks start -n {cluster.name} -g "
            f"{cluster.resource_group}` before connecting"
        )
    if cluster.private:
        notes.append(f"{cluster.name} is a private cluster: its API server is reachable only from its network")
    return replace(result, notes=(*result.notes, *notes), login_mode=used_mode)
