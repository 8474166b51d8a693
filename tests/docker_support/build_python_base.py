"""Provide server/Dockerfile's pinned Python base image locally, without pulling anything.

Nothing can be pulled from a registry on this machine, so a Debian bookworm root filesystem with
python3 is built with debootstrap from the Debian mirror apt already uses, imported into the local
Docker engine, and tagged with the exact name the Dockerfile's `ARG PYTHON_IMAGE` default pins.
The Dockerfile is never edited for the test: it uses `python3` from PATH, which this image and the
real python:*-slim images both provide.

    python tests/docker_support/build_python_base.py [--with-node] [--tag TAG] [--mirror URL] [--force]

--with-node makes the base an npm bridge image needs (MCP_PACKAGE=npm:..., python:*-slim has no node)
exactly as server/README.md tells a user to: `FROM <the pinned base>` plus Debian's nodejs and npm
installed with apt-get (node 18, npm 9), built on the host network (the engine's builds have none
otherwise), tagged NODE_BASE_TAG: a name no registry serves, so it is never taken for a real image.

Exits 0 when the tag exists afterwards (already there: nothing is rebuilt), 2 when it cannot be
built here (no debootstrap, not root, no engine), 1 when a step failed. Standard library only.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "server" / "Dockerfile"
SUITE = "bookworm"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
NODE_BASE_TAG = "aksmcp-test/python3-node:bookworm"
# server/README.md's "Bridge images" recipe for a base with node, on top of the pinned base.
NODE_DOCKERFILE = """\
FROM {base}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \\
 && rm -rf /var/lib/apt/lists/*
"""
NODE_BUILD_TIMEOUT_S = 1200
DEBOOTSTRAP_TIMEOUT_S = 900
IMPORT_TIMEOUT_S = 300
LOCK_PATH = Path(tempfile.gettempdir()) / "aksmcp-python-base-image.lock"

# What python:*-slim sets that a bare rootfs does not (PATH keeps /usr/local/bin first like it).
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


class CannotBuildHere(Exception):
    """This machine lacks something the build needs; not a failure of the build itself."""


def pinned_base_image(dockerfile: Path = DOCKERFILE) -> str:
    """The default of `ARG PYTHON_IMAGE=...` in the Dockerfile: the single source of the tag."""
    match = re.search(r"^ARG\s+PYTHON_IMAGE=(\S+)\s*$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise SystemExit(f"{dockerfile}: no `ARG PYTHON_IMAGE=<image>` line")
    return match.group(1)


def debian_mirror() -> str:
    """The first Debian archive URL in apt's sources that serves the bookworm suite."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        # one-line format: deb [opts] URL SUITE COMPONENTS
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE and "debian" in parts[1]:
                return parts[1].rstrip("/")
        # deb822 format: stanzas of "Key: value" lines
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE))
            uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "").split()
            if SUITE in suites and uris and "debian" in uris[0] and "security" not in uris[0]:
                return uris[0].rstrip("/")
    return FALLBACK_MIRROR


def image_exists(tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=60)
    return result.returncode == 0


def check_prerequisites() -> None:
    if shutil.which("docker") is None:
        raise CannotBuildHere("no docker CLI on PATH")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        raise CannotBuildHere("no reachable Docker engine (`docker info` fails)")
    if shutil.which("debootstrap") is None:
        raise CannotBuildHere("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise CannotBuildHere("debootstrap needs root")


def build_rootfs(rootfs: Path, mirror: str) -> None:
    command = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(rootfs), mirror]
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RuntimeError(f"debootstrap failed (exit {result.returncode}):\n{tail}")
    # Package caches and lists only make the image bigger; python:*-slim ships without them too.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / leftover).glob("*"):
            if entry.is_file():
                entry.unlink()


def import_rootfs(rootfs: Path, tag: str) -> None:
    command = ["docker", "import"]
    for change in IMAGE_CHANGES:
        command += ["--change", change]
    command += ["-", tag]
    print("+ tar -C", rootfs, "-c . |", " ".join(command), flush=True)
    with subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE) as tar:
        result = subprocess.run(command, stdin=tar.stdout, capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
        assert tar.stdout is not None
        tar.stdout.close()
        tar_status = tar.wait(timeout=IMPORT_TIMEOUT_S)
    if result.returncode != 0 or tar_status != 0:
        raise RuntimeError(f"docker import failed (tar exit {tar_status}): {result.stderr.strip()}")


def build_node_image(tag: str, base: str) -> None:
    """`tag` = `base` + Debian's nodejs and npm, built by the engine from NODE_DOCKERFILE."""
    command = ["docker", "build", "--network", "host", "--rm", "--force-rm", "-t", tag, "-"]
    print("+", " ".join(command), "<<EOF", NODE_DOCKERFILE.format(base=base), "EOF", sep="\n", flush=True)
    # The classic builder: its --network host is the one every engine version honours the same way.
    environment = {**os.environ, "DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        command,
        input=NODE_DOCKERFILE.format(base=base),
        capture_output=True,
        text=True,
        timeout=NODE_BUILD_TIMEOUT_S,
        env=environment,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RuntimeError(f"docker build of {tag} failed (exit {result.returncode}):\n{tail}")


def ensure_base_image(tag: str, mirror: str | None = None, force: bool = False, with_node: bool = False) -> bool:
    """Make sure `tag` exists in the local engine. Returns True if it was built now.

    with_node: `tag` is the pinned base (built first if missing) plus nodejs and npm."""
    check_prerequisites()
    LOCK_PATH.touch(exist_ok=True)
    with LOCK_PATH.open() as lock:
        # Another process (a parallel test run, CI) may be building the same tag: wait for it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(tag) and not force:
            print(f"{tag}: already present, nothing to do", flush=True)
            return False
        if with_node:
            base = pinned_base_image()
            if not image_exists(base):
                _build_debian_base(base, mirror)
            started = time.monotonic()
            build_node_image(tag, base)
            print(f"{tag}: {base} + nodejs and npm in {time.monotonic() - started:.0f} s", flush=True)
            return True
        _build_debian_base(tag, mirror)
        return True


def _build_debian_base(tag: str, mirror: str | None) -> None:
    """Called with the lock held."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aksmcp-rootfs-", dir="/var/tmp") as workdir:
        rootfs = Path(workdir) / "rootfs"
        build_rootfs(rootfs, mirror or debian_mirror())
        import_rootfs(rootfs, tag)
    print(f"{tag}: built from Debian {SUITE} in {time.monotonic() - started:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--with-node", action="store_true", help=f"add nodejs and npm (default tag {NODE_BASE_TAG})")
    parser.add_argument("--tag", help="image name to create (default: the Dockerfile's ARG PYTHON_IMAGE)")
    parser.add_argument("--mirror", help="Debian mirror URL (default: the one in apt's sources)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    args = parser.parse_args(argv)
    tag = args.tag or (NODE_BASE_TAG if args.with_node else pinned_base_image())
    try:
        ensure_base_image(tag, args.mirror, args.force, args.with_node)
    except CannotBuildHere as reason:
        print(f"cannot build {tag} here: {reason}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as error:
        print(f"building {tag} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
