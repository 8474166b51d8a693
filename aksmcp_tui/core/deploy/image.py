"""Build and push the project's image with the Docker SDK, as progress events.

The SDK is synchronous and streams JSON messages; a thread runs it and hands each message to the
event loop. Two traps handled here: a failed build or push does not raise, it arrives as an
`error` message inside the stream (we turn it into StepFailed); and the pushed digest only
appears in the final `aux` message (we deploy `repo@digest`, so the cluster runs exactly what was
pushed).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aksmcp_tui.core.deploy.events import DeployEvent, StepDone, StepFailed, StepProgress, StepStarted
from aksmcp_tui.core.deploy.project import Project

if TYPE_CHECKING:
    from aksmcp_tui.core.deploy.flow import DeployOptions

_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", "dist"}
_DONE = object()


def content_tag(path: Path) -> str:
    """`sha-<12 hex>` of the build context's files (names and bytes), for a directory without git."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            file = Path(root) / name
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            digest.update(file.read_bytes())
    return f"sha-{digest.hexdigest()[:12]}"


def source_tag(path: Path) -> str:
    """The git commit (+`-dirty` with uncommitted changes) of the project, else its content digest."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return content_tag(path)
    return f"{commit}-dirty" if dirty else commit


def image_repository(project: Project, registry: str | None) -> str:
    if registry:
        return f"{registry.rstrip('/')}/{project.name}"
    return project.image_repository or f"aksmcp.local/{project.name}"


async def _stream(produce: Callable[[], Iterator[dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    """Run a blocking generator of SDK messages in a thread; yield them on the loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def deliver(item: Any) -> None:
        # The loop may be gone when the consumer stopped early (a failed push ends the flow while
        # the SDK still drains its stream): then nobody waits for the item.
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            stop.set()

    def worker() -> None:
        try:
            for message in produce():
                if stop.is_set():
                    break
                deliver(message)
        except BaseException as exc:  # delivered to the loop, raised there
            deliver(exc)
        finally:
            deliver(_DONE)

    thread = threading.Thread(target=worker, name="docker-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _docker_client() -> Any:
    import docker

    return docker.from_env(timeout=600)


async def _credentials(registry: str, login: tuple[str, str] | None) -> tuple[dict[str, str] | None, str]:
    """(auth_config for push, where it came from); None = the docker config's (the SDK reads it)."""
    if login is not None:
        return {"username": login[0], "password": login[1]}, "--registry-login"
    host = registry.split("/", 1)[0]
    if host.endswith((".azurecr.io", ".azurecr.cn", ".azurecr.us")):
        try:
            from aksmcp_tui.core.azure.acr import acr_docker_credentials  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None, (
                "the docker config (aksmcp's Azure ACR login is not in this build: run `az acr login -n "
                f"{host.split('.')[0]}` first)"
            )
        username, password = await acr_docker_credentials(host)
        return {"username": username, "password": password}, "an ACR token from your Azure credential"
    return None, "the docker config"


async def build_and_push(project: Project, opts: DeployOptions, result: list[str]) -> AsyncIterator[DeployEvent]:
    """Build `opts.path` and push it; appends the pinned image reference (repo@digest) to `result`.
    Yields StepFailed (and stops) on the first failure."""
    path = opts.path.resolve()
    repository = image_repository(project, opts.registry)
    tag = opts.tag or await asyncio.to_thread(source_tag, path)
    reference = f"{repository}:{tag}"
    yield StepStarted("build", f"{reference} from {path}")
    try:
        client = await asyncio.to_thread(_docker_client)
        await asyncio.to_thread(client.ping)
    except Exception as exc:
        yield StepFailed(
            "build",
            f"Docker is not reachable: {exc}",
            "start Docker (or set DOCKER_HOST), or deploy an existing image with --image REF",
        )
        return
    image_id = ""
    try:
        stream = client.api.build(
            path=str(path), tag=reference, buildargs=dict(project.build_args), rm=True, forcerm=True, decode=True
        )
        async for message in _stream(lambda: stream):
            if "error" in message:
                detail = str(message.get("error") or "").strip()
                yield StepFailed("build", f"the image build failed: {detail}", "fix the Dockerfile step named above")
                return
            text = str(message.get("stream") or "").strip()
            if text.startswith("Step "):
                numbers = text.split(" ", 2)[1]
                current, _, total = numbers.partition("/")
                yield StepProgress(
                    "build", text, int(current) if current.isdigit() else None, int(total) if total.isdigit() else None
                )
            elif text:
                yield StepProgress("build", text)
            aux = message.get("aux") or {}
            if aux.get("ID"):
                image_id = str(aux["ID"])
    except Exception as exc:
        yield StepFailed("build", f"the image build failed: {exc}")
        return
    yield StepDone("build", f"{reference} ({image_id[:19] or 'built'})")

    auth, source = await _credentials(repository, opts.registry_login)
    yield StepStarted("push", f"{reference} (credentials: {source})")
    layers: dict[str, tuple[int, int]] = {}
    digest = ""
    try:
        stream = client.api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth)
        async for message in _stream(lambda: stream):
            if "error" in message or "errorDetail" in message:
                detail = str(message.get("error") or (message.get("errorDetail") or {}).get("message") or "")
                lowered = detail.lower()
                auth_words = ("denied", "unauthorized", "authentication required", "no basic auth credentials")
                if any(w in lowered for w in auth_words):
                    fix = f"log in to {repository.split('/')[0]} (docker login, or --registry-login USER with the "
                    fix += "password in AKSMCP_REGISTRY_PASSWORD)"
                elif any(w in lowered for w in ("connection refused", "no such host", "timeout", "dial tcp")):
                    fix = "check the registry address (--registry) and that it is reachable from here"
                else:
                    fix = "see the registry's message above"
                yield StepFailed("push", f"the push of {reference} failed: {detail}", fix)
                return
            layer = str(message.get("id") or "")
            progress = message.get("progressDetail") or {}
            if layer and progress.get("total"):
                layers[layer] = (int(progress.get("current") or 0), int(progress["total"]))
                sent = sum(c for c, _ in layers.values())
                size = sum(t for _, t in layers.values())
                yield StepProgress("push", f"layer {layer}: {message.get('status')}", sent, size)
            elif layer and message.get("status"):
                yield StepProgress("push", f"layer {layer}: {message['status']}")
            aux = message.get("aux") or {}
            if aux.get("Digest"):
                digest = str(aux["Digest"])
    except Exception as exc:
        yield StepFailed(
            "push", f"the push of {reference} failed: {exc}", "check --registry and that it is reachable from here"
        )
        return
    if not digest:
        yield StepFailed("push", f"the registry did not confirm the push of {reference} (no digest)")
        return
    pinned = f"{repository}@{digest}"
    result.append(pinned)
    yield StepDone("push", f"{pinned} ({len(layers)} layers uploaded)")
