"""`aksmcp-server bridge`: real bridge processes, real stdio children, the official SDK client in both revisions.

Children: the third-party `mcp-server-time` and `mcp-server-git` from PyPI (.tools/bin), and
tests/server/bridge_child.py (SDK) for what they cannot do on demand (slow calls with progress, a crash
mid-call, logging, sampling, list_changed, its pid). "auto" negotiates 2026-07-28 (stateless, the
shared child); "legacy" forces the 2025-11-25 handshake (a session with its own child).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from conftest import API_KEY, RunningServer, server_env
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    CreateMessageResult,
    ElicitResult,
    LoggingMessageNotificationParams,
    TextContent,
    ToolListChangedNotification,
)
from tools import require_tool

CHILD = Path(__file__).with_name("bridge_child.py")
CHILD_COMMAND = [sys.executable, str(CHILD)]
MODES = ["auto", "legacy"]
VERSION = {"auto": "2026-07-28", "legacy": "2025-11-25"}
WAIT_S = 20.0

StartBridge = Callable[..., RunningServer]


def launch(
    argv: list[str], workspace: Path, env: dict[str, str] | None = None, process_group: int | None = None
) -> RunningServer:
    """`python -m aksmcp_server ARGV` with its log collected; not yet waited for."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aksmcp_server", *argv],
        env=server_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=process_group,
    )
    return RunningServer(proc, workspace)


def _start_bridge(
    workspace: Path, command: list[str], args: list[str] | None = None, env: dict[str, str] | None = None
) -> RunningServer:
    argv = ["bridge", "--port", "0", "--workspace", str(workspace), *(args or []), "--", *command]
    server = launch(argv, workspace, env)
    server.wait_listening()
    wait_ready(server)
    return server


def wait_ready(server: RunningServer, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = http_get(server, "/readyz")
        if status == 200:
            return
        time.sleep(0.05)
    raise AssertionError("the bridge never became ready:\n" + "".join(server.lines[-20:]))


def http_get(server: RunningServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.base + path, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(
    server: RunningServer, message: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    request = urllib.request.Request(
        server.url,
        data=json.dumps(message).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            return response.status, dict(response.headers), json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, dict(error.headers), json.loads(body) if body else None


def initialize_message(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
    }


def metric(server: RunningServer, name: str, labels: str = "") -> float:
    _, text = http_get(server, "/metrics")
    for line in text.splitlines():
        if line.startswith(f"{name}{{{labels}}} " if labels else f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}{{{labels}}}")


async def wait_log(server: RunningServer, needle: str) -> dict[str, Any]:
    def found(entry: dict[str, Any]) -> bool:
        return needle in str(entry.get("line", "")) or needle == entry.get("msg")

    return await anyio.to_thread.run_sync(lambda: server.wait_for_log(found, timeout=WAIT_S))


def text_of(result: Any) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bridge-workspace")


@pytest.fixture(scope="module")
def bridge(module_workspace: Path) -> Iterator[RunningServer]:
    """One bridge over the SDK test child, shared by the tests that do not stop or break it."""
    server = _start_bridge(module_workspace, CHILD_COMMAND, ["--pool-size", "8"])
    yield server
    server.stop()


@pytest.fixture
def start_bridge(tmp_path: Path) -> Iterator[StartBridge]:
    started: list[RunningServer] = []
    workspace = tmp_path / "ws"
    workspace.mkdir()

    def start(
        command: list[str] | None = None, args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> RunningServer:
        server = _start_bridge(workspace, command or CHILD_COMMAND, args, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# ------------------------------------------------------------------ third-party servers --


@pytest.fixture(scope="module")
def time_bridge(module_workspace: Path) -> Iterator[RunningServer]:
    server = _start_bridge(module_workspace, [require_tool("mcp-server-time"), "--local-timezone", "UTC"])
    yield server
    server.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_time_server_through_the_bridge_in_both_revisions(time_bridge: RunningServer, mode: str) -> None:
    async with Client(time_bridge.url, mode=mode) as client:  # type: ignore[arg-type]
        assert client.protocol_version == VERSION[mode]
        assert client.server_info is not None and client.server_info.name == "mcp-time"
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"get_current_time", "convert_time"} <= tools
        result = await client.call_tool(
            "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
        )
        assert not result.is_error
        assert json.loads(text_of(result))["target"]["datetime"].endswith("T21:00:00+09:00")
        bad = await client.call_tool("get_current_time", {"timezone": "Not/AZone"})
        assert bad.is_error
    assert metric(time_bridge, "mcp_tool_calls_total", 'outcome="ok",tool="convert_time"') >= 1


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "README.md").write_text("hello\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-qm", "first commit through the bridge"], check=True)
    (repo / "new.txt").write_text("untracked\n")
    return repo


@pytest.mark.parametrize("mode", MODES)
async def test_git_server_through_the_bridge_in_both_revisions(
    start_bridge: StartBridge, git_repo: Path, mode: str
) -> None:
    repo = git_repo
    server = start_bridge([require_tool("mcp-server-git"), "--repository", str(repo)])
    async with Client(server.url, mode=mode) as client:  # type: ignore[arg-type]
        assert client.protocol_version == VERSION[mode]
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"git_status", "git_log"} <= tools
        status = await client.call_tool("git_status", {"repo_path": str(repo)})
        assert not status.is_error and "new.txt" in text_of(status)
        log = await client.call_tool("git_log", {"repo_path": str(repo)})
        assert "first commit through the bridge" in text_of(log)


# ------------------------------------------------------------------ isolation --


async def test_interleaved_clients_get_only_their_own_answers(bridge: RunningServer) -> None:
    """Four clients (two per revision), all starting their ids at the same numbers, calling at once."""
    results: dict[str, list[str]] = {}
    pids: dict[str, int] = {}

    async def run(name: str, mode: str) -> None:
        async with Client(bridge.url, mode=mode) as client:  # type: ignore[arg-type]
            pids[name] = int(text_of(await client.call_tool("whoami", {})))
            answers = []
            for i in range(15):
                answers.append(text_of(await client.call_tool("echo", {"text": f"{name}-{i}"})))
            results[name] = answers

    async with anyio.create_task_group() as tasks:
        for name, mode in (("m1", "auto"), ("m2", "auto"), ("l1", "legacy"), ("l2", "legacy")):
            tasks.start_soon(run, name, mode)
    for name, answers in results.items():
        assert answers == [f"{name}-{i}" for i in range(15)], name
    # 2026-07-28 requests share one child; every 2025-11-25 session has its own.
    assert pids["m1"] == pids["m2"]
    assert len({pids["m1"], pids["l1"], pids["l2"]}) == 3


@pytest.mark.parametrize("mode", MODES)
async def test_progress_reaches_only_the_calling_client(bridge: RunningServer, mode: str) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}

    async def run(name: str) -> None:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen[name].append(message or "")

        async with Client(bridge.url, mode=mode) as client:  # type: ignore[arg-type]
            result = await client.call_tool("slow", {"seconds": 0.2, "tag": name}, progress_callback=on_progress)
            assert text_of(result) == f"slept 0.2 ({name})"

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run, "a")
        tasks.start_soon(run, "b")
    assert seen["a"] == [f"a step {i}" for i in range(4)]
    assert seen["b"] == [f"b step {i}" for i in range(4)]


async def test_logging_and_list_changed_reach_only_their_session(bridge: RunningServer) -> None:
    logs: dict[str, list[Any]] = {"a": [], "b": []}
    changed: dict[str, int] = {"a": 0, "b": 0}
    got_a = anyio.Event()

    def callbacks(name: str) -> dict[str, Any]:
        async def on_log(params: LoggingMessageNotificationParams) -> None:
            logs[name].append(params.data)
            got_a.set() if name == "a" and changed["a"] else None

        async def on_message(message: Any) -> None:
            if isinstance(message, ToolListChangedNotification):
                changed[name] += 1
                got_a.set() if name == "a" and logs["a"] else None

        return {"logging_callback": on_log, "message_handler": on_message}

    async with (
        Client(bridge.url, mode="legacy", **callbacks("a")) as a,
        Client(bridge.url, mode="legacy", **callbacks("b")) as b,
    ):
        assert text_of(await a.call_tool("shout", {"text": "for a only"})) == "logged"
        assert text_of(await a.call_tool("touch_tools", {})) == "announced"
        with anyio.fail_after(WAIT_S):
            await got_a.wait()
        # b is alive and connected the whole time: a round trip through its own stream proves it.
        assert text_of(await b.call_tool("echo", {"text": "b still here"})) == "b still here"
    assert logs["a"] == ["for a only"] and changed["a"] == 1
    assert logs["b"] == [] and changed["b"] == 0


async def test_sampling_request_reaches_the_client_that_advertises_it(bridge: RunningServer) -> None:
    asked: list[str] = []

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="forty-two"), model="test-model"
        )

    async with Client(bridge.url, mode="legacy", sampling_callback=sample) as client:
        result = await client.call_tool("ask", {"question": "meaning of life?"})
    assert text_of(result) == "forty-two"
    assert asked == ["meaning of life?"]


@pytest.mark.parametrize("mode", MODES)
async def test_cancellation_reaches_the_child(bridge: RunningServer, mode: str) -> None:
    tag = f"cancel-{mode}"
    async with Client(bridge.url, mode=mode) as client:  # type: ignore[arg-type]
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.call_tool, "slow", {"seconds": 60, "tag": tag})
                await wait_log(bridge, f"slow started {tag}")
                scope.cancel()
        entry = await wait_log(bridge, f"slow cancelled {tag}")
        # The child's stderr is logged with the child it came from.
        assert entry["logger"] == "aksmcp_server.bridge.child" and entry["session"]
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"


# ------------------------------------------------------------------ failures --


@pytest.mark.parametrize("mode", MODES)
async def test_child_crash_fails_the_call_clearly_and_the_child_is_replaced(
    start_bridge: StartBridge, mode: str
) -> None:
    server = start_bridge()
    async with Client(server.url, mode=mode) as client:  # type: ignore[arg-type]
        first = int(text_of(await client.call_tool("whoami", {})))
        with pytest.raises(MCPError) as failure:
            await client.call_tool("crash", {})
        assert failure.value.error.code == -32603
        assert "exited with status 3" in failure.value.error.message
        assert "crashing on purpose" in json.dumps(failure.value.error.data)
        second = int(text_of(await client.call_tool("whoami", {})))
        assert second != first
    assert metric(server, "mcp_tool_calls_total", 'outcome="protocol_error",tool="crash"') == 1
    wait_ready(server)


async def test_sigterm_drains_slow_calls_before_closing_the_children(start_bridge: StartBridge) -> None:
    server = start_bridge(env={"AKSMCP_GRACE_SECONDS": "20"})
    answers: dict[str, str] = {}

    async def call(mode: str) -> None:
        async with Client(server.url, mode=mode) as client:  # type: ignore[arg-type]
            # Listed first: a client that calls an unlisted tool lists tools right after the answer (to
            # validate it), a new request that can reach the bridge after its listener has closed.
            await client.list_tools()
            answers[mode] = text_of(await client.call_tool("slow", {"seconds": 1.5, "tag": f"drain-{mode}"}))

    async with anyio.create_task_group() as tasks:
        for mode in MODES:
            tasks.start_soon(call, mode)
        for mode in MODES:
            await wait_log(server, f"slow started drain-{mode}")
        server.proc.send_signal(signal.SIGTERM)
        status, body = await anyio.to_thread.run_sync(http_get, server, "/readyz")
        assert status == 503 and "draining" in body
    assert answers == {mode: f"slept 1.5 (drain-{mode})" for mode in MODES}
    assert await anyio.to_thread.run_sync(lambda: server.proc.wait(timeout=WAIT_S)) == 0
    messages = [(e.get("msg"), str(e.get("line", ""))) for e in server.log_entries()]
    finished = max(i for i, (_, line) in enumerate(messages) if "slow finished drain-auto" in line)
    shared_exit = next(
        i for i, e in enumerate(server.log_entries()) if e.get("msg") == "child exited" and e.get("session") == "shared"
    )
    assert finished < shared_exit


async def test_ctrl_c_in_the_terminal_drains_instead_of_killing_the_children(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals its whole foreground process group. The children have a group of their
    own, so only the bridge gets it, and it drains; they stay in the bridge's session (bridge/process.py:
    under autogroup scheduling a session of their own is a scheduling group of their own)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    argv = ["bridge", "--port", "0", "--workspace", str(workspace), "--", *CHILD_COMMAND]
    # The bridge leads a process group, as a shell's foreground job does.
    server = launch(argv, workspace, {"AKSMCP_GRACE_SECONDS": "20"}, process_group=0)
    try:
        server.wait_listening()
        wait_ready(server)
        answers: list[str] = []
        async with Client(server.url) as client:
            child = int(text_of(await client.call_tool("whoami", {})))
            assert os.getpgid(child) == child != server.proc.pid
            assert os.getsid(child) == os.getsid(server.proc.pid)

            async def slow() -> None:
                answers.append(text_of(await client.call_tool("slow", {"seconds": 1.5, "tag": "ctrl-c"})))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(slow)
                await wait_log(server, "slow started ctrl-c")
                os.killpg(server.proc.pid, signal.SIGINT)
        assert answers == ["slept 1.5 (ctrl-c)"]
        assert await anyio.to_thread.run_sync(lambda: server.proc.wait(timeout=WAIT_S)) == 0
    finally:
        server.stop()


async def test_pool_cap_answers_clearly_and_idle_sessions_are_reaped(start_bridge: StartBridge) -> None:
    server = start_bridge(args=["--pool-size", "1", "--idle-seconds", "3"])
    status, headers, body = post(server, initialize_message())
    assert status == 200 and body is not None and body["result"]["serverInfo"]["name"] == "bridge-test-child"
    session = headers["mcp-session-id"]
    # A connected client holds its GET stream open: however long it stays quiet, it is not idle.
    stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    stream.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": session})
    assert stream.getresponse().status == 200, "".join(server.lines[-15:])
    status, headers, body = post(server, initialize_message(2))
    assert status == 503 and headers.get("retry-after")
    assert body is not None and body["id"] == 2 and body["error"]["code"] == -32000
    assert "--pool-size 1" in body["error"]["message"]
    # The official client surfaces the same message.
    with pytest.raises(Exception) as refused:
        async with Client(server.url, mode="legacy"):
            pass
    assert "--pool-size 1" in repr(refused.value.exceptions if hasattr(refused.value, "exceptions") else refused.value)
    # Stateless (2026-07-28) traffic never needs a slot.
    async with Client(server.url, mode="auto") as client:
        assert text_of(await client.call_tool("echo", {"text": "stateless"})) == "stateless"
    # The client goes away without DELETE: 3 s later its session and child are closed.
    stream.close()
    deadline = time.monotonic() + WAIT_S
    while metric(server, "mcp_active_sessions") > 0:
        assert time.monotonic() < deadline, "the idle session was never reaped"
        await anyio.sleep(0.05)
    status, _, body = post(
        server, {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}, {"Mcp-Session-Id": session}
    )
    assert status == 404
    status, _, _ = post(server, initialize_message(4))
    assert status == 200


async def test_readyz_says_when_no_child_can_start(start_bridge: StartBridge, tmp_path: Path) -> None:
    workspace = tmp_path / "ws2"
    workspace.mkdir()
    crashing = [sys.executable, "-c", "import sys; print('no luck here', file=sys.stderr); sys.exit(4)"]
    server = launch(["bridge", "--port", "0", "--workspace", str(workspace), "--", *crashing], workspace)
    try:
        server.wait_listening()
        deadline = time.monotonic() + WAIT_S
        while True:
            status, body = http_get(server, "/readyz")
            if "exited with status 4" in body:
                break
            assert time.monotonic() < deadline, body
            await anyio.sleep(0.05)
        assert status == 503 and "no luck here" in body
        assert http_get(server, "/healthz")[0] == 200
        status, _, answer = post(server, initialize_message())
        assert status == 503 and answer is not None and "exited with status 4" in answer["error"]["message"]
    finally:
        server.stop()
    assert server.proc.returncode == 0


# ------------------------------------------------------------------ runtime features --


async def test_api_key_host_and_origin_checks(start_bridge: StartBridge, tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY)
    key_file.chmod(0o600)
    server = start_bridge(args=["--auth", "apikey", "--api-key-file", str(key_file)])
    status, headers, _ = post(server, initialize_message())
    assert status == 401 and "Bearer" in headers.get("www-authenticate", "")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    assert post(server, initialize_message(), {**auth, "Origin": "https://evil.example"})[0] == 403
    assert post(server, initialize_message(), {**auth, "Host": "evil.example"})[0] == 421
    async with httpx2.AsyncClient(headers=auth) as http:
        for mode in MODES:
            async with Client(streamable_http_client(server.url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
                assert text_of(await client.call_tool("echo", {"text": mode})) == mode

        async def elicit(context: Any, params: Any) -> ElicitResult:
            return ElicitResult(action="accept", content={"answer": "authorized"})

        # MRTR under auth: the requestState is bound to the authenticated principal, and the retry matches.
        async with Client(
            streamable_http_client(server.url, http_client=http), mode="2026-07-28", elicitation_callback=elicit
        ) as client:
            assert text_of(await client.call_tool("confirm", {"question": "key?"})) == "accept: authorized"
    # The child never sees the bridge's own settings (the key file path included).
    async with (
        httpx2.AsyncClient(headers=auth) as http,
        Client(streamable_http_client(server.url, http_client=http), mode="auto") as client,
    ):
        pid = text_of(await client.call_tool("whoami", {}))
    environ = (await anyio.Path(f"/proc/{pid}/environ").read_bytes()).split(b"\0")
    assert not [entry for entry in environ if entry.startswith(b"AKSMCP_")]


async def test_bridge_command_from_the_environment(tmp_path: Path) -> None:
    """The image's default command (`aksmcp-server --transport http`) becomes the bridge with AKSMCP_BRIDGE_COMMAND."""
    command = f"{sys.executable} '{CHILD}'"
    server = launch(
        ["--transport", "http", "--port", "0", "--workspace", str(tmp_path)],
        tmp_path,
        {"AKSMCP_BRIDGE_COMMAND": command},
    )
    try:
        server.wait_listening()
        wait_ready(server)
        async with Client(server.url) as client:
            assert client.server_info is not None and client.server_info.name == "bridge-test-child"
            assert text_of(await client.call_tool("echo", {"text": "from env"})) == "from env"
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["bridge"], {}, "needs the stdio command"),
        (["bridge", "--", "/nonexistent/mcp-server"], {}, "was not found"),
        (["bridge", "--pool-size", "0", "--", sys.executable], {}, "--pool-size"),
        (["bridge", "--host", "0.0.0.0", "--", sys.executable], {}, "refusing to serve without authentication"),
        (["--transport", "stdio"], {"AKSMCP_BRIDGE_COMMAND": sys.executable}, "use --transport http"),
        (["bridge"], {"AKSMCP_BRIDGE_COMMAND": "python 'unclosed"}, "cannot parse"),
        (["bridge", "--sched-policy", "fifo", "--", sys.executable], {}, "must be batch or normal"),
    ],
)
def test_bad_bridge_configuration_is_refused_clearly(args: list[str], env: dict[str, str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aksmcp_server", *args],
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=os.getcwd(),
    )
    assert result.returncode == 2
    assert expected in result.stderr and result.stderr.startswith("aksmcp-server: ")


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_that_speaks_only_2026_07_28_serves_both_revisions(start_bridge: StartBridge, mode: str) -> None:
    """The other way round: the bridge finds a modern-only child (initialize refused, server/discover
    answered) and gives it the 2026-07-28 envelope on every request, so a 2025-11-25 client can use it."""
    server = start_bridge([sys.executable, str(Path(__file__).with_name("modern_only_child.py"))])
    async with Client(server.url, mode=mode) as client:  # type: ignore[arg-type]
        assert client.protocol_version == VERSION[mode]
        assert client.server_info is not None and client.server_info.name == "modern-only"
        assert [tool.name for tool in (await client.list_tools()).tools] == ["echo", "ask"]
        assert text_of(await client.call_tool("echo", {"text": mode})) == f"modern says {mode}"


async def test_listen_streams_get_list_changed_from_the_shared_child(bridge: RunningServer) -> None:
    """2026-07-28 `subscriptions/listen`: the shared child's tools/list_changed reaches the listener that
    asked for it, while another client's call triggers it."""
    async with Client(bridge.url) as listener, Client(bridge.url) as actor:
        async with listener.listen(tools_list_changed=True) as subscription:
            assert text_of(await actor.call_tool("touch_tools", {})) == "announced"
            with anyio.fail_after(WAIT_S):
                event = await subscription.__anext__()
        assert "Tools" in type(event).__name__
