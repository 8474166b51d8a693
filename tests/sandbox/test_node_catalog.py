"""Image catalog, $(VAR) expansion and the mount path rule (units), and a registered image run for real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aksmcp_tui.sandbox.node import register_image
from aksmcp_tui.sandbox.node.catalog import ImageNotFound, resolve_image, split_image
from aksmcp_tui.sandbox.node.podenv import MountMap, expand
from aksmcp_tui.sandbox.node.testing import NodeHarness, condition, pod_manifest, wait_for


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/aksmcp/aksmcp-server:0.1.0", ("ghcr.io/aksmcp/aksmcp-server", "0.1.0")),
        ("busybox", ("busybox", "latest")),
        ("localhost:5000/team/app", ("localhost:5000/team/app", "latest")),
        ("localhost:5000/team/app:2@sha256:abc", ("localhost:5000/team/app", "2")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str]) -> None:
    assert split_image(image) == expected


def test_server_image_runs_the_package_from_source_on_the_mapped_port(tmp_path: Path) -> None:
    default = resolve_image(tmp_path, {"image": "ghcr.io/aksmcp/aksmcp-server:any"}, {8080: 41234})
    assert default.argv == [sys.executable, "-m", "aksmcp_server", "--transport", "http"]
    assert default.env_overrides == {"AKSMCP_HOST": "127.0.0.1", "AKSMCP_PORT": "41234"}
    with_args = resolve_image(
        tmp_path, {"image": "ghcr.io/aksmcp/aksmcp-server:0.1.0", "args": ["--workspace", "/w"]}, {8080: 1}
    )
    assert with_args.argv == [sys.executable, "-m", "aksmcp_server", "--workspace", "/w"]
    entrypoint = resolve_image(
        tmp_path,
        {"image": "ghcr.io/aksmcp/aksmcp-server:0.1.0", "command": ["aksmcp-server", "--transport", "http"]},
        {8080: 1},
    )
    assert entrypoint.argv == [sys.executable, "-m", "aksmcp_server", "--transport", "http"]


def test_registered_images_exact_and_any_tag(tmp_path: Path) -> None:
    register_image(tmp_path, "aksmcp.local/demo:1", ["/bin/demo", "serve"], cwd=tmp_path)
    register_image(tmp_path, "aksmcp.local/other:*", ["/bin/other"])
    demo = resolve_image(tmp_path, {"image": "aksmcp.local/demo:1", "args": ["--x"]}, {})
    assert demo.argv == ["/bin/demo", "serve", "--x"] and demo.cwd == str(tmp_path) and demo.fixed == 2
    assert resolve_image(tmp_path, {"image": "aksmcp.local/other:7"}, {}).argv == ["/bin/other"]
    with pytest.raises(ImageNotFound):
        resolve_image(tmp_path, {"image": "aksmcp.local/demo:2"}, {})
    # an explicit command runs whatever the image
    assert resolve_image(tmp_path, {"image": "nowhere/x", "command": ["/bin/true"]}, {}).argv == ["/bin/true"]
    data = json.loads((tmp_path / "images.json").read_text())
    assert set(data["images"]) == {"aksmcp.local/demo:1", "aksmcp.local/other:*"}


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING)", env) == "$(MISSING)"
    assert expand("$$(A)", env) == "$(A)"
    assert expand("cost $5", env) == "cost $5"


def test_mount_path_rule() -> None:
    mounts = MountMap([("/var/run/secrets/aksmcp", "/s/key"), ("/workspace/deep", "/s/deep"), ("/workspace", "/s/ws")])
    assert mounts.rewrite("/var/run/secrets/aksmcp/api-key") == "/s/key/api-key"
    assert mounts.rewrite("/var/run/secrets/aksmcp") == "/s/key"
    assert mounts.rewrite("/var/run/secrets/aksmcpX") == "/var/run/secrets/aksmcpX"
    assert mounts.rewrite("/workspace/deep/x") == "/s/deep/x"
    assert mounts.rewrite("/workspace/x") == "/s/ws/x"
    assert mounts.rewrite("--workspace=/workspace/x") == "--workspace=/s/ws/x"
    assert mounts.rewrite("relative/workspace") == "relative/workspace"
    assert mounts.rewrite("/etc/passwd") == "/etc/passwd"


async def test_registered_project_image_runs_from_its_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    out = tmp_path / "out.json"
    (project / "app.py").write_text(
        "import json, os, sys, time\n"
        f"open({str(out)!r}, 'w').write(json.dumps([os.getcwd(), sys.argv[1:]]))\n"
        "while True: time.sleep(1)\n"
    )
    state = tmp_path / "state"
    register_image(state, "aksmcp.local/project:dev", [sys.executable, "app.py"], cwd=project)
    async with NodeHarness(state) as h:
        pod = pod_manifest("proj", [{"name": "app", "image": "aksmcp.local/project:dev", "args": ["--flag"]}])
        await h.create(pod)
        await h.wait_pod("proj", lambda p: condition(p, "Ready"))
        cwd, argv = await wait_for(lambda: out.exists() and json.loads(out.read_text() or "null"))
    assert cwd == str(project) and argv == ["--flag"]
