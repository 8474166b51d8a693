"""The optional Docker runtime: a pod's containers as real containers (skipped without an engine).

Run against any engine the docker CLI reaches (DOCKER_HOST or the default socket). The image is a
busybox built locally from the host's static /bin/busybox (nothing is pulled)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from aksmcp_tui.sandbox.node.docker_runtime import POD_LABEL, RUNTIME_ANNOTATION
from aksmcp_tui.sandbox.node.testing import NodeHarness, condition, container_status, pod_manifest, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

IMAGE = "sandbox.test/busybox:1"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def busybox_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    if _docker("version", "--format", "{{.Server.Version}}", timeout=10).returncode != 0:
        pytest.skip("no Docker engine reachable (start one, e.g. `dockerd --iptables=false --bridge=none &`)")
    if _docker("image", "inspect", IMAGE).returncode == 0:
        return IMAGE
    busybox = Path("/bin/busybox")
    ldd = (
        subprocess.run(["ldd", str(busybox)], capture_output=True, text=True, check=False) if busybox.exists() else None
    )
    if ldd is None or "not a dynamic executable" not in ldd.stdout + ldd.stderr:
        pytest.skip("no static /bin/busybox to build a test image from")
    context = tmp_path_factory.mktemp("busybox")
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n'
    )
    built = _docker("build", "-q", "-t", IMAGE, str(context), timeout=120)
    if built.returncode != 0:
        pytest.skip(f"cannot build the busybox test image: {built.stderr.strip()[-300:]}")
    return IMAGE


@pytest.fixture
async def harness(tmp_path: Path, busybox_image: str) -> AsyncIterator[NodeHarness]:
    async with NodeHarness(tmp_path / "state") as h:
        yield h
    leftovers = _docker("ps", "-aq", "--filter", f"label={POD_LABEL}").stdout.split()
    assert not leftovers, f"containers left behind: {leftovers}"


async def test_pod_runs_as_a_container_with_real_mounts_probes_logs_and_port_forward(harness: NodeHarness) -> None:
    await harness.store.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "site", "namespace": "default"},
            "data": {"index.html": "served from a ConfigMap volume"},
        },
    )
    container = {
        "name": "web",
        "image": IMAGE,
        "command": ["sh", "-c", "echo starting on $(PORT); exec httpd -f -p $(PORT) -h /www"],
        "ports": [{"containerPort": 80}],
        "volumeMounts": [{"name": "site", "mountPath": "/www", "readOnly": True}],
        "readinessProbe": {"httpGet": {"port": 80, "path": "/index.html"}, "periodSeconds": 1},
        "livenessProbe": {"exec": {"command": ["cat", "/www/index.html"]}, "periodSeconds": 1},
    }
    # httpd as PID 1 has no SIGTERM handler, so (as on a real node) it dies by SIGKILL after the grace
    volumes = [{"name": "site", "configMap": {"name": "site"}}]
    pod = pod_manifest("boxed", [container], volumes=volumes, terminationGracePeriodSeconds=2)
    pod["metadata"]["annotations"] = {RUNTIME_ANNOTATION: "docker"}
    await harness.create(pod)
    ready = await harness.wait_pod("boxed", lambda p: condition(p, "Ready"), within=60)
    status = container_status(ready)
    assert status["containerID"].startswith("docker://") and status["imageID"].startswith("docker-pullable://")
    local = int(ready["metadata"]["annotations"]["sandbox.aksmcp.dev/port-80"])
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{local}/index.html") as resp:
        assert await resp.text() == "served from a ConfigMap volume"
    log = await asyncio.to_thread(harness.kube_client().read_namespaced_pod_log, "boxed", "default")
    assert log.startswith("starting on ")
    assert container_status(await harness.get("boxed"))["restartCount"] == 0
    names = _docker("ps", "--filter", f"label={POD_LABEL}", "--format", "{{.Names}}").stdout.split()
    assert len(names) == 1 and names[0].startswith("aksmcp-sandbox-")

    await harness.store.delete("pods", "default", "boxed")
    await harness.wait_gone("boxed", within=30)
    await wait_for(lambda: not _docker("ps", "-q", "--filter", f"name={names[0]}").stdout.strip())


async def test_crashing_container_restarts_and_unknown_image_fails_to_pull(harness: NodeHarness) -> None:
    crash = pod_manifest("boxcrash", [{"name": "c", "image": IMAGE, "command": ["sh", "-c", "echo bye; exit 4"]}])
    ghost = pod_manifest("boxghost", [{"name": "c", "image": "127.0.0.1:1/nothing/here:1"}])
    for pod in (crash, ghost):
        pod["metadata"]["annotations"] = {RUNTIME_ANNOTATION: "docker"}
        await harness.create(pod)
    crashed = await harness.wait_pod("boxcrash", lambda p: container_status(p).get("restartCount", 0) >= 2, within=60)
    assert container_status(crashed)["lastState"]["terminated"]["exitCode"] == 4
    await harness.wait_pod(
        "boxghost",
        lambda p: (
            container_status(p).get("state", {}).get("waiting", {}).get("reason")
            in ("ErrImagePull", "ImagePullBackOff")
        ),
        within=60,
    )
