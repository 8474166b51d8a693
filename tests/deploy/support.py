"""Helpers for the deploy tests: projects, overlay patches, offline wheels."""

from __future__ import annotations

from pathlib import Path

from aksmcp_tui.core.deploy.scaffold import init_project

REFERENCE_IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"
REGISTRY_USER = "pusher"


def make_project(root: Path, name: str, namespace: str, **kwargs: object) -> Path:
    return init_project(name, directory=root / name, namespace=namespace, **kwargs).path  # type: ignore[arg-type]


def add_patch(project: Path, filename: str, text: str) -> None:
    """Add an overlay patch to the project's manifests/kustomization.yaml (as a user would)."""
    import yaml

    manifests = project / "manifests"
    (manifests / filename).write_text(text)
    kustomization = yaml.safe_load((manifests / "kustomization.yaml").read_text())
    kustomization.setdefault("patches", []).append({"path": filename})
    (manifests / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))


def offline_wheels(project: Path, dependencies: Path) -> None:
    """wheels/ in the project: the shared dependency wheels plus the project's own, so the image
    build needs no network (the Dockerfile installs from wheels/ when present; it is never edited)."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(dependencies, project / "wheels")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            str(project),
            "--wheel-dir",
            str(project / "wheels"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
