"""A project's `aksmcp.yaml`: what `aksmcp init` wrote and `aksmcp deploy` reads.

Only metadata lives here (name, namespace, image repository, template, port, build arguments and
the env var names of the project's Secret); the Kubernetes objects are in manifests/.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = "aksmcp.yaml"
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class ProjectError(Exception):
    """A project we cannot use; the message says what is wrong and how to fix it."""


def check_dns1123(value: str, what: str) -> str:
    """`value` when it is a DNS-1123 label (what Kubernetes needs for names and namespaces)."""
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise ProjectError(
            f"{what} {value!r} is not a valid Kubernetes name: use at most 63 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit (e.g. 'weather-tools')"
        )
    return value


@dataclass
class Project:
    name: str
    namespace: str = "mcp-system"
    image_repository: str = ""  # "" = aksmcp.local/<name> until a --registry says where to push
    template: str = "python"  # python | bridge | a catalog name
    port: int = 8080
    build_args: dict[str, str] = field(default_factory=dict)
    secret_env: list[str] = field(default_factory=list)  # keys of the <name>-env Secret
    replicas: int | None = None  # None = the manifests' own

    def to_yaml(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in ({}, [], None, "")}
        header = "# aksmcp project metadata (aksmcp init wrote it; aksmcp deploy reads it)\n"
        return header + yaml.safe_dump(data, sort_keys=False)

    @property
    def env_secret(self) -> str:
        return f"{self.name}-env"


def load_project(path: Path) -> Project:
    file = Path(path) / PROJECT_FILE
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path} has no {PROJECT_FILE}: create a project with `aksmcp init NAME`") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ProjectError(f"{file} must be a mapping with at least `name:`")
    known = set(Project.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProjectError(f"{file}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    project = Project(**data)
    check_dns1123(project.name, "project name")
    check_dns1123(project.namespace, "namespace")
    return project


def save_project(path: Path, project: Project) -> None:
    file = Path(path) / PROJECT_FILE
    tmp = file.with_suffix(".yaml.tmp")
    tmp.write_text(project.to_yaml(), encoding="utf-8")
    os.replace(tmp, file)
