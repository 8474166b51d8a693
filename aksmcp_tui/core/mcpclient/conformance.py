"""`aksmcp test TARGET`: an MCP conformance check usable in CI.

Each check is a plain function of a `Probe` (the target, raw HTTP access, SDK sessions in both
revisions) that returns pass/fail/skip with a reason. Raw HTTP is used where the SDK would paper
over the server's answer (version negotiation, error codes, Host/Origin); the SDK is used where the
protocol is the point (listing, ping). No tool is called unless `--call TOOL` names it; the unknown-
tool probe uses a name no server has.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from aksmcp_tui.core.mcpclient.forms import check_schema, validate_arguments
from aksmcp_tui.core.mcpclient.session import LEGACY, MODERN, ConsoleError, McpSession
from aksmcp_tui.core.mcpclient.targets import Endpoint

Status = Literal["pass", "fail", "skip"]
KNOWN_REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
NO_SUCH_TOOL = "aksmcp-conformance-no-such-tool"
UNDECLARED_ARGUMENT = "aksmcp_conformance_undeclared"
_ACCEPT = "application/json, text/event-stream"


@dataclass
class CheckResult:
    name: str
    status: Status
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Report:
    target: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "passed": self.passed, "checks": [c.to_json() for c in self.checks]}


@dataclass
class RawAnswer:
    status: int
    content_type: str
    body: Any  # the JSON-RPC message (from JSON or the last SSE data line), or the text
    headers: dict[str, str]

    @property
    def error_code(self) -> int | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return code if isinstance(code, int) else None
        return None

    @property
    def result(self) -> dict[str, Any] | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("result"), dict):
            return dict(self.body["result"])
        return None

    def brief(self) -> str:
        code = self.error_code
        if code is not None:
            return f"HTTP {self.status}, JSON-RPC error {code}"
        return f"HTTP {self.status}" + (f", {json.dumps(self.body)[:120]}" if self.body not in (None, "") else "")


def _parse_body(content_type: str, text: str) -> Any:
    if "text/event-stream" in content_type:
        last: Any = None
        for line in text.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data:
                    try:
                        last = json.loads(data)
                    except ValueError:
                        last = data
        return last
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text[:300]


def modern_meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "aksmcp-test", "version": "1"},
    }


class Probe:
    """Raw HTTP access to the target's endpoint (one pooled client), plus SDK sessions on demand."""

    def __init__(self, endpoint: Endpoint, http: Any) -> None:
        self.endpoint = endpoint
        self.http = http
        self.legacy_session_id: str | None = None

    @property
    def url(self) -> str:
        assert self.endpoint.url is not None
        return self.endpoint.url

    def base(self, path: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    async def post(
        self,
        body: Any,
        *,
        modern: bool,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        raw: bytes | None = None,
    ) -> RawAnswer:
        sent: dict[str, str] = {"Content-Type": "application/json", "Accept": _ACCEPT}
        if auth:
            sent.update(self.endpoint.headers)
        if isinstance(body, dict) and "method" in body:
            if modern:
                sent["MCP-Protocol-Version"] = MODERN
                sent["Mcp-Method"] = str(body["method"])
                params = body.get("params") or {}
                name = params.get("name") or params.get("uri")
                if isinstance(name, str):
                    sent["Mcp-Name"] = name
            elif body["method"] != "initialize":
                sent["MCP-Protocol-Version"] = LEGACY
                if self.legacy_session_id:
                    sent["Mcp-Session-Id"] = self.legacy_session_id
        sent.update(headers or {})
        content = raw if raw is not None else json.dumps(body).encode()
        response = await self.http.post(self.url, content=content, headers=sent)
        content_type = response.headers.get("content-type", "")
        return RawAnswer(
            response.status_code, content_type, _parse_body(content_type, response.text), dict(response.headers)
        )

    async def get(self, path: str) -> Any:
        return await self.http.get(self.base(path), headers=dict(self.endpoint.headers))

    async def legacy_initialize(self, version: str = LEGACY) -> RawAnswer:
        answer = await self.post(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "aksmcp-test", "version": "1"},
                },
            },
            modern=False,
        )
        session_id = answer.headers.get("mcp-session-id")
        if session_id:
            self.legacy_session_id = session_id
        if answer.result is not None:
            await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, modern=False)
        return answer

    def request(self, method: str, params: dict[str, Any] | None, *, modern: bool, ident: int = 7) -> dict[str, Any]:
        body_params = dict(params or {})
        if modern:
            body_params["_meta"] = modern_meta()
        return {"jsonrpc": "2.0", "id": ident, "method": method, "params": body_params}


Check = Callable[[Probe], Awaitable[CheckResult]]


def _expect_code(name: str, answers: dict[str, RawAnswer], code: int) -> CheckResult:
    wrong = {era: a for era, a in answers.items() if a.error_code != code}
    if not wrong:
        return CheckResult(name, "pass", ", ".join(f"{era}: {a.brief()}" for era, a in answers.items()))
    return CheckResult(
        name, "fail", "; ".join(f"{era}: expected JSON-RPC error {code}, got {a.brief()}" for era, a in wrong.items())
    )


async def check_negotiation_modern(p: Probe) -> CheckResult:
    name = "negotiation 2026-07-28 (server/discover)"
    answer = await p.post(p.request("server/discover", {}, modern=True, ident=1), modern=True)
    result = answer.result
    if result is None:
        return CheckResult(name, "fail", f"server/discover: {answer.brief()} (2026-07-28 servers must implement it)")
    versions = result.get("supportedVersions")
    if not isinstance(versions, list) or MODERN not in versions:
        return CheckResult(name, "fail", f"supportedVersions {versions!r} does not list {MODERN}")
    if "capabilities" not in result:
        return CheckResult(name, "fail", "the DiscoverResult has no capabilities")
    return CheckResult(name, "pass", f"supportedVersions {versions}")


async def check_negotiation_legacy(p: Probe) -> CheckResult:
    name = "negotiation 2025-11-25 (initialize)"
    answer = await p.legacy_initialize(LEGACY)
    result = answer.result
    if result is None:
        return CheckResult(name, "fail", f"initialize: {answer.brief()}")
    version = result.get("protocolVersion")
    if version != LEGACY:
        return CheckResult(
            name,
            "fail",
            f"offered {LEGACY}, answered protocolVersion {version!r}: a server that supports the "
            "offered revision must echo it",
        )
    # a revision the server cannot know: it must counter-offer one it supports, never echo or invent one
    future = await Probe(p.endpoint, p.http).legacy_initialize("2099-01-01")
    counter = (future.result or {}).get("protocolVersion")
    if future.result is not None and counter not in KNOWN_REVISIONS:
        return CheckResult(name, "fail", f"offered 2099-01-01, answered {counter!r}, which is no MCP revision")
    missing = [k for k in ("capabilities", "serverInfo") if k not in result]
    if missing:
        return CheckResult(name, "fail", f"the InitializeResult lacks {', '.join(missing)}")
    return CheckResult(name, "pass", f"echoed {LEGACY}; counter-offer to 2099-01-01: {counter or future.brief()}")


async def check_ping(p: Probe) -> CheckResult:
    name = "ping (2025-11-25)"
    if p.legacy_session_id is None:
        await p.legacy_initialize()
    answer = await p.post(p.request("ping", None, modern=False), modern=False)
    if answer.result == {} or (answer.result is not None and not answer.result):
        return CheckResult(name, "pass", "empty result")
    return CheckResult(name, "fail", f"expected an empty result, got {answer.brief()}")


async def check_unknown_method(p: Probe) -> CheckResult:
    method = "aksmcp/no-such-method"
    if p.legacy_session_id is None:
        await p.legacy_initialize()
    answers = {
        MODERN: await p.post(p.request(method, {}, modern=True), modern=True),
        LEGACY: await p.post(p.request(method, {}, modern=False), modern=False),
    }
    return _expect_code("unknown method → -32601", answers, -32601)


async def check_malformed_json(p: Probe) -> CheckResult:
    answers = {
        MODERN: await p.post(
            None,
            modern=True,
            raw=b'{"jsonrpc": "2.0", "id": 1, "method": ',
            headers={"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
        ),
        LEGACY: await p.post(None, modern=False, raw=b'{"jsonrpc": "2.0", "id": 1, "method": '),
    }
    return _expect_code("malformed JSON → -32700", answers, -32700)


async def check_invalid_params(p: Probe) -> CheckResult:
    # tools/call without a tool name: invalid params, and no tool runs
    if p.legacy_session_id is None:
        await p.legacy_initialize()
    answers = {
        MODERN: await p.post(
            p.request("tools/call", {"arguments": {}}, modern=True), modern=True, headers={"Mcp-Name": ""}
        ),
        LEGACY: await p.post(p.request("tools/call", {"arguments": {}}, modern=False), modern=False),
    }
    return _expect_code("invalid params → -32602", answers, -32602)


async def check_unknown_tool(p: Probe) -> CheckResult:
    name = "unknown tool is refused"
    answer = await p.post(p.request("tools/call", {"name": NO_SUCH_TOOL, "arguments": {}}, modern=True), modern=True)
    result = answer.result
    if answer.error_code is not None or (result is not None and result.get("isError") is True):
        return CheckResult(name, "pass", answer.brief())
    return CheckResult(name, "fail", f"calling {NO_SUCH_TOOL!r} did not fail: {answer.brief()}")


async def check_origin(p: Probe) -> CheckResult:
    name = "Origin protection (DNS rebinding)"
    body = p.request("server/discover", {}, modern=True)
    answer = await p.post(body, modern=True, headers={"Origin": "http://attacker.example"})
    if answer.status == 403:
        return CheckResult(name, "pass", "a foreign Origin gets 403")
    return CheckResult(name, "fail", f"a request with Origin http://attacker.example got {answer.brief()}, not 403")


async def check_host(p: Probe) -> CheckResult:
    name = "Host protection (DNS rebinding)"
    host = urlsplit(p.url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return CheckResult(name, "skip", "only checked on a loopback URL (a cluster's allowed hosts are its own)")
    answer = await p.post(
        p.request("server/discover", {}, modern=True), modern=True, headers={"Host": "attacker.example"}
    )
    if answer.status in (400, 403, 421):
        return CheckResult(name, "pass", f"Host attacker.example gets HTTP {answer.status}")
    return CheckResult(name, "fail", f"a request with Host attacker.example got {answer.brief()}")


async def check_auth(p: Probe) -> CheckResult:
    name = "auth: 401 without the key"
    configured = any(k.lower() in ("authorization", "x-api-key") for k in p.endpoint.headers)
    body = p.request("server/discover", {}, modern=True)
    without = await p.post(body, modern=True, auth=False)
    if not configured:
        if without.status == 401:
            return CheckResult(name, "skip", "the server wants a key and none was given (--api-key-file)")
        return CheckResult(name, "skip", "no key given (--api-key-file / --header): not checked")
    if without.status != 401:
        return CheckResult(name, "fail", f"without the key: {without.brief()}, expected 401")
    if "www-authenticate" not in {k.lower() for k in without.headers}:
        return CheckResult(name, "fail", "the 401 has no WWW-Authenticate header")
    wrong = await p.post(body, modern=True, auth=False, headers={"Authorization": "Bearer aksmcp-wrong-key"})
    if wrong.status != 401:
        return CheckResult(name, "fail", f"with a wrong key: {wrong.brief()}, expected 401")
    return CheckResult(name, "pass", "401 with WWW-Authenticate without a key and with a wrong one")


async def check_health_routes(p: Probe) -> list[CheckResult]:
    results = []
    for path in ("/healthz", "/readyz", "/metrics"):
        name = f"{path}"
        try:
            response = await p.get(path)
        except Exception as exc:
            results.append(CheckResult(name, "skip", f"not reachable ({type(exc).__name__})"))
            continue
        if response.status_code == 404:
            results.append(CheckResult(name, "skip", "not served (404)"))
            continue
        if response.status_code != 200:
            results.append(CheckResult(name, "fail", f"HTTP {response.status_code}"))
            continue
        if path == "/metrics":
            from prometheus_client.parser import text_string_to_metric_families

            try:
                families = list(text_string_to_metric_families(response.text))
            except Exception as exc:
                results.append(CheckResult(name, "fail", f"not Prometheus text format: {exc}"))
                continue
            results.append(CheckResult(name, "pass", f"{len(families)} metric families"))
        else:
            results.append(CheckResult(name, "pass", "200"))
    return results


async def check_session(
    endpoint: Endpoint, protocol: str, report: Report, call: tuple[str, dict[str, Any]] | None
) -> None:
    """Through the SDK: list tools (schemas valid), and the named tool call when asked."""
    label = "auto" if protocol == "auto" else protocol
    try:
        async with McpSession(endpoint, protocol=protocol) as session:
            tools = await session.list_tools()
            bad = []
            for tool in tools:
                problem = check_schema(tool.input_schema)
                if problem is None and tool.input_schema.get("type") != "object":
                    problem = 'inputSchema type must be "object"'
                if problem:
                    bad.append(f"{tool.name} inputSchema: {problem}")
                if tool.output_schema is not None:
                    problem = check_schema(tool.output_schema)
                    if problem:
                        bad.append(f"{tool.name} outputSchema: {problem}")
            status: Status = "fail" if bad else "pass"
            detail = (
                "; ".join(bad) if bad else f"{len(tools)} tools, schemas valid (revision {session.protocol_version})"
            )
            report.checks.append(CheckResult(f"tools/list + schemas ({label})", status, detail))
            if call is not None and protocol == "auto":
                await _check_call(session, call, report)
    except ConsoleError as exc:
        report.checks.append(CheckResult(f"tools/list + schemas ({label})", "fail", exc.message))


async def _check_call(session: McpSession, call: tuple[str, dict[str, Any]], report: Report) -> None:
    name, arguments = call
    tool = session.find_tool(name)
    if tool is None:
        report.checks.append(CheckResult(f"call {name}", "fail", f"no tool named {name!r}"))
        return
    outcome = await session.call_tool(name, arguments)
    if outcome.error is not None or outcome.result is None:
        report.checks.append(
            CheckResult(f"call {name}", "fail", outcome.error.message if outcome.error else "no result")
        )
    else:
        result = outcome.result
        problems = []
        if result.is_error:
            problems.append("the call returned isError")
        if tool.output_schema is not None and not result.is_error:
            if result.structured_content is None:
                problems.append("outputSchema declared but no structuredContent")
            else:
                problems += [
                    f"structuredContent {e.to_json()['path']}: {e.message}"
                    for e in validate_arguments(tool.output_schema, result.structured_content)
                ]
        report.checks.append(
            CheckResult(
                f"call {name}",
                "fail" if problems else "pass",
                "; ".join(problems) or f"{outcome.elapsed_ms:.0f} ms, structuredContent valid",
            )
        )
    properties = tool.input_schema.get("properties") or {}
    if UNDECLARED_ARGUMENT in properties or session.endpoint.url is not None:
        return  # over HTTP the raw check (check_undeclared_argument) does it, whether or not the SDK connects
    extra = await session.call_tool(name, {**arguments, UNDECLARED_ARGUMENT: "x"})
    refused = extra.error is not None or (extra.result is not None and extra.result.is_error)
    report.checks.append(
        CheckResult(
            f"call {name} with an undeclared argument",
            "pass" if refused else "fail",
            "refused"
            if refused
            else f"the server silently accepted {UNDECLARED_ARGUMENT!r}, which {name} does not declare",
        )
    )


async def check_undeclared_argument(p: Probe, call: tuple[str, dict[str, Any]]) -> CheckResult:
    """The named tool called with one argument it does not declare must be refused (isError or -32602)."""
    name, arguments = call
    label = f"call {name} with an undeclared argument"
    if p.legacy_session_id is None:
        await p.legacy_initialize()
    body = p.request("tools/call", {"name": name, "arguments": {**arguments, UNDECLARED_ARGUMENT: "x"}}, modern=False)
    answer = await p.post(body, modern=False)
    result = answer.result
    if answer.error_code is not None or (result is not None and result.get("isError") is True):
        return CheckResult(label, "pass", f"refused ({answer.brief()})")
    return CheckResult(
        label, "fail", f"the server silently accepted {UNDECLARED_ARGUMENT!r}, which {name} does not declare"
    )


HTTP_CHECKS: tuple[Check, ...] = (
    check_negotiation_modern,
    check_negotiation_legacy,
    check_ping,
    check_unknown_method,
    check_malformed_json,
    check_invalid_params,
    check_unknown_tool,
    check_origin,
    check_host,
    check_auth,
)


async def run_conformance(endpoint: Endpoint, *, call: tuple[str, dict[str, Any]] | None = None) -> Report:
    report = Report(endpoint.target.display())
    if endpoint.url is not None:
        from mcp.shared._httpx_utils import create_mcp_http_client

        async with create_mcp_http_client() as http:
            probe = Probe(endpoint, http)
            for check in HTTP_CHECKS:
                try:
                    report.checks.append(await check(probe))
                except Exception as exc:  # one broken answer must not end the run: it is that check's failure
                    name = check.__name__.removeprefix("check_").replace("_", " ")
                    report.checks.append(CheckResult(name, "fail", f"{type(exc).__name__}: {exc}"))
            if call is not None:
                try:
                    report.checks.append(await check_undeclared_argument(probe, call))
                except Exception as exc:
                    report.checks.append(CheckResult(f"call {call[0]} with an undeclared argument", "fail", str(exc)))
            report.checks += await check_health_routes(probe)
    else:
        for protocol in (MODERN, LEGACY):
            try:
                async with McpSession(endpoint, protocol=protocol) as session:
                    detail = f"negotiated {session.protocol_version}"
                    ok = session.protocol_version == protocol
                    report.checks.append(CheckResult(f"negotiation {protocol}", "pass" if ok else "fail", detail))
                    if protocol == LEGACY:
                        await session.ping()
                        report.checks.append(CheckResult("ping (2025-11-25)", "pass", "empty result"))
            except ConsoleError as exc:
                report.checks.append(CheckResult(f"negotiation {protocol}", "fail", exc.message))
    await check_session(endpoint, "auto", report, call)
    if endpoint.url is not None:
        await check_session(endpoint, LEGACY, report, None)
    return report
