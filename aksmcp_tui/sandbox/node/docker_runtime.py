"""Optional runtime: a pod's containers as real Docker containers, through the ``docker`` CLI.

Chosen per node (``Node(runtime="docker"|"auto")`` or env ``AKSMCP_SANDBOX_RUNTIME``) or per pod
(annotation ``sandbox.aksmcp.dev/runtime: docker``). The CLI runs attached (``docker run`` without
``-d``), so the container's stdout/stderr are the CLI's and the node's log capture, signals
(``--sig-proxy``) and exit codes work as for local processes; a kill that must not fail goes
through ``docker kill``. Volumes are real bind mounts at their mountPaths (no mount path rule);
ports are published on 127.0.0.1 (``-p 127.0.0.1:<local>:<containerPort>``) when the engine has a
bridge network, else the container shares the host network and gets the same ``PORT`` /
``SANDBOX_PORT_<n>`` variables as a local process. Exec probes and hooks run with ``docker exec``.
Images are used if present in the engine, else pulled; a failed pull is ``ErrImagePull``.
``AKSMCP_SANDBOX_REGISTRY_MIRRORS`` (``host=mirror,...``, like containerd's ``certs.d/<host>/hosts.toml``)
pulls a registry's images from another host, so a test can stand a loopback registry in for
``NAME.azurecr.io`` without any traffic leaving the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from aksmcp_tui.sandbox.node.logs import ContainerLog
from aksmcp_tui.sandbox.node.process import ContainerProcess

RUNTIME_ANNOTATION = "sandbox.aksmcp.dev/runtime"
POD_LABEL = "sandbox.aksmcp.dev/pod-uid"
_PULL_TIMEOUT = 300.0
MIRRORS_ENV = "AKSMCP_SANDBOX_REGISTRY_MIRRORS"
# What the Docker daemon says when a registry wants credentials the node does not have.
# ("denied" is left as the daemon says it: on Docker Hub it also means "no such repository".)
_AUTH_WORDS = ("no basic auth credentials", "unauthorized", "authentication required")


def mirrored(image: str) -> str:
    """``image`` with its registry host replaced by its mirror from MIRRORS_ENV, if it has one."""
    mirrors: dict[str, str] = {}
    for pair in os.environ.get(MIRRORS_ENV, "").split(","):
        host, sep, mirror = pair.strip().partition("=")
        if sep and host and mirror:
            mirrors[host] = mirror
    host, _, rest = image.partition("/")
    if rest and host in mirrors:
        return f"{mirrors[host]}/{rest}"
    return image


def pull_error(image: str, output: str) -> str:
    """A failed pull in a kubelet's words. containerd reports a 401 as "401 Unauthorized"; the Docker
    daemon says "no basic auth credentials", so that status is named (the daemon's line is kept)."""
    line = output.splitlines()[-1] if output else "docker pull failed"
    if any(word in line.lower() for word in _AUTH_WORDS):
        return f'failed to pull and unpack image "{image}": failed to authorize: 401 Unauthorized ({line})'
    return f'failed to pull image "{image}": {line}'


async def _docker(*args: str, limit: float = 30.0) -> tuple[int, str]:
    """Run the docker CLI; (exit code, stdout+stderr). 127 when there is no CLI, 124 on timeout."""
    cli = shutil.which("docker")
    if cli is None:
        return 127, "the docker CLI is not installed"
    proc = await asyncio.create_subprocess_exec(
        cli,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return 124, f"docker {args[0]} timed out after {limit:g}s"
    return proc.returncode or 0, out.decode(errors="replace").strip()


class DockerEngine:
    """The Docker engine the CLI reaches (DOCKER_HOST or the default socket)."""

    def __init__(self) -> None:
        self._available: bool | None = None
        self._bridge: bool | None = None

    async def available(self) -> bool:
        if self._available is None:
            code, _ = await _docker("version", "--format", "{{.Server.Version}}", limit=10)
            self._available = code == 0
        return self._available

    async def has_bridge(self) -> bool:
        if self._bridge is None:
            code, _ = await _docker("network", "inspect", "bridge", limit=10)
            self._bridge = code == 0
        return self._bridge

    async def ensure_image(self, image: str) -> str:
        """The image id, pulling the image if the engine lacks it; LookupError with the reason if not."""
        code, out = await _docker("image", "inspect", "--format", "{{.Id}}", image)
        if code == 0:
            return out
        source = mirrored(image)
        code, out = await _docker("pull", "--quiet", source, limit=_PULL_TIMEOUT)
        if code != 0:
            raise LookupError(pull_error(image, out))
        if source != image:
            code, out = await _docker("tag", source, image)
            if code != 0:
                raise LookupError(f'failed to tag the mirror\'s image as "{image}": {out}')
        code, out = await _docker("image", "inspect", "--format", "{{.Id}}", image)
        if code != 0:
            raise LookupError(f'image "{image}" not found after pull')
        return out

    async def remove_pod_containers(self, uid: str) -> None:
        code, out = await _docker("ps", "-aq", "--filter", f"label={POD_LABEL}={uid}")
        ids = out.split() if code == 0 else []
        if ids:
            await _docker("rm", "-f", *ids)


def container_name(uid: str, container: str, attempt: int) -> str:
    return f"aksmcp-sandbox-{uid[:8]}-{container}-{attempt}"


def run_argv(
    *,
    name: str,
    uid: str,
    image: str,
    spec: dict[str, Any],
    pod_spec: dict[str, Any],
    env_file: Path,
    mounts: list[tuple[str, str, bool]],
    ports: dict[int, int],
    container_ports: list[int],
    bridge: bool,
    command: list[str],
    args: list[str],
) -> list[str]:
    argv = ["run", "--rm", "--name", name, "--label", f"{POD_LABEL}={uid}", "--env-file", str(env_file)]
    if bridge:
        for number in container_ports:
            argv += ["-p", f"127.0.0.1:{ports[number]}:{number}"]
    else:
        argv += ["--network", "host"]
    for host, path, read_only in mounts:
        argv += ["-v", f"{host}:{path}{':ro' if read_only else ''}"]
    if spec.get("workingDir"):
        argv += ["-w", str(spec["workingDir"])]
    security = {**(pod_spec.get("securityContext") or {}), **(spec.get("securityContext") or {})}
    if security.get("runAsUser") is not None:
        user = str(security["runAsUser"])
        if security.get("runAsGroup") is not None:
            user += f":{security['runAsGroup']}"
        argv += ["--user", user]
    if security.get("readOnlyRootFilesystem"):
        argv += ["--read-only"]
    if command:
        argv += ["--entrypoint", command[0]]
    argv.append(image)
    argv += command[1:] + args
    return argv


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Env for ``--env-file`` (mode 0600: it may hold Secret values, which argv would expose)."""
    lines = [f"{k}={v}" for k, v in env.items() if "\n" not in v and "=" not in k]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def give_to_user(paths: list[Path], uid: int | None, gid: int | None) -> None:
    """Let a container running as runAsUser read its Secret files and write its emptyDirs."""
    if uid is None or os.geteuid() != 0:
        return
    for root in paths:
        for path in [root, *root.rglob("*")]:
            with contextlib.suppress(OSError):
                os.chown(path, uid, gid if gid is not None else -1)


class DockerProcess(ContainerProcess):
    """``docker run`` attached: the CLI process stands for the container."""

    name: str = ""

    @classmethod
    async def start_container(cls, cli_args: list[str], name: str, log: ContainerLog) -> DockerProcess:
        cli = shutil.which("docker") or "docker"
        proc = await asyncio.create_subprocess_exec(
            cli,
            *cli_args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(os.environ),
            start_new_session=True,
            limit=256 * 1024,
        )
        process = cls(proc, log)
        process.name = name
        return process

    async def terminate(self, grace: float) -> int:
        if self.running:
            self.signal_group(15)  # the CLI proxies SIGTERM to the container's PID 1
            try:
                return await asyncio.wait_for(self.wait(), max(grace, 0))
            except TimeoutError:
                await _docker("kill", self.name, limit=10)
                try:
                    return await asyncio.wait_for(self.wait(), 10)
                except TimeoutError:
                    self.signal_group(9)
        return await self.wait()

    async def after_exit(self) -> None:
        # With --rm the engine removes it; this covers a CLI that died before its container did.
        await _docker("rm", "-f", self.name, limit=20)
