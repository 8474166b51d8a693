"""Image catalog: how an image name becomes a local command.

The sandbox has no container runtime, so an image is only a name to look up:

* ``ghcr.io/aksmcp/aksmcp-server:<any tag>`` runs the reference server from source
  (``python -m aksmcp_server``), listening on the local port mapped to container port 8080.
* Images registered with :func:`register_image` (a scaffolded project, for example
  ``aksmcp.local/<name>:<tag>``) run the registered command from the registered directory.
  The registry is a JSON file, ``<state_dir>/images.json``, so other tools can add to it.
* A container with an explicit ``command`` runs that command whatever its image is.
* Anything else cannot be "pulled": the node reports ``ErrImagePull`` then ``ImagePullBackOff``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER_IMAGE_REPOSITORY = "ghcr.io/aksmcp/aksmcp-server"
SERVER_CONTAINER_PORT = 8080
CATALOG_FILE = "images.json"
# The server image's Dockerfile has ENTRYPOINT ["aksmcp-server"] and CMD ["--transport", "http"].
_SERVER_DEFAULT_ARGS = ["--transport", "http"]
_REPO_ROOT = Path(__file__).resolve().parents[3]


class ImageNotFound(Exception):
    """The image is neither in the catalog nor runnable through an explicit command."""


@dataclass
class ResolvedImage:
    """What to run for one container: the argv (before $(VAR) expansion) and extra settings."""

    argv: list[str]
    cwd: str | None = None
    # How many leading argv elements come from the catalog, not the pod spec (they are host paths,
    # never subject to the mount path rule nor $(VAR) expansion).
    fixed: int = 0
    env: dict[str, str] = field(default_factory=dict)
    # Env values that must win over the pod spec (the server must listen where the node expects).
    env_overrides: dict[str, str] = field(default_factory=dict)
    image_id: str = ""


def split_image(image: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` → (repo, tag); tag defaults to ``latest``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
        return repo, tag
    return name, "latest"


def catalog_path(state_dir: Path) -> Path:
    return Path(state_dir) / CATALOG_FILE


def load_catalog(state_dir: Path) -> dict[str, dict[str, Any]]:
    """The registered images; a missing or unreadable file is an empty catalog."""
    try:
        data = json.loads(catalog_path(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    images = data.get("images", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in images.items() if isinstance(v, dict)}


def register_image(state_dir: Path, image: str, command: list[str], cwd: str | Path | None = None) -> None:
    """Make ``image`` runnable in the sandbox: pods using it run ``command`` (+ the container's args) in ``cwd``.

    ``image`` may end in ``:*`` to match every tag of a repository.
    """
    if not command:
        raise ValueError("command must not be empty")
    path = catalog_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = load_catalog(state_dir)
    images[image] = {"command": [str(c) for c in command], "cwd": str(cwd) if cwd is not None else None}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"images": images}, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _server_env() -> dict[str, str]:
    if importlib.util.find_spec("aksmcp_server") is not None:
        return {}
    server_dir = _REPO_ROOT / "server"
    existing = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(server_dir), *([existing] if existing else [])])}


def _is_server_command(command: list[str]) -> bool:
    return bool(command) and os.path.basename(command[0]) == "aksmcp-server"


def resolve_image(state_dir: Path, container: dict[str, Any], mapped_ports: dict[int, int]) -> ResolvedImage:
    """The command for ``container`` (a pod spec container dict); raises ImageNotFound."""
    image = str(container.get("image") or "")
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    repo, tag = split_image(image)

    if repo == SERVER_IMAGE_REPOSITORY:
        overrides = {"AKSMCP_HOST": "127.0.0.1"}
        port = mapped_ports.get(SERVER_CONTAINER_PORT)
        if port is not None:
            overrides["AKSMCP_PORT"] = str(port)
        fixed = 0
        if command and not _is_server_command(command):
            argv = command + args
        else:
            # The entrypoint `aksmcp-server` becomes this interpreter running the package from source.
            # The interpreter prefix is the node's own, not the spec's: the mount path rule must not
            # touch it (a checkout under /tmp would otherwise be "rewritten" into an emptyDir at /tmp).
            interpreter = [sys.executable, "-m", "aksmcp_server"]
            rest = command[1:] if command else []
            argv = [*interpreter, *rest, *(args if (args or command) else _SERVER_DEFAULT_ARGS)]
            fixed = len(interpreter)
        return ResolvedImage(
            argv=argv, env=_server_env(), env_overrides=overrides, image_id=f"sandbox://{repo}:{tag}", fixed=fixed
        )

    registered = load_catalog(state_dir)
    entry = registered.get(image) or registered.get(f"{repo}:{tag}") or registered.get(f"{repo}:*")
    if entry is not None:
        registered_command = [str(c) for c in entry.get("command") or []]
        argv = command + args if command else registered_command + args
        cwd = entry.get("cwd")
        return ResolvedImage(
            argv=argv,
            cwd=str(cwd) if cwd else None,
            image_id=f"sandbox://{repo}:{tag}",
            fixed=0 if command else len(registered_command),
        )

    if command:
        return ResolvedImage(argv=command + args, image_id=f"sandbox://{repo}:{tag}")
    raise ImageNotFound(
        f'failed to pull and unpack image "{image}": the sandbox image catalog has no entry for it '
        "(register it with aksmcp_tui.sandbox.node.register_image, or give the container a command)"
    )
