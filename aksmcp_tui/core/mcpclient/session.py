"""One MCP session over the official SDK client, in either protocol revision, with its traffic captured.

`McpSession` is what the console screen and the headless verbs share: connect (auto-detecting the
revision, or pinned), list tools/resources/templates/prompts (all pages), call with progress and log
notifications, cancel (cancelling the awaiting task: the SDK then sends `notifications/cancelled`,
or closes the request's HTTP stream on 2026-07-28), and refresh the lists on list_changed.
Failures become `ConsoleError`s that say what to do; a tool's `isError` is a result, not an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import anyio
import mcp_types as types

from aksmcp_tui.core.mcpclient.capture import CapturingTransport, TrafficLog
from aksmcp_tui.core.mcpclient.targets import Endpoint

ProtocolChoice = Literal["auto", "2026-07-28", "2025-11-25"]
PROTOCOL_CHOICES: tuple[str, ...] = ("auto", "2026-07-28", "2025-11-25")
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MAX_PAGES = 100  # a paginator that never ends must not hang the console
CONNECT_TIMEOUT_S = 30.0
# How many `input_required` rounds (2026-07-28) one request may take before the console gives up: the SDK's
# default, named here so the message can say it. A server that asks forever must not hold the console.
INPUT_ROUNDS_MAX = 10
# JSON-RPC code of "the client did not declare a capability this request needs" (a server asking a client
# that cannot elicit or sample); mcp_types.MISSING_REQUIRED_CLIENT_CAPABILITY, spelled out so the module
# stays cheap to import.
MISSING_CAPABILITY = -32021
CLIENT_NAME = "aksmcp"
# Every tool call carries a fresh correlation id that aksmcp-server writes on each log line of the call
# (the same names as aksmcp_tui.core.observe.correlate, not imported: that module pulls in kubernetes).
# Over HTTP it goes in a header, not `_meta`: the server's fast path only takes the `_meta` clients
# send on every call, and the header reaches its logger on both the fast path and the SDK path.
CORRELATION_HEADER = "X-Aksmcp-Correlation-Id"
CORRELATION_META_KEY = "io.aksmcp/correlation-id"
# The id of the call being sent. The SDK runs each POST in the sending task's context, so the HTTP
# client's request hook reads the right id even with several calls in flight.
_call_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("aksmcp_correlation", default=None)


def new_correlation_id() -> str:
    """A fresh id, unique enough to pick one call's lines out of every replica's log."""
    return "aksmcp-" + os.urandom(8).hex()


class ConsoleError(Exception):
    """A failure the user can act on. exit_code: 1 protocol/connection/server, 2 bad input."""

    def __init__(self, message: str, *, exit_code: int = 1, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code  # the JSON-RPC error code, when there was one


@dataclass(frozen=True)
class ProgressEvent:
    request: str  # e.g. "tools/call add"
    progress: float
    total: float | None
    message: str | None


@dataclass(frozen=True)
class LogEvent:
    level: str
    logger: str | None
    data: Any


@dataclass(frozen=True)
class ListChangedEvent:
    kind: Literal["tools", "resources", "prompts"]


SessionEvent = ProgressEvent | LogEvent | ListChangedEvent
ElicitationHandler = Callable[[types.ElicitRequestParams], Awaitable[types.ElicitResult | types.ErrorData]]
SamplingHandler = Callable[[types.CreateMessageRequestParams], Awaitable[types.CreateMessageResult | types.ErrorData]]


@dataclass
class HttpTrace:
    """The last HTTP answer that was not a success: what a 401 or a non-MCP URL looked like."""

    status: int | None = None
    content_type: str = ""
    www_authenticate: str = ""
    body: str = ""


@dataclass
class CallOutcome:
    tool: str
    arguments: dict[str, Any]
    result: types.CallToolResult | None = None
    error: ConsoleError | None = None
    elapsed_ms: float = 0.0
    cancelled: bool = False
    progress: list[ProgressEvent] = field(default_factory=list)
    correlation_id: str | None = None  # what the server logged this call's lines under

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled and self.result is not None and not self.result.is_error

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return 0 if self.ok else 1


def _unwrap(exc: BaseException) -> BaseException:
    """The first real cause inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class McpSession:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        protocol: str = "auto",
        traffic: TrafficLog | None = None,
        on_event: Callable[[SessionEvent], None] | None = None,
        elicitation: ElicitationHandler | None = None,
        sampling: SamplingHandler | None = None,
        read_timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        auth: Any = None,  # an httpx2.Auth (the SDK's OAuth provider) for servers that asked for OAuth
        progress: bool = True,
        log_level: str | None = "debug",
        oauth: bool = True,
        say: Callable[[str], None] = lambda text: None,
        open_url: Any = None,  # how to show the sign-in URL (default: the browser, else printed via `say`)
    ) -> None:
        if protocol not in PROTOCOL_CHOICES:
            raise ConsoleError(f"--protocol {protocol!r}: use one of {', '.join(PROTOCOL_CHOICES)}", exit_code=2)
        self.endpoint = endpoint
        self.protocol_choice = protocol
        self.traffic = traffic if traffic is not None else TrafficLog()
        self.on_event = on_event
        self.elicitation = elicitation
        self.sampling = sampling
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.auth = auth
        # A progress token (and the log opt-in) asks the server to stream the answer (SSE) instead of one
        # JSON body; the console wants that, a script calling in a loop may not.
        self.progress = progress
        self.log_level = log_level
        self.oauth = oauth
        self.say = say
        if open_url is None:
            from aksmcp_tui.core.mcpclient.oauth import open_in_browser

            open_url = open_in_browser
        self.open_url = open_url
        self.http_trace = HttpTrace()
        self.tools: list[types.Tool] = []
        self.resources: list[types.Resource] = []
        self.templates: list[types.ResourceTemplate] = []
        self.prompts: list[types.Prompt] = []
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._stderr: IO[str] | None = None
        self._refreshing: set[str] = set()

    # ------------------------------------------------------------------ connection
    def _mode(self) -> str:
        return {"auto": "auto", MODERN: MODERN, LEGACY: "legacy"}[self.protocol_choice]

    async def _on_response(self, response: Any) -> None:
        if response.status_code >= 400:
            await response.aread()
            self.http_trace = HttpTrace(
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                www_authenticate=response.headers.get("www-authenticate", ""),
                body=response.text[:500],
            )

    def _transport(self, stack: AsyncExitStack) -> Any:
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if self.endpoint.url is not None:
            import httpx2
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = create_mcp_http_client(headers=dict(self.endpoint.headers), auth=self.auth)
            http.event_hooks["response"].append(self._on_response)
            http.event_hooks["request"].append(_stamp_correlation)
            return streamable_http_client(self.endpoint.url, http_client=http), http, httpx2
        command = self.endpoint.command
        # stderr is the server's log: kept in a file (not our terminal, where it would tear the screen) and
        # shown when the command fails
        self._stderr = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))  # noqa: SIM115
        # The user's own environment, as if typed in their shell: the SDK's default keeps only HOME/PATH/...,
        # which drops proxy settings and CA bundles, so `uvx`/`npx` behind a corporate proxy cannot fetch.
        params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(os.environ))
        return stdio_client(params, errlog=self._stderr), None, None

    def stderr_tail(self, limit: int = 2000) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read()[-limit:].strip()
        return ""

    async def __aenter__(self) -> McpSession:
        url = self.endpoint.url
        if self.oauth and self.auth is None and url and "Authorization" not in self.endpoint.headers:
            from aksmcp_tui.core.mcpclient.oauth import oauth_provider, token_path

            if token_path(url).is_file():  # signed in before: the cached (or refreshed) token, no 401 first
                self.auth = await oauth_provider(url, open_url=self.open_url, say=self.say)
        try:
            return await self._enter()
        except ConsoleError:
            trace = self.http_trace
            wants_oauth = trace.status == 401 and "resource_metadata" in trace.www_authenticate
            if not (wants_oauth and self.oauth and self.auth is None and self.endpoint.url):
                raise
        # The server advertises authorization metadata: the SDK's OAuth flow (PKCE; browser or printed URL)
        from aksmcp_tui.core.mcpclient.oauth import oauth_provider

        self.say("the server asks for OAuth sign-in (it advertises authorization metadata)")
        self.auth = await oauth_provider(self.endpoint.url, open_url=self.open_url, say=self.say)
        self.http_trace = HttpTrace()
        return await self._enter()

    async def _enter(self) -> McpSession:
        from mcp import Client

        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            transport, http, _ = self._transport(stack)
            if http is not None:
                await stack.enter_async_context(http)
            client = Client(
                CapturingTransport(transport, self.traffic),
                mode=self._mode(),
                read_timeout_seconds=self.read_timeout,
                logging_callback=self._on_log,
                log_level=self.log_level,  # type: ignore[arg-type]
                message_handler=self._on_message,
                client_info=types.Implementation(name=CLIENT_NAME, version=_version()),
                elicitation_callback=self._elicit if self.elicitation else None,  # type: ignore[arg-type]
                sampling_callback=self._sample if self.sampling else None,  # type: ignore[arg-type]
                cache=None,  # the console shows what the server says now
                input_required_max_rounds=INPUT_ROUNDS_MAX,
            )
            # no anyio timeout around this: the client's task group must be exited from the scope it was
            # entered in; the HTTP client's connect timeout and the stdio EOF bound the wait instead
            self._client = await stack.enter_async_context(client)
            if self.protocol_choice == MODERN:
                # A pin adopts the revision without a probe and with empty server capabilities, so the console
                # would list nothing: ask `server/discover` for the server's real capabilities and info. A
                # server that does not speak 2026-07-28 fails here, which is what pinning it means.
                session = self._client.session
                session.adopt(types.DiscoverResult.model_validate(await self._pinned_discover(session)))
            if self.protocol_version >= MODERN and self._listens_for():
                # 2026-07-28 delivers list changes only on a subscriptions/listen stream (no GET stream)
                group = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(group.cancel_scope.cancel)  # runs first on exit: the listener stops, then the group
                await group.start(self._listen)  # returns once the server acknowledged: no change is missed
        except BaseException as exc:
            error = self._connect_error(exc)
            with contextlib.suppress(BaseException):
                await stack.aclose()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)) or (
                isinstance(exc, anyio.get_cancelled_exc_class()) and error is None
            ):
                raise
            raise error from None
        self._stack = stack
        return self

    async def _pinned_discover(self, session: Any) -> Any:
        from mcp import MCPError

        try:
            return await session.send_discover(MODERN)
        except MCPError as exc:
            raise ConsoleError(
                f"{self.endpoint.target.display()} does not speak {MODERN}: server/discover answered "
                f"{exc.error.message!r} (JSON-RPC {exc.error.code}); use --protocol auto or {LEGACY}",
                code=exc.error.code,
            ) from None

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            await stack.__aexit__(exc_type, exc, tb)
        except Exception as error:
            # The transport's task group cancels the session's host task when the connection dies (the
            # server went away mid-call); its exit then raises the cause. Say that, not "cancelled".
            if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                cause = _unwrap(error)
                raise ConsoleError(f"the server went away: {type(cause).__name__}: {cause}") from None
            # otherwise the caller's own exception is the one worth seeing

    def _connect_error(self, exc: BaseException) -> ConsoleError:
        from mcp import MCPError

        cause = _unwrap(exc)
        if isinstance(cause, ConsoleError):  # already says what to do
            return cause
        where = self.endpoint.target.display()
        trace = self.http_trace
        if trace.status in (401, 403):
            return ConsoleError(self._auth_hint(trace), code=trace.status)
        if isinstance(cause, TimeoutError):
            return ConsoleError(f"{where}: no MCP answer within {self.connect_timeout:.0f} s")
        if self.endpoint.url is None:
            stderr = self.stderr_tail()
            detail = f": {cause}" if str(cause) else ""
            tail = f"\nserver stderr:\n{stderr}" if stderr else ""
            if isinstance(cause, OSError):
                return ConsoleError(f"cannot start {where}: {cause.strerror or cause}", exit_code=2)
            return ConsoleError(f"{where} did not speak MCP on stdio ({type(cause).__name__}{detail}){tail}")
        if trace.status is not None:
            kind = trace.content_type.split(";")[0] or "no content type"
            return ConsoleError(
                f"{where} answered HTTP {trace.status} ({kind}) instead of MCP: is this the MCP endpoint? "
                "aksmcp-server serves it at /mcp"
            )
        if isinstance(cause, MCPError):
            return ConsoleError(f"{where}: {cause.error.message} (JSON-RPC {cause.error.code})", code=cause.error.code)
        name = type(cause).__name__
        if "Connect" in name or isinstance(cause, OSError):
            return ConsoleError(f"cannot connect to {where}: {cause or name}")
        return ConsoleError(f"{where}: {name}: {cause}")

    def _auth_hint(self, trace: HttpTrace) -> str:
        where = self.endpoint.target.display()
        sent = "Authorization" in self.endpoint.headers or any(
            k.lower() in ("authorization", "x-api-key") for k in self.endpoint.headers
        )
        if trace.status == 403:
            return f"{where} answered 403 Forbidden: the credentials were accepted but lack access ({trace.body[:200]})"
        if "resource_metadata" in trace.www_authenticate:
            if self.auth is not None:
                return f"{where} refused the OAuth token (401 after sign-in): {trace.body[:200]}"
            return (
                f"{where} wants an OAuth token (it advertises authorization metadata): sign in (drop --no-oauth), "
                "or pass a token with --header 'Authorization: Bearer …' / --bearer-from-azure SCOPE"
            )
        scope = self.endpoint.target.bearer_scope
        if scope and "Authorization" in self.endpoint.headers:
            return (
                f"{where} refused the Entra ID token for --bearer-from-azure {scope} (401 Unauthorized): is that "
                "the server's scope (its application ID URI, e.g. api://CLIENT_ID/.default)?"
            )
        if sent:
            return f"{where} rejected the credentials (401 Unauthorized): check the key in --api-key-file / --header"
        entra = (
            "; for an Entra ID protected server, --bearer-from-azure SCOPE"
            if trace.www_authenticate.lower().startswith("bearer")
            else ""
        )
        return (
            f"{where} needs a key (401 Unauthorized): pass it with --api-key-file FILE (sent as "
            f"'Authorization: Bearer KEY') or --header 'X-API-Key: KEY'{entra}"
        )

    def _capability_hint(self, error: types.ErrorData) -> str:
        """What a -32021 means here: the request needs a person (or a model) this client cannot reach."""
        data = error.data if isinstance(error.data, dict) else {}
        required = data.get("requiredCapabilities")
        wanted = sorted(required) if isinstance(required, dict) and required else []
        what = " and ".join(wanted) or "a client capability"
        if not (self.elicitation or self.sampling):
            return (
                f"the server needs {what} from the client (someone to answer its question) and this headless "
                "client has no one to ask: run it in the console (`aksmcp console TARGET`), which answers "
                f"elicitation and sampling on screen ({error.message})"
            )
        return f"the server needs {what}, which aksmcp does not offer ({error.message})"

    def _listens_for(self) -> dict[str, bool]:
        caps = self.capabilities
        wanted = {
            "tools_list_changed": bool(caps.tools and caps.tools.list_changed),
            "prompts_list_changed": bool(caps.prompts and caps.prompts.list_changed),
            "resources_list_changed": bool(caps.resources and caps.resources.list_changed),
        }
        return {k: v for k, v in wanted.items() if v}

    async def _listen(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

        kinds: dict[type, Literal["tools", "resources", "prompts"]] = {
            ToolsListChanged: "tools",
            PromptsListChanged: "prompts",
            ResourcesListChanged: "resources",
        }
        started = False
        try:
            async with self.client.listen(**self._listens_for()) as subscription:
                task_status.started()
                started = True
                async for event in subscription:
                    kind = kinds.get(type(event))
                    if kind is not None:
                        await self._refetch(kind)
        except Exception as exc:  # a server without listen support: lists refresh on demand only
            self._emit(LogEvent("debug", "aksmcp", f"no list-change subscription: {type(exc).__name__}: {exc}"))
        finally:
            if not started:
                task_status.started()

    # ------------------------------------------------------------------ facts
    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the session is not connected")
        return self._client

    @property
    def protocol_version(self) -> str:
        return str(self.client.protocol_version)

    @property
    def server_info(self) -> types.Implementation | None:
        info: types.Implementation | None = self.client.server_info
        return info

    @property
    def capabilities(self) -> types.ServerCapabilities:
        caps: types.ServerCapabilities = self.client.server_capabilities
        return caps

    @property
    def instructions(self) -> str | None:
        text: str | None = self.client.instructions
        return text

    def summary(self) -> dict[str, Any]:
        info = self.server_info
        return {
            "target": self.endpoint.target.display(),
            "url": self.endpoint.url,
            "protocolVersion": self.protocol_version,
            "protocolChoice": self.protocol_choice,
            "serverInfo": info.model_dump(by_alias=True, exclude_none=True) if info else None,
            "capabilities": self.capabilities.model_dump(by_alias=True, exclude_none=True),
            "instructions": self.instructions,
        }

    # ------------------------------------------------------------------ lists
    async def _all_pages(self, fetch: Callable[[str | None], Awaitable[Any]], attr: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._guard(fetch(cursor))
            items.extend(getattr(page, attr))
            cursor = page.next_cursor
            if not cursor:
                break
        return items

    async def list_tools(self) -> list[types.Tool]:
        self.tools = await self._all_pages(lambda c: self.client.list_tools(cursor=c), "tools")
        return self.tools

    async def list_resources(self) -> list[types.Resource]:
        self.resources = await self._all_pages(lambda c: self.client.list_resources(cursor=c), "resources")
        return self.resources

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        self.templates = await self._all_pages(
            lambda c: self.client.list_resource_templates(cursor=c), "resource_templates"
        )
        return self.templates

    async def list_prompts(self) -> list[types.Prompt]:
        self.prompts = await self._all_pages(lambda c: self.client.list_prompts(cursor=c), "prompts")
        return self.prompts

    async def refresh_all(self) -> None:
        """Every list the server offers (a capability it does not declare is left empty, not asked)."""
        caps = self.capabilities
        if caps.tools is not None:
            await self.list_tools()
        if caps.resources is not None:
            await self.list_resources()
            await self.list_resource_templates()
        if caps.prompts is not None:
            await self.list_prompts()

    def find_tool(self, name: str) -> types.Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    async def _guard(self, awaitable: Awaitable[Any]) -> Any:
        """Await one request; protocol and transport failures become ConsoleErrors."""
        from mcp import InputRequiredRoundsExceededError, MCPError

        try:
            return await awaitable
        except MCPError as exc:
            trace = self.http_trace
            if trace.status in (401, 403):
                raise ConsoleError(self._auth_hint(trace), code=trace.status) from None
            if exc.error.code == MISSING_CAPABILITY:
                raise ConsoleError(self._capability_hint(exc.error), code=exc.error.code) from None
            raise ConsoleError(f"{exc.error.message} (JSON-RPC {exc.error.code})", code=exc.error.code) from None
        except InputRequiredRoundsExceededError as exc:
            # the connection is fine: only this request is abandoned, the session stays usable
            raise ConsoleError(
                f"the server still wanted input after {exc.max_rounds} rounds (input_required, 2026-07-28): "
                "aksmcp gave up on this request; the server may be looping"
            ) from None
        except (ConsoleError, anyio.get_cancelled_exc_class()):
            raise
        except Exception as exc:
            cause = _unwrap(exc)
            raise ConsoleError(f"the server went away: {type(cause).__name__}: {cause}") from None

    # ------------------------------------------------------------------ calls
    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, on_progress: Callable[[ProgressEvent], None] | None = None
    ) -> CallOutcome:
        outcome = CallOutcome(tool=name, arguments=arguments, correlation_id=new_correlation_id())

        async def progress(value: float, total: float | None, message: str | None) -> None:
            event = ProgressEvent(f"tools/call {name}", value, total, message)
            outcome.progress.append(event)
            if on_progress is not None:
                on_progress(event)
            self._emit(event)

        # stdio has no headers: the id rides in `_meta` (there is no fast path to keep there)
        meta = {CORRELATION_META_KEY: outcome.correlation_id} if self.endpoint.url is None else None
        token = _call_correlation.set(outcome.correlation_id)
        started = time.perf_counter()
        try:
            callback = progress if self.progress or on_progress is not None else None
            outcome.result = await self._guard(
                self.client.call_tool(name, arguments, progress_callback=callback, meta=meta)
            )
        except ConsoleError as error:
            outcome.error = error
        except anyio.get_cancelled_exc_class():
            outcome.cancelled = True
            outcome.elapsed_ms = (time.perf_counter() - started) * 1000.0
            raise
        finally:
            _call_correlation.reset(token)
        outcome.elapsed_ms = (time.perf_counter() - started) * 1000.0
        return outcome

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        result: types.ReadResourceResult = await self._guard(self.client.read_resource(uri))
        return result

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        result: types.GetPromptResult = await self._guard(self.client.get_prompt(name, arguments))
        return result

    async def ping(self) -> None:
        await self._guard(self.client.send_ping())

    # ------------------------------------------------------------------ server -> client
    def _emit(self, event: SessionEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self._emit(LogEvent(str(params.level), params.logger, params.data))

    async def _on_message(self, message: Any) -> None:
        kind: Literal["tools", "resources", "prompts"] | None = None
        if isinstance(message, types.ToolListChangedNotification):
            kind = "tools"
        elif isinstance(message, types.ResourceListChangedNotification):
            kind = "resources"
        elif isinstance(message, types.PromptListChangedNotification):
            kind = "prompts"
        if kind is None:
            return
        await self._refetch(kind)

    async def _refetch(self, kind: Literal["tools", "resources", "prompts"]) -> None:
        # refetch first, then tell the listener: the event means "the list you hold is now current"
        with contextlib.suppress(ConsoleError):
            if kind == "tools":
                await self.list_tools()
            elif kind == "resources":
                await self.list_resources()
            else:
                await self.list_prompts()
        self._emit(ListChangedEvent(kind))

    async def _elicit(self, _context: Any, params: types.ElicitRequestParams) -> Any:
        assert self.elicitation is not None
        return await self.elicitation(params)

    async def _sample(self, _context: Any, params: types.CreateMessageRequestParams) -> Any:
        assert self.sampling is not None
        return await self.sampling(params)


async def _stamp_correlation(request: Any) -> None:
    """httpx request hook: the current call's correlation id as a header (a context lookup otherwise)."""
    correlation = _call_correlation.get()
    if correlation is not None:
        request.headers[CORRELATION_HEADER] = correlation


def _version() -> str:
    from aksmcp_tui import __version__

    return __version__
