"""A container's environment, volumes and paths, computed from the pod spec and the store.

Processes are not in a chroot, so a container's view of the file system is emulated by one rule
(the *mount path rule*): every env value, command/args element and workingDir that equals a
volumeMount's ``mountPath`` or lies under it (``<mountPath>/...``) is rewritten to the directory the
node materialised for that volume (``<state_dir>/pods/<uid>/volumes/<volume>[/<subPath>]``). A
``--flag=/path`` element is rewritten after its first ``=``. The longest matching mountPath wins.
So ``AKSMCP_API_KEY_FILE=/var/run/secrets/aksmcp/api-key`` becomes ``<dir>/api-key`` and
``AKSMCP_WORKSPACE=/workspace`` (an emptyDir mount) becomes the emptyDir's directory.
Paths that no mount covers are left alone (they name the host's files).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksmcp_tui.sandbox.store import NotFoundError, Store

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
_FIELD_INDEX = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
# The host variables a process needs to run at all (a real image brings its own PATH, HOME, ...).
_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class ContainerConfigError(Exception):
    """A referenced ConfigMap/Secret/key is missing: the container waits (CreateContainerConfigError)."""


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes $(VAR) expansion: known variables are replaced, unknown ones kept, $$ is a literal $."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(repl, value)


@dataclass
class MountMap:
    """mountPath → host directory, for the mount path rule."""

    mounts: list[tuple[str, str]]

    def rewrite(self, value: str) -> str:
        if value.startswith("/"):
            return self._rewrite_path(value)
        if value.startswith("-") and "=" in value:
            flag, _, rest = value.partition("=")
            if rest.startswith("/"):
                return f"{flag}={self._rewrite_path(rest)}"
        return value

    def _rewrite_path(self, path: str) -> str:
        for mount_path, host in self.mounts:
            if path == mount_path:
                return host
            if path.startswith(mount_path.rstrip("/") + "/"):
                return host + "/" + path[len(mount_path.rstrip("/")) + 1 :]
        return path


def _decode_secret(secret: dict[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "")
        except ValueError:
            out[key] = b""
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value).encode()
    return out


def _configmap_data(cm: dict[str, Any]) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for key, value in (cm.get("binaryData") or {}).items():
        out[key] = base64.b64decode(value or "")
    return out


async def _fetch(store: Store, resource: str, namespace: str, name: str, optional: bool) -> dict[str, Any] | None:
    try:
        return await store.get(resource, namespace, name)
    except NotFoundError:
        if optional:
            return None
        kind = "configmap" if resource == "configmaps" else "secret"
        raise ContainerConfigError(f'{kind} "{name}" not found') from None


def field_value(pod: dict[str, Any], path: str) -> str:
    meta = pod.get("metadata") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    m = _FIELD_INDEX.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise ContainerConfigError(f"unsupported fieldRef fieldPath {path!r}")


async def build_env(
    store: Store, pod: dict[str, Any], container: dict[str, Any], base: dict[str, str]
) -> dict[str, str]:
    """envFrom, then env (later wins), each value $(VAR)-expanded against what precedes it."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if "configMapRef" in source:
            ref = source["configMapRef"] or {}
            obj = await _fetch(store, "configmaps", namespace, ref.get("name", ""), bool(ref.get("optional")))
            data = _configmap_data(obj) if obj else {}
        elif "secretRef" in source:
            ref = source["secretRef"] or {}
            obj = await _fetch(store, "secrets", namespace, ref.get("name", ""), bool(ref.get("optional")))
            data = _decode_secret(obj) if obj else {}
        else:
            continue
        for key, value in data.items():
            env[prefix + key] = value.decode(errors="replace")
    for var in container.get("env") or []:
        name = var.get("name")
        if not name:
            continue
        if var.get("valueFrom"):
            resolved = await _value_from(store, pod, namespace, var["valueFrom"])
            if resolved is None:
                continue
            env[name] = resolved
        else:
            env[name] = expand(str(var.get("value") or ""), env)
    return env


async def _value_from(store: Store, pod: dict[str, Any], namespace: str, source: dict[str, Any]) -> str | None:
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"] or {}
        optional = bool(ref.get("optional"))
        obj = await _fetch(store, "configmaps", namespace, ref.get("name", ""), optional)
        data = _configmap_data(obj) if obj else {}
        if ref.get("key") not in data:
            if optional:
                return None
            raise ContainerConfigError(f"couldn't find key {ref.get('key')} in ConfigMap {namespace}/{ref.get('name')}")
        return data[ref["key"]].decode(errors="replace")
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"] or {}
        optional = bool(ref.get("optional"))
        obj = await _fetch(store, "secrets", namespace, ref.get("name", ""), optional)
        data = _decode_secret(obj) if obj else {}
        if ref.get("key") not in data:
            if optional:
                return None
            raise ContainerConfigError(f"couldn't find key {ref.get('key')} in Secret {namespace}/{ref.get('name')}")
        return data[ref["key"]].decode(errors="replace")
    if "fieldRef" in source:
        return field_value(pod, (source["fieldRef"] or {}).get("fieldPath", ""))
    if "resourceFieldRef" in source:
        return "0"
    return None


def base_env(pod: dict[str, Any], home: Path) -> dict[str, str]:
    """What every container process gets before the spec's env: a usable PATH, HOME, HOSTNAME.

    PYTHONUNBUFFERED=1 makes Python processes' logs appear line by line, as they would on a tty-less
    container runtime that users expect to stream (the spec can override it).
    """
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env["HOME"] = str(home)
    env["HOSTNAME"] = str((pod.get("metadata") or {}).get("name") or "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_file(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.chmod(path, mode)


async def materialise_volumes(store: Store, pod: dict[str, Any], volumes_dir: Path) -> dict[str, Path]:
    """Write ConfigMap/Secret volumes as files and create emptyDirs; volume name → directory.

    Secrets are written mode 0600 whatever defaultMode says (house rule: secrets on disk are 0600).
    Other volume types (PVCs, hostPath, ...) become empty directories: enough for a local stand-in.
    """
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    result: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name")
        if not name:
            continue
        target = volumes_dir / name
        if "configMap" in volume or "secret" in volume:
            is_secret = "secret" in volume
            src = volume.get("secret" if is_secret else "configMap") or {}
            obj_name = src.get("secretName" if is_secret else "name", "")
            obj = await _fetch(
                store, "secrets" if is_secret else "configmaps", namespace, obj_name, bool(src.get("optional"))
            )
            data = (_decode_secret(obj) if is_secret else _configmap_data(obj)) if obj else {}
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True, exist_ok=True)
            items = src.get("items")
            pairs = [(i.get("key"), i.get("path") or i.get("key")) for i in items] if items else [(k, k) for k in data]
            for key, rel in pairs:
                if key not in data:
                    if items and not src.get("optional"):
                        raise ContainerConfigError(f'key "{key}" not found in {obj_name}')
                    continue
                rel_path = Path(str(rel))
                if rel_path.is_absolute() or ".." in rel_path.parts:
                    continue
                mode = 0o600 if is_secret else 0o644
                _write_file(target / rel_path, data[key], mode)
            if is_secret:
                os.chmod(target, 0o700)
        else:
            target.mkdir(parents=True, exist_ok=True)
        result[name] = target
    return result


def mount_map(container: dict[str, Any], volume_dirs: dict[str, Path]) -> MountMap:
    mounts: list[tuple[str, str]] = []
    for mount in container.get("volumeMounts") or []:
        host = volume_dirs.get(mount.get("name", ""))
        mount_path = str(mount.get("mountPath") or "")
        if host is None or not mount_path.startswith("/"):
            continue
        sub = mount.get("subPath")
        host_path = host / sub if sub else host
        mounts.append((mount_path.rstrip("/") or "/", str(host_path)))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    return MountMap(mounts)
