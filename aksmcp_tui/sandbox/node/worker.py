"""One pod on the node: volumes, ports, init and app containers, probes, restarts, termination."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aksmcp_tui.sandbox.node import podenv
from aksmcp_tui.sandbox.node.catalog import (
    SERVER_CONTAINER_PORT,
    SERVER_IMAGE_REPOSITORY,
    ImageNotFound,
    resolve_image,
    split_image,
)
from aksmcp_tui.sandbox.node.container import Backoff, ContainerRuntime
from aksmcp_tui.sandbox.node.docker_runtime import (
    RUNTIME_ANNOTATION,
    DockerProcess,
    container_name,
    give_to_user,
    run_argv,
    write_env_file,
)
from aksmcp_tui.sandbox.node.logs import ContainerLog, LogDirectory
from aksmcp_tui.sandbox.node.probes import ProbeContext, ProbeSettings, local_port, run_probe
from aksmcp_tui.sandbox.node.process import ContainerProcess, exit_code, resolve_executable
from aksmcp_tui.sandbox.store import NotFoundError, now_rfc3339

if TYPE_CHECKING:
    from aksmcp_tui.sandbox.node.node import Node

log = logging.getLogger(__name__)

PORT_ANNOTATION_PREFIX = "sandbox.aksmcp.dev/port-"
PID_ANNOTATION_PREFIX = "sandbox.aksmcp.dev/pid-"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Launch:
    """How to start one container attempt, whatever the runtime."""

    start: Callable[[ContainerLog], Coroutine[Any, Any, ContainerProcess]]


class PodWorker:
    def __init__(self, node: Node, pod: dict[str, Any]) -> None:
        self.node = node
        self.store = node.store
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.uid = str(meta.get("uid") or "")
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta.get("name") or "")
        self.dir = node.state_dir / "pods" / self.uid
        spec = pod.get("spec") or {}
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        previous = {s.get("name"): s for s in ((pod.get("status") or {}).get("containerStatuses") or [])}
        self.init_containers = [self._runtime(c, {}) for c in spec.get("initContainers") or []]
        self.containers = [self._runtime(c, previous) for c in spec.get("containers") or []]
        self.ports: dict[int, int] = {}
        self.named_ports: dict[str, int] = {}
        self.volume_dirs: dict[str, Path] = {}
        self.initialized = not self.init_containers
        self.init_failed = False
        self.stopping = False
        self.kill_now = asyncio.Event()
        self.start_time = (pod.get("status") or {}).get("startTime") or now_rfc3339()
        self.transitions: dict[str, tuple[str, str]] = {}
        self.websockets: set[Any] = set()
        self.done = asyncio.Event()
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._terminate_task: asyncio.Task[None] | None = None
        self._starting: set[asyncio.Task[ContainerProcess]] = set()
        self.used_docker = False

    def _runtime(self, spec: dict[str, Any], previous: dict[Any, dict[str, Any]]) -> ContainerRuntime:
        base, maximum = self.node.backoff_base, self.node.backoff_max
        runtime = ContainerRuntime(
            spec=spec,
            logs=LogDirectory(self.dir / "logs" / str(spec.get("name")), self.node.log_max_bytes),
            crash_backoff=Backoff(base, maximum),
            pull_backoff=Backoff(base, maximum),
        )
        before = previous.get(spec.get("name"))
        if before:
            # The node restarted under a pod that was running: its containers restart too.
            runtime.restart_count = int(before.get("restartCount") or 0)
            if "waiting" not in (before.get("state") or {"waiting": {}}):
                runtime.restart_count += 1
            runtime.last_state = before.get("lastState") or {}
        return runtime

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            grace = int(grace) if grace is not None else self.termination_grace
            if self._terminate_task is None:
                self._terminate_task = asyncio.create_task(self.terminate(grace, remove=True))
            elif grace == 0:
                self.kill_now.set()

    @property
    def terminate_task(self) -> asyncio.Task[None] | None:
        """The deletion in progress, if the pod is being deleted."""
        return self._terminate_task

    @property
    def termination_grace(self) -> int:
        return int((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def _run(self) -> None:
        try:
            await self._setup()
            for container in self.init_containers:
                if not await self._run_init(container):
                    return
            self.initialized = True
            await self.publish()
            await asyncio.gather(*(self._run_container(c) for c in self.containers))
            await self.publish()
        except asyncio.CancelledError:
            raise
        except NotFoundError:
            pass  # the pod was removed under us
        except Exception:
            log.exception("pod %s/%s failed on the node", self.namespace, self.name)

    async def _setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for container in self.containers:
            ports = container.spec.get("ports") or []
            for port in ports:
                number = port.get("containerPort")
                if isinstance(number, int) and number not in self.ports:
                    self.ports[number] = free_port()
                if port.get("name") and isinstance(number, int):
                    self.named_ports[str(port["name"])] = number
            # The reference server always listens on 8080, declared or not.
            if split_image(container.image)[0] == SERVER_IMAGE_REPOSITORY and SERVER_CONTAINER_PORT not in self.ports:
                self.ports[SERVER_CONTAINER_PORT] = free_port()
        await self.event(
            "Scheduled",
            f"Successfully assigned {self.namespace}/{self.name} to {self.node.node_name}",
            component="default-scheduler",
        )
        await self.publish()
        while not self.stopping:
            try:
                self.volume_dirs = await podenv.materialise_volumes(self.store, self.pod, self.dir / "volumes")
                return
            except podenv.ContainerConfigError as error:
                await self.event("FailedMount", f"MountVolume.SetUp failed: {error}", "Warning")
                await asyncio.sleep(max(self.node.backoff_base, 0.5))

    # ------------------------------------------------------------ containers
    async def _run_init(self, c: ContainerRuntime) -> bool:
        while not self.stopping:
            code = await self._attempt(c, probes=False)
            if code is None:
                continue
            if code == 0:
                c.finished = True
                return True
            if self.restart_policy == "Never":
                c.finished = True
                self.init_failed = True
                await self.publish()
                return False
            await self._crash_backoff(c)
        return False

    async def _run_container(self, c: ContainerRuntime) -> None:
        while not self.stopping:
            code = await self._attempt(c, probes=True)
            if code is None or self.stopping:
                continue
            restart = self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code != 0)
            if not restart:
                c.finished = True
                await self.publish()
                return
            await self._crash_backoff(c)

    async def _crash_backoff(self, c: ContainerRuntime) -> None:
        delay = c.crash_backoff.next_delay(time.monotonic() - c.started_monotonic)
        c.last_state = c.state
        if delay > 0:
            message = (
                f"back-off {delay:g}s restarting failed container={c.name} pod={self.name}_{self.namespace}({self.uid})"
            )
            c.set_waiting("CrashLoopBackOff", message)
            await self.event("BackOff", f"Back-off restarting failed container {c.name} in pod {self.name}", "Warning")
            await self.publish()
            await self._sleep(delay)
        c.restart_count += 1

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.kill_now.wait(), seconds)

    async def _pull_failed(self, c: ContainerRuntime, error: Exception) -> None:
        c.set_waiting("ErrImagePull", str(error))
        await self.event("Pulling", f'Pulling image "{c.image}"')
        await self.event("Failed", f'Failed to pull image "{c.image}": {error}', "Warning")
        await self.event("Failed", "Error: ErrImagePull", "Warning")
        await self.publish()
        await self._sleep(c.pull_backoff.pull_delay())
        if self.stopping:
            return
        c.set_waiting("ImagePullBackOff", f'Back-off pulling image "{c.image}": ErrImagePull: {error}')
        await self.event("BackOff", f'Back-off pulling image "{c.image}"')
        await self.event("Failed", "Error: ImagePullBackOff", "Warning")
        await self.publish()
        await self._sleep(c.pull_backoff.pull_delay())

    async def _config_failed(self, c: ContainerRuntime, reason: str, error: Exception) -> None:
        c.set_waiting(reason, str(error))
        await self.event("Failed", f"Error: {error}", "Warning")
        await self.publish()
        await self._sleep(c.pull_backoff.pull_delay())

    async def _start_error(self, c: ContainerRuntime, message: str) -> int:
        c.set_terminated(128, "StartError", message)
        await self.event("Failed", f"Error: failed to create containerd task: {message}", "Warning")
        await self.publish()
        return 128

    def _begin_attempt(self, c: ContainerRuntime, container_id: str) -> None:
        c.container_id = container_id
        c.started_at = now_rfc3339()
        c.started_monotonic = time.monotonic()  # the back-off measures from here, even for a StartError

    async def _prepare_process(self, c: ContainerRuntime) -> Launch | int | None:
        """How to start ``c`` as a local process; None if it cannot be created yet (image or config
        problem, back-off already waited), an exit code if it failed to start."""
        try:
            resolved = resolve_image(self.node.state_dir, c.spec, self.ports)
        except ImageNotFound as error:
            await self._pull_failed(c, error)
            return None
        c.pull_backoff.failures = 0
        c.image_id = resolved.image_id
        home = self.dir / "containers" / c.name
        home.mkdir(parents=True, exist_ok=True)
        mounts = podenv.mount_map(c.spec, self.volume_dirs)
        base = {**podenv.base_env(self.pod, home), **resolved.env}
        try:
            env = await podenv.build_env(self.store, self.pod, c.spec, base)
        except podenv.ContainerConfigError as error:
            await self._config_failed(c, "CreateContainerConfigError", error)
            return None
        # The mount path rule applies to what the spec set, not to the node's own values (PATH, HOME).
        env = {k: v if base.get(k) == v else mounts.rewrite(v) for k, v in env.items()}
        env.update(self._port_env(c))
        env.update(resolved.env_overrides)
        fixed = resolved.argv[: resolved.fixed]
        argv = fixed + [mounts.rewrite(podenv.expand(a, env)) for a in resolved.argv[resolved.fixed :]]
        cwd = self._working_dir(c, mounts, resolved.cwd, home)
        c.probe_ctx = ProbeContext(self.ports, self.named_ports, env, cwd, mounts.rewrite)

        await self.event("Pulled", f'Container image "{c.image}" already present on machine')
        executable = resolve_executable(argv[0], env.get("PATH", os.defpath), cwd) if argv else None
        self._begin_attempt(c, f"sandbox://{self.uid[:8]}-{c.name}-{c.restart_count}")
        if executable is None:
            return await self._start_error(c, f'exec: "{argv[0] if argv else ""}": executable file not found in $PATH')
        command = [executable, *argv[1:]]
        pod = (self.node.state_dir, self.uid)
        return Launch(lambda log: ContainerProcess.start(command, env, cwd, log, pod=pod))

    async def _prepare_docker(self, c: ContainerRuntime) -> Launch | int | None:
        """How to start ``c`` as a Docker container (see docker_runtime.py)."""
        engine = self.node.docker
        if not await engine.available():
            await self._config_failed(c, "CreateContainerError", RuntimeError("no Docker engine is reachable"))
            return None
        try:
            c.image_id = "docker-pullable://" + await engine.ensure_image(c.image)
        except LookupError as error:
            await self._pull_failed(c, error)
            return None
        c.pull_backoff.failures = 0
        try:
            env = await podenv.build_env(self.store, self.pod, c.spec, {"HOSTNAME": self.name})
        except podenv.ContainerConfigError as error:
            await self._config_failed(c, "CreateContainerConfigError", error)
            return None
        bridge = await engine.has_bridge()
        if not bridge:
            env.update(self._port_env(c))
            # On the host network every pod shares one port space: an aksmcp-server runtime (the reference
            # image, or any image built from a project `aksmcp init` made, which reads AKSMCP_PORT) listens
            # on its pod's mapped loopback port, as it would on its own pod IP in a cluster.
            wanted = env.get("AKSMCP_PORT", "")
            port = int(wanted) if wanted.isdigit() and int(wanted) in self.ports else SERVER_CONTAINER_PORT
            runtime_image = split_image(c.image)[0] == SERVER_IMAGE_REPOSITORY or bool(wanted)
            if runtime_image and port in self.ports:
                env.update({"AKSMCP_HOST": "127.0.0.1", "AKSMCP_PORT": str(self.ports[port])})
        command = [podenv.expand(str(a), env) for a in c.spec.get("command") or []]
        args = [podenv.expand(str(a), env) for a in c.spec.get("args") or []]
        mounts: list[tuple[str, str, bool]] = []
        for mount in c.spec.get("volumeMounts") or []:
            host = self.volume_dirs.get(str(mount.get("name")))
            if host is not None and str(mount.get("mountPath") or "").startswith("/"):
                source = host / mount["subPath"] if mount.get("subPath") else host
                mounts.append((str(source), str(mount["mountPath"]), bool(mount.get("readOnly"))))
        pod_spec = self.pod.get("spec") or {}
        security = {**(pod_spec.get("securityContext") or {}), **(c.spec.get("securityContext") or {})}
        give_to_user(
            [Path(m[0]) for m in mounts],
            security.get("runAsUser"),
            security.get("fsGroup") or security.get("runAsGroup"),
        )
        name = container_name(self.uid, c.name, c.restart_count)
        env_file = self.dir / "containers" / c.name / "docker.env"
        write_env_file(env_file, env)
        own_ports = [p["containerPort"] for p in c.spec.get("ports") or [] if isinstance(p.get("containerPort"), int)]
        cli_args = run_argv(
            name=name,
            uid=self.uid,
            image=c.image,
            spec=c.spec,
            pod_spec=pod_spec,
            env_file=env_file,
            mounts=mounts,
            ports=self.ports,
            container_ports=own_ports,
            bridge=bridge,
            command=command,
            args=args,
        )
        c.probe_ctx = ProbeContext(
            self.ports, self.named_ports, dict(os.environ), None, str, exec_prefix=["docker", "exec", name]
        )
        self.used_docker = True
        await self.event("Pulled", f'Container image "{c.image}" already present on machine')
        self._begin_attempt(c, f"docker://{name}")
        return Launch(lambda log: DockerProcess.start_container(cli_args, name, log))

    def uses_docker(self) -> bool:
        wanted = ((self.pod.get("metadata") or {}).get("annotations") or {}).get(RUNTIME_ANNOTATION)
        return (wanted or self.node.runtime) == "docker"

    async def _attempt(self, c: ContainerRuntime, probes: bool) -> int | None:
        """Start one attempt and wait for its end: the container exit code, or None if it could not
        be created (image or config problem; back-off already waited)."""
        launch = await (self._prepare_docker(c) if self.uses_docker() else self._prepare_process(c))
        if launch is None or isinstance(launch, int):
            return launch
        c.log = c.logs.open_attempt(c.restart_count)
        await self.event("Created", f"Created container {c.name}")
        starting = asyncio.create_task(launch.start(c.log))
        self._starting.add(starting)
        try:
            # shielded: if the worker is cancelled now, terminate() still finds and stops the process
            c.process = await asyncio.shield(starting)
            self._starting.discard(starting)
        except OSError as error:
            self._starting.discard(starting)
            c.log.close()
            c.set_terminated(128, "StartError", str(error))
            await self.event("Failed", f"Error: {error}", "Warning")
            await self.publish()
            return 128
        c.attempts += 1
        c.set_running()
        if self.stopping:
            # terminate() may have looked before the process existed
            await c.process.terminate(0 if self.kill_now.is_set() else self.termination_grace)
        gated = probes and bool(c.spec.get("startupProbe") or (c.spec.get("lifecycle") or {}).get("postStart"))
        c.started = not gated
        c.ready = c.started and not (probes and c.spec.get("readinessProbe"))
        await self.event("Started", f"Started container {c.name}")
        await self.publish()
        probe_task = asyncio.create_task(self._probe(c)) if probes else None
        try:
            returncode = await c.process.wait()
        finally:
            if probe_task is not None:
                probe_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await probe_task
        code = exit_code(returncode)
        c.set_terminated(code)
        await self.publish()
        return code

    def _port_env(self, c: ContainerRuntime) -> dict[str, str]:
        """Every pod port (containers share the network), plus PORT for this container's first port.
        The node owns these names: a spec value for them would point at an unmapped port."""
        env = {f"SANDBOX_PORT_{number}": str(local) for number, local in self.ports.items()}
        own = [p.get("containerPort") for p in c.spec.get("ports") or [] if isinstance(p.get("containerPort"), int)]
        if own:
            env["PORT"] = str(self.ports[own[0]])
        return env

    def _working_dir(self, c: ContainerRuntime, mounts: podenv.MountMap, catalog_cwd: str | None, home: Path) -> str:
        wanted = c.spec.get("workingDir")
        if wanted:
            path = mounts.rewrite(str(wanted))
            if os.path.isdir(path):
                return path
            # The image's own directory layout does not exist here: give it an empty stand-in.
            stand_in = home / "workdir" / str(wanted).lstrip("/")
            stand_in.mkdir(parents=True, exist_ok=True)
            return str(stand_in)
        if catalog_cwd and os.path.isdir(catalog_cwd):
            return catalog_cwd
        return str(home)

    # ------------------------------------------------------------ probes
    async def _probe(self, c: ContainerRuntime) -> None:
        post_start = (c.spec.get("lifecycle") or {}).get("postStart")
        if post_start and not await self._run_post_start(c, post_start):
            return
        startup = c.spec.get("startupProbe")
        if startup and not await self._probe_loop(c, startup, "Startup"):
            return
        if startup or post_start:
            c.started = True
            c.ready = not c.spec.get("readinessProbe")
            await self.publish()
        loops = [
            self._probe_loop(c, p, kind)
            for kind, p in (("Readiness", c.spec.get("readinessProbe")), ("Liveness", c.spec.get("livenessProbe")))
            if p
        ]
        if loops:
            await asyncio.gather(*loops)

    async def _probe_loop(self, c: ContainerRuntime, probe: dict[str, Any], kind: str) -> bool:
        """Readiness runs until cancelled; startup returns True once it passes; liveness and startup
        kill the container (returning False) after failureThreshold failures in a row."""
        settings = ProbeSettings.of(probe, liveness_like=kind != "Readiness")
        assert c.probe_ctx is not None
        await asyncio.sleep(settings.initial_delay)
        successes = failures = 0
        while c.running and not self.stopping:
            ok, message = await run_probe(probe, c.probe_ctx, settings.timeout)
            if not c.running or self.stopping:
                return False
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                await self.event("Unhealthy", f"{kind} probe failed: {message}", "Warning")
            if kind == "Readiness":
                if ok and successes >= settings.success_threshold and not c.ready:
                    c.ready = True
                    await self.publish()
                elif not ok and failures >= settings.failure_threshold and c.ready:
                    c.ready = False
                    await self.publish()
            elif ok and kind == "Startup":
                return True
            elif failures >= settings.failure_threshold:
                await self.event("Killing", f"Container {c.name} failed {kind.lower()} probe, will be restarted")
                await self._stop_container(c, float(self.termination_grace))
                return False
            await asyncio.sleep(settings.period)
        return False

    # ------------------------------------------------------------ termination
    async def _stop_container(self, c: ContainerRuntime, grace: float) -> None:
        """preStop (within the grace period), SIGTERM, the rest of the grace, SIGKILL."""
        process = c.process
        if process is None or not process.running:
            return
        deadline = time.monotonic() + grace
        pre_stop = ((c.spec.get("lifecycle") or {}).get("preStop")) or None
        if pre_stop and grace > 0 and not self.kill_now.is_set():
            await self._first_of(self._run_pre_stop(c, pre_stop, grace), grace)
        # Like the kubelet, SIGTERM gets at least 2 s after a hook that used up the grace period.
        remaining = max(deadline - time.monotonic(), 2.0 if pre_stop and grace > 0 else 0.0)
        if self.kill_now.is_set():
            remaining = 0
        kill = asyncio.create_task(self._kill_when_asked(process))
        try:
            await process.terminate(remaining)
        finally:
            kill.cancel()

    async def _kill_when_asked(self, process: ContainerProcess) -> None:
        await self.kill_now.wait()
        process.signal_group(9)

    async def _first_of(self, work: Awaitable[None], seconds: float) -> None:
        task = asyncio.ensure_future(work)
        waiter = asyncio.create_task(self.kill_now.wait())
        await asyncio.wait({task, waiter}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, waiter):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending

    async def _run_hook(self, c: ContainerRuntime, handler: dict[str, Any], seconds: float) -> tuple[bool, str]:
        """A lifecycle handler (exec, httpGet or sleep); (success, error message)."""
        if "sleep" in handler:
            await asyncio.sleep(float((handler["sleep"] or {}).get("seconds") or 0))
            return True, ""
        if c.probe_ctx is None:
            return True, ""
        try:
            return await run_probe(handler, c.probe_ctx, seconds)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a broken hook must not break the node
            return False, str(error)

    def _hook_failure(self, c: ContainerRuntime, handler: dict[str, Any], message: str) -> str:
        kind = "Exec" if "exec" in handler else "HTTP"
        return (
            f"{kind} lifecycle hook for Container {c.name} in Pod "
            f"{self.name}_{self.namespace}({self.uid}) failed - error: {message}"
        )

    async def _run_pre_stop(self, c: ContainerRuntime, handler: dict[str, Any], grace: float) -> None:
        ok, message = await self._run_hook(c, handler, grace)
        if not ok:
            await self.event("FailedPreStopHook", self._hook_failure(c, handler, message), "Warning")

    async def _run_post_start(self, c: ContainerRuntime, handler: dict[str, Any]) -> bool:
        """The container counts as started only once postStart succeeded; a failure kills it."""
        ok, message = await self._run_hook(c, handler, float(self.termination_grace))
        if ok:
            return True
        await self.event("FailedPostStartHook", self._hook_failure(c, handler, message), "Warning")
        await self.event("Killing", f"FailedPostStartHook: container {c.name} will be restarted")
        await self._stop_container(c, float(self.termination_grace))
        return False

    async def terminate(self, grace: float, remove: bool) -> None:
        """Stop every container (preStop, SIGTERM, grace, SIGKILL) and, if remove, delete the pod."""
        self.stopping = True
        if grace <= 0:
            self.kill_now.set()
        running = [c for c in self.init_containers + self.containers if c.running]
        for c in running:
            await self.event("Killing", f"Stopping container {c.name}")
        await asyncio.gather(*(self._stop_container(c, grace) for c in running), return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        # An attempt that started while we were stopping the others.
        for starting in self._starting:
            with contextlib.suppress(Exception):
                await (await starting).terminate(0)
        for c in self.init_containers + self.containers:
            if c.process is not None and c.process.running:
                await c.process.terminate(0)
        if self.used_docker:
            with contextlib.suppress(Exception):
                await self.node.docker.remove_pod_containers(self.uid)
        for ws in list(self.websockets):
            with contextlib.suppress(Exception):
                await ws.close()
        self.done.set()
        if remove:
            with contextlib.suppress(Exception):
                await self.store.remove("pods", self.namespace, self.name)
            self.node.forget(self)
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ status
    def container(self, name: str) -> ContainerRuntime | None:
        for c in self.containers + self.init_containers:
            if c.name == name:
                return c
        return None

    def phase(self) -> str:
        if self.init_failed:
            return "Failed"
        if not self.initialized:
            return "Pending"
        if any(c.running for c in self.containers):
            return "Running"
        if self.containers and all(c.finished for c in self.containers):
            codes = [int((c.state.get("terminated") or {}).get("exitCode", 1)) for c in self.containers]
            return "Succeeded" if all(code == 0 for code in codes) else "Failed"
        if any(c.ever_started for c in self.containers):
            return "Running"
        return "Pending"

    def _condition(self, kind: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
        status = "True" if ok else "False"
        previous = self.transitions.get(kind)
        if previous is None or previous[0] != status:
            self.transitions[kind] = (status, now_rfc3339())
        cond: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": self.transitions[kind][1],
        }
        if not ok and reason:
            cond["reason"] = reason
            if message:
                cond["message"] = message
        return cond

    def build_status(self) -> dict[str, Any]:
        phase = self.phase()
        unready = [c.name for c in self.containers if not c.ready]
        ready = not unready and phase == "Running"
        completed = phase in ("Succeeded", "Failed")
        why = "PodCompleted" if completed else "ContainersNotReady"
        message = "" if completed else f"containers with unready status: [{' '.join(unready)}]"
        uninit = [c.name for c in self.init_containers if not c.finished]
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": [
                self._condition(
                    "Initialized",
                    self.initialized,
                    "ContainersNotInitialized",
                    f"containers with incomplete status: [{' '.join(uninit)}]",
                ),
                self._condition("Ready", ready, why, message),
                self._condition("ContainersReady", ready, why, message),
                self._condition("PodScheduled", True),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "qosClass": "BestEffort",
            "containerStatuses": [c.status() for c in self.containers],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [c.status() for c in self.init_containers]
        return status

    def annotations(self) -> dict[str, str]:
        notes = {f"{PORT_ANNOTATION_PREFIX}{number}": str(local) for number, local in self.ports.items()}
        for c in self.containers + self.init_containers:
            if c.running and c.process is not None:
                notes[f"{PID_ANNOTATION_PREFIX}{c.name}"] = str(c.process.pid)
        return notes

    async def publish(self) -> None:
        """Write this pod's status (and port/pid annotations) to the store, if anything changed."""
        async with self._publish_lock:
            status = self.build_status()
            notes = self.annotations()

            def apply(pod: dict[str, Any]) -> bool:
                meta = pod.setdefault("metadata", {})
                if meta.get("uid") != self.uid:
                    return False
                current = dict(meta.get("annotations") or {})
                wanted = {
                    k: v
                    for k, v in current.items()
                    if not k.startswith((PORT_ANNOTATION_PREFIX, PID_ANNOTATION_PREFIX))
                }
                wanted.update(notes)
                old_status = pod.get("status") or {}
                merged = {**old_status, **status}
                if merged == old_status and wanted == current:
                    return False
                pod["status"] = merged
                if wanted or "annotations" in meta:
                    meta["annotations"] = wanted
                return True

            try:
                self.pod = await self.store.mutate("pods", self.namespace, self.name, apply)
            except NotFoundError:
                self.stopping = True

    async def event(self, reason: str, message: str, type_: str = "Normal", component: str = "kubelet") -> None:
        involved = {"kind": "Pod", "apiVersion": "v1", **{k: v for k, v in self.pod.items() if k == "metadata"}}
        with contextlib.suppress(Exception):
            await self.store.record_event(involved, reason, message, type_, component)

    def local_port(self, port: int) -> int:
        ctx = ProbeContext(self.ports, self.named_ports, {}, None, str)
        return local_port(port, ctx)
