"""`aksmcp web` loaded in headless Chromium: the fleet table reaches the browser.

textual-serve draws with xterm.js on a canvas, so the page's DOM holds no text. The test drives Chromium
over the DevTools protocol (a websocket, spoken with aiohttp), records the websocket frames the page
receives from the dashboard, and waits until they carry the fleet table; it also saves a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

try:
    from ui.sandbox_support import ThreadedSandbox, seed_fleet, wait_ready  # tests/ on sys.path (rootdir mode)
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.ui.sandbox_support import ThreadedSandbox, seed_fleet, wait_ready  # type: ignore[no-redef]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AKSMCP = str(Path(sys.executable).parent / "aksmcp")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with ThreadedSandbox(tmp_path_factory.mktemp("web-sandbox")) as sandbox:
        seed_fleet(sandbox.kubeconfig_path)
        wait_ready(sandbox.kubeconfig_path, {"alpha-mcp": ("team-a", 1)})
        yield sandbox.kubeconfig_path


class WebServer:
    def __init__(self, proc: subprocess.Popen[str], url: str, kubeconfig: Path) -> None:
        self.proc = proc
        self.url = url
        self.kubeconfig = kubeconfig

    def stop(self) -> list[int]:
        """Ctrl+C the server; returns dashboard sessions still running afterwards (and kills them)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # textual-serve sessions can outlive their server; `aksmcp web` must stop them on the way out
        leftovers = _processes_mentioning(str(self.kubeconfig))
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        return leftovers


@pytest.fixture
def web_server(tmp_path: Path, sandbox_kubeconfig: Path) -> Iterator[WebServer]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "XDG_"))}
    env.update(HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"), TEXTUAL_ANIMATIONS="none")
    proc = subprocess.Popen(
        [AKSMCP, "web", "--port", str(port), "--kubeconfig", str(sandbox_kubeconfig), "--context", "aksmcp-sandbox"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = WebServer(proc, f"http://127.0.0.1:{port}/", sandbox_kubeconfig)
    try:
        yield server
    finally:
        server.stop()


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


async def _wait_http(url: str, within: float = 30.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return await response.text()
            except aiohttp.ClientError:
                pass
            if loop.time() > deadline:
                raise AssertionError(f"{url} did not answer within {within:.0f} s")
            await asyncio.sleep(0.2)


class Cdp:
    """The few DevTools protocol calls the test needs."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.frames: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                response = data["params"]["response"]
                payload = response.get("payloadData", "")
                if response.get("opcode") == 2:
                    payload = base64.b64decode(payload).decode("utf-8", "replace")
                self.frames.append(payload)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(future, 30)

    def text(self) -> str:
        joined = "".join(self.frames)
        return ANSI.sub("", joined.replace("\\u001b", "\x1b"))


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process, within: float = 30.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    marker = profile / "DevToolsActivePort"
    while not marker.exists():
        if proc.returncode is not None or loop.time() > deadline:
            raise AssertionError("chromium did not open its DevTools port")
        await asyncio.sleep(0.1)
    return int(marker.read_text().split()[0])


async def test_web_dashboard_shows_the_fleet_in_headless_chromium(web_server: WebServer, tmp_path: Path) -> None:
    index = await _wait_http(web_server.url)
    assert "textual-terminal" in index  # the textual-serve page

    profile = tmp_path / "chromium-profile"
    chromium = await asyncio.create_subprocess_exec(
        *[
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no internet: fail fonts fast
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port = await _devtools_port(profile, chromium)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = Cdp(ws)
                await cdp.call("Network.enable")
                await cdp.call("Page.enable")
                await cdp.call("Page.navigate", url=web_server.url)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                wanted = ("NAMESPACE", "alpha-mcp", "beta-mcp", "team-a")
                while not all(word in cdp.text() for word in wanted):
                    assert loop.time() < deadline, f"the fleet never reached the browser: {cdp.text()[-2000:]!r}"
                    await asyncio.sleep(0.25)
                assert "web-frontend" not in cdp.text()
                shot = await cdp.call("Page.captureScreenshot", format="png")
                (tmp_path / "web-dashboard.png").write_bytes(base64.b64decode(shot["result"]["data"]))
                # stop the server while the browser is still connected: no session may outlive it
                leftovers = await asyncio.to_thread(web_server.stop)
                assert not leftovers, f"dashboard sessions left running after aksmcp web stopped: {leftovers}"
                cdp.reader.cancel()
    finally:
        chromium.terminate()
        try:
            await asyncio.wait_for(chromium.wait(), 15)
        except TimeoutError:
            chromium.kill()
            await chromium.wait()
