"""Kubeconfig contexts, resolved the way kubectl resolves them.

The official Python client takes `current-context` from the *last* file of a multi-file
`$KUBECONFIG`; kubectl takes it from the *first* file that sets it (kubernetes-client/python
#2180, #2239). We therefore merge the files ourselves and hand the client a single-context
dict (see `Kubeconfig.context_config`), so both tools always agree on which cluster is meant.

kubectl's merge rules, implemented here:
- `--kubeconfig FILE` (our `kubeconfig` argument) means exactly that file (or `os.pathsep` list);
  an explicitly named file that does not exist is an error.
- otherwise `$KUBECONFIG` (an `os.pathsep` list; empty entries and missing files are skipped),
  otherwise `~/.kube/config` (missing: no contexts, not an error).
- for clusters, users and contexts the first file that defines a name wins; `current-context`
  comes from the first file that sets a non-empty one.
- relative paths inside a file (certificate-authority, client-certificate, client-key,
  tokenFile, an exec command with a slash) are relative to that file's directory.

Reading files blocks; UI code calls these functions through `asyncio.to_thread`.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.paths import default_kubeconfig_path


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used; the message is meant for the user as is."""


@dataclass(frozen=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str | None
    server: str | None
    source_file: Path
    is_current: bool
    auth_kind: str  # "token" | "token-file" | "exec:<command>" | "cert" | "basic" | "auth-provider:<name>" | "none"


@dataclass
class _Entry:
    body: dict[str, Any]
    source: Path


@dataclass
class Kubeconfig:
    """The merged view of one or more kubeconfig files."""

    files: list[Path]
    contexts: dict[str, _Entry] = field(default_factory=dict)
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    current_context: str | None = None

    def context_infos(self) -> list[ContextInfo]:
        infos = []
        for name, entry in self.contexts.items():
            ctx = entry.body
            cluster_name = str(ctx.get("cluster") or "")
            user_name = str(ctx.get("user") or "")
            cluster = self.clusters.get(cluster_name)
            user = self.users.get(user_name)
            infos.append(
                ContextInfo(
                    name=name,
                    cluster=cluster_name,
                    user=user_name,
                    namespace=ctx.get("namespace") or None,
                    server=(cluster.body.get("server") or None) if cluster else None,
                    source_file=entry.source,
                    is_current=name == self.current_context,
                    auth_kind=auth_kind(user.body if user else {}),
                )
            )
        return infos

    def context_config(self, name: str) -> dict[str, Any]:
        """A self-contained kubeconfig dict holding only context `name` (paths made absolute)."""
        entry = self.contexts.get(name)
        if entry is None:
            known = ", ".join(sorted(self.contexts)) or "none"
            raise KubeconfigError(f"context {name!r} is not in the kubeconfig (known contexts: {known})")
        ctx = entry.body
        cluster_name = str(ctx.get("cluster") or "")
        cluster = self.clusters.get(cluster_name)
        if cluster is None:
            raise KubeconfigError(f"context {name!r} refers to cluster {cluster_name!r}, which is not defined")
        if not cluster.body.get("server"):
            raise KubeconfigError(f"cluster {cluster_name!r} of context {name!r} has no server address")
        user_name = str(ctx.get("user") or "")
        user = self.users.get(user_name)
        users = [{"name": user_name, "user": copy.deepcopy(user.body)}] if user else []
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": name,
            "contexts": [{"name": name, "context": copy.deepcopy(ctx)}],
            "clusters": [{"name": cluster_name, "cluster": copy.deepcopy(cluster.body)}],
            "users": users,
        }


def auth_kind(user: dict[str, Any]) -> str:
    if isinstance(user.get("exec"), dict):
        command = str(user["exec"].get("command") or "?")
        return f"exec:{os.path.basename(command)}"
    if isinstance(user.get("auth-provider"), dict):
        return f"auth-provider:{user['auth-provider'].get('name', '?')}"
    if user.get("token"):
        return "token"
    if user.get("tokenFile"):
        return "token-file"
    if user.get("client-certificate") or user.get("client-certificate-data"):
        return "cert"
    if user.get("username"):
        return "basic"
    return "none"


def kubeconfig_files(kubeconfig: str | None = None) -> tuple[list[Path], bool]:
    """The files to merge, and whether they were named explicitly (then they must exist)."""
    if kubeconfig:
        return [Path(p).expanduser() for p in kubeconfig.split(os.pathsep) if p], True
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p], False
    return [default_kubeconfig_path()], False


_CLUSTER_PATH_KEYS = ("certificate-authority",)
_USER_PATH_KEYS = ("client-certificate", "client-key", "tokenFile")


def _absolutize(body: dict[str, Any], keys: tuple[str, ...], base: Path) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[key] = str(base / os.path.expanduser(value))
    exec_conf = body.get("exec")
    if isinstance(exec_conf, dict):
        command = exec_conf.get("command")
        # kubectl: a command containing a path separator is relative to the kubeconfig's directory.
        if isinstance(command, str) and os.sep in command and not os.path.isabs(command):
            exec_conf["command"] = str(base / command)
    return body


def _read_file(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise KubeconfigError(f"kubeconfig {path} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (expected a mapping at the top level)")
    return data


def _named_entries(data: dict[str, Any], section: str, inner: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        raise KubeconfigError(f"kubeconfig {path}: '{section}' must be a list")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise KubeconfigError(f"kubeconfig {path}: entry {index + 1} of '{section}' has no name")
        body = item.get(inner) or {}
        if not isinstance(body, dict):
            raise KubeconfigError(f"kubeconfig {path}: {section} entry {item['name']!r} has no '{inner}' mapping")
        result.append((item["name"], body))
    return result


def load_kubeconfig(kubeconfig: str | None = None) -> Kubeconfig:
    """Merge the kubeconfig files like kubectl (see the module docstring)."""
    files, explicit = kubeconfig_files(kubeconfig)
    merged = Kubeconfig(files=[])
    for path in files:
        data = _read_file(path)
        if data is None:
            if explicit:
                raise KubeconfigError(f"kubeconfig {path} does not exist")
            continue
        merged.files.append(path)
        base = path.resolve().parent
        for name, body in _named_entries(data, "clusters", "cluster", path):
            merged.clusters.setdefault(name, _Entry(_absolutize(body, _CLUSTER_PATH_KEYS, base), path))
        for name, body in _named_entries(data, "users", "user", path):
            merged.users.setdefault(name, _Entry(_absolutize(body, _USER_PATH_KEYS, base), path))
        for name, body in _named_entries(data, "contexts", "context", path):
            merged.contexts.setdefault(name, _Entry(body, path))
        current = data.get("current-context")
        if merged.current_context is None and isinstance(current, str) and current:
            merged.current_context = current
    return merged


def load_contexts(kubeconfig: str | None = None) -> list[ContextInfo]:
    """Every context, in file order (first definition wins); raises KubeconfigError."""
    return load_kubeconfig(kubeconfig).context_infos()


def current_context(kubeconfig: str | None = None) -> str | None:
    return load_kubeconfig(kubeconfig).current_context
