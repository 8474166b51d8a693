"""`aksmcp tools|call|resources|prompts|console|test`: talk MCP to a deployment, a URL or a stdio command.

TARGET is a URL, `deploy/NAME -n NS [--context C] [--kubeconfig F]`, or `--stdio` with the server's
command after `--` at the end of the line. Exit codes: 0 ok, 1 an `isError` result or a protocol /
connection error, 2 bad input. Module-level imports stay standard-library only (CLI start-up time).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _DashDashParser(argparse.ArgumentParser):
    """Keeps everything after the first `--` verbatim as `stdio_command` (the server's own flags included)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        argv = list(sys.argv[1:] if args is None else args)
        tail: list[str] = []
        if "--" in argv:
            cut = argv.index("--")
            argv, tail = argv[:cut], argv[cut + 1 :]
        parsed, extras = super().parse_known_args(argv, namespace)
        parsed.stdio_command = tail
        return parsed, extras


def _target_options(parser: argparse.ArgumentParser, positional: str = "TARGET") -> None:
    parser.add_argument(
        "words",
        nargs="*",
        metavar=positional,
        help="a URL (http://127.0.0.1:8080/mcp), deploy/NAME, or nothing with --stdio",
    )
    parser.add_argument("-n", "--namespace", help="namespace of deploy/NAME (default: the context's)")
    parser.add_argument("--context", help="kubeconfig context of deploy/NAME (default: the current one)")
    parser.add_argument("--kubeconfig", help="kubeconfig file for deploy/NAME")
    parser.add_argument(
        "--header", "-H", action="append", default=[], metavar="K:V", help="HTTP header to send (repeatable)"
    )
    parser.add_argument("--api-key-file", metavar="FILE", help="send the key in FILE as 'Authorization: Bearer KEY'")
    parser.add_argument(
        "--bearer-from-azure", metavar="SCOPE", help="send an Entra ID token for SCOPE (azure-identity)"
    )
    parser.add_argument(
        "--stdio", action="store_true", help="run the server's command (after `--` at the end) and talk over stdio"
    )
    parser.add_argument(
        "--protocol",
        choices=("auto", "2026-07-28", "2025-11-25"),
        default="auto",
        help="protocol revision (default: auto-detect, 2026-07-28 first)",
    )
    parser.add_argument("--timeout", type=float, default=None, metavar="S", help="per-request read timeout (seconds)")
    parser.add_argument(
        "--no-oauth",
        action="store_true",
        help="never start the OAuth sign-in when a server asks for it (401 with authorization metadata)",
    )


def _add(subcommands: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subcommands.add_parser(name, **kwargs)
    parser.__class__ = _DashDashParser  # same parser, plus the `--` split (argparse has no hook for it)
    return parser


_TARGET_EPILOG = (
    "TARGET: a URL, deploy/NAME -n NS [--context C], or --stdio with the command after `--`, e.g. "
    "`aksmcp tools --stdio -- uvx mcp-server-time`. Exit codes: 0 ok, 1 isError or protocol error, 2 bad input."
)


def register(subcommands: Any) -> None:
    tools = _add(subcommands, "tools", help="list an MCP server's tools", epilog=_TARGET_EPILOG)
    _target_options(tools)
    tools.add_argument("-o", "--output", choices=("table", "json"), default="table")
    tools.set_defaults(handler=run_tools)

    call = _add(
        subcommands,
        "call",
        help="call one tool",
        description="Call TOOL with arguments from --arg k=v (values JSON-coerced unless the tool declares a "
        "string; dotted keys nest: --arg addr.city=Oslo) and/or --json '{...}'; validated against the tool's "
        "inputSchema before sending.",
        epilog=_TARGET_EPILOG,
    )
    _target_options(call, "TARGET TOOL")
    call.add_argument("--arg", action="append", default=[], metavar="K=V", help="one argument (repeatable)")
    call.add_argument("--json", dest="json_args", metavar="JSON", help="the arguments as a JSON object")
    call.add_argument("--no-validate", action="store_true", help="send even when the arguments fail the schema")
    call.add_argument("-o", "--output", choices=("table", "json"), default="table")
    call.set_defaults(handler=run_call)

    resources = _add(subcommands, "resources", help="list resources and templates, or read one", epilog=_TARGET_EPILOG)
    _target_options(resources)
    resources.add_argument("--read", metavar="URI", help="read this resource")
    resources.add_argument("-o", "--output", choices=("table", "json"), default="table")
    resources.set_defaults(handler=run_resources)

    prompts = _add(subcommands, "prompts", help="list prompts, or get one", epilog=_TARGET_EPILOG)
    _target_options(prompts)
    prompts.add_argument("--get", metavar="NAME", help="get this prompt")
    prompts.add_argument("--arg", action="append", default=[], metavar="K=V", help="a prompt argument (repeatable)")
    prompts.add_argument("-o", "--output", choices=("table", "json"), default="table")
    prompts.set_defaults(handler=run_prompts)

    console = _add(subcommands, "console", help="open the MCP request console on a target", epilog=_TARGET_EPILOG)
    _target_options(console)
    console.set_defaults(handler=run_console)

    test = _add(
        subcommands,
        "test",
        help="check an MCP server's protocol conformance",
        description="Negotiation in both revisions, tools and schemas, ping, error codes (-32601, -32700, -32602), "
        "Host/Origin protection, auth (401 without the key, when one is given), /healthz /readyz /metrics. "
        "Never calls a tool unless --call names it.",
        epilog=_TARGET_EPILOG,
    )
    _target_options(test)
    test.add_argument("--call", metavar="TOOL", help="also call TOOL (with --arg/--json) and check its result")
    test.add_argument("--arg", action="append", default=[], metavar="K=V", help="an argument for --call")
    test.add_argument("--json", dest="json_args", metavar="JSON", help="arguments for --call as JSON")
    test.add_argument("-o", "--output", choices=("table", "json"), default="table")
    test.set_defaults(handler=run_test)


# ---------------------------------------------------------------------------- helpers
def _err(message: str) -> None:
    print(f"aksmcp: {message}", file=sys.stderr)


def _split_words(args: argparse.Namespace, extra: int) -> tuple[str | None, list[str]]:
    """(TARGET, the other positionals): with --stdio there is no TARGET."""
    from aksmcp_tui.core.mcpclient import TargetError

    words = list(args.words)
    want = extra + (0 if args.stdio else 1)
    if len(words) != want:
        names = ([] if args.stdio else ["TARGET"]) + (["TOOL"] if extra else [])
        got = " ".join(words) or "nothing"
        raise TargetError(f"expected {' '.join(names) or 'no positional argument'}, got {got}")
    return (None if args.stdio else words[0]), words[(0 if args.stdio else 1) :]


def _parse(args: argparse.Namespace, extra: int = 0) -> tuple[Any, list[str]]:
    from aksmcp_tui.core.mcpclient import parse_target

    text, rest = _split_words(args, extra)
    target = parse_target(
        text,
        stdio_command=args.stdio_command,
        stdio=args.stdio,
        namespace=args.namespace,
        context=args.context,
        kubeconfig=args.kubeconfig,
        headers=args.header,
        api_key_file=args.api_key_file,
        bearer_scope=args.bearer_from_azure,
    )
    return target, rest


def _run(args: argparse.Namespace, work: Any, extra: int = 0) -> int:
    """Parse the target, run `work(session_factory, target, rest)`, map failures to exit codes."""
    import asyncio

    from aksmcp_tui.core.mcpclient import ConsoleError, TargetError

    try:
        target, rest = _parse(args, extra)
        return int(asyncio.run(work(target, rest)))
    except TargetError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except ConsoleError as exc:
        _err(exc.message)
        return exc.exit_code


async def _open(target: Any, args: argparse.Namespace) -> Any:
    from aksmcp_tui.core.mcpclient import McpSession, resolve_endpoint

    endpoint = await resolve_endpoint(target)
    if endpoint.note:
        _err(endpoint.note)
    return McpSession(
        endpoint,
        protocol=args.protocol,
        read_timeout=args.timeout,
        on_event=_print_event,
        oauth=not args.no_oauth,
        say=_err,
    )


def _print_event(event: Any) -> None:
    from aksmcp_tui.core.mcpclient import LogEvent, ProgressEvent

    if isinstance(event, ProgressEvent):
        total = f"/{event.total:g}" if event.total is not None else ""
        _err(f"progress {event.progress:g}{total}" + (f" {event.message}" if event.message else ""))
    elif isinstance(event, LogEvent):
        _err(f"[{event.level}]{' ' + event.logger if event.logger else ''} {event.data}")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [headers, *rows]
    )


def _one_line(text: str | None, limit: int = 80) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def parse_cli_arguments(pairs: Sequence[str], json_text: str | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """--json first, then each --arg k=v on top (dotted keys nest). Values are JSON-coerced, except where
    the schema declares a string (so --arg zip=01234 stays a string)."""
    from aksmcp_tui.core.mcpclient import TargetError

    arguments: dict[str, Any] = {}
    if json_text:
        try:
            loaded = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise TargetError(f"--json is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
        if not isinstance(loaded, dict):
            raise TargetError('--json must be a JSON object, e.g. \'{"timezone": "UTC"}\'')
        arguments.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise TargetError(f"--arg {pair!r}: expected KEY=VALUE")
        parts = key.split(".")
        node_schema: Any = schema or {}
        node = arguments
        for part in parts[:-1]:
            node_schema = (node_schema.get("properties") or {}).get(part, {}) if isinstance(node_schema, dict) else {}
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise TargetError(f"--arg {pair!r}: {part} is not an object")
            node = child
        leaf = (node_schema.get("properties") or {}).get(parts[-1], {}) if isinstance(node_schema, dict) else {}
        node[parts[-1]] = _coerce(raw, leaf)
    return arguments


def _coerce(raw: str, schema: Any) -> Any:
    declared = schema.get("type") if isinstance(schema, dict) else None
    if declared == "string" or (isinstance(schema, dict) and all(isinstance(v, str) for v in schema.get("enum", [1]))):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# ---------------------------------------------------------------------------- verbs
def run_tools(args: argparse.Namespace) -> int:
    async def work(target: Any, _rest: list[str]) -> int:
        async with await _open(target, args) as session:
            tools = await session.list_tools()
            if args.output == "json":
                document = {**session.summary(), "tools": [_dump(t) for t in tools]}
                print(json.dumps(document, indent=2, ensure_ascii=False))
                return EXIT_OK
            _err(f"{session.summary()['target']}: MCP {session.protocol_version}, {len(tools)} tools")
            rows = [[t.name, ", ".join(_required_marks(t.input_schema)), _one_line(t.description)] for t in tools]
            print(_table(["NAME", "ARGUMENTS", "DESCRIPTION"], rows))
            return EXIT_OK

    return _run(args, work)


def _required_marks(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required") or [])
    return [f"{name}{'*' if name in required else ''}" for name in (schema.get("properties") or {})]


def run_call(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.mcpclient import TargetError
    from aksmcp_tui.core.mcpclient.forms import validate_arguments
    from aksmcp_tui.core.mcpclient.results import render_result, result_json
    from aksmcp_tui.core.mcpclient.store import HistoryEntry, append_history

    async def work(target: Any, rest: list[str]) -> int:
        tool_name = rest[0]
        if args.json_args is not None:  # bad JSON is bad input before any connection is made
            parse_cli_arguments([], args.json_args, None)
        async with await _open(target, args) as session:
            await session.list_tools()
            tool = session.find_tool(tool_name)
            if tool is None:
                names = ", ".join(t.name for t in session.tools) or "none"
                raise TargetError(f"no tool named {tool_name!r} (the server has: {names})")
            arguments = parse_cli_arguments(args.arg, args.json_args, tool.input_schema)
            errors = validate_arguments(tool.input_schema, arguments)
            if errors and not args.no_validate:
                for error in errors:
                    _err(f"argument {error.to_json()['path']}: {error.message}")
                raise TargetError(f"the arguments do not match {tool_name}'s inputSchema (--no-validate sends anyway)")
            outcome = await session.call_tool(tool_name, arguments)
            state = "error" if outcome.error else ("isError" if not outcome.ok else "ok")
            append_history(
                HistoryEntry.now(
                    target=target.display(),
                    method="tools/call",
                    name=tool_name,
                    arguments=arguments,
                    outcome=state,
                    elapsed_ms=round(outcome.elapsed_ms, 2),
                    protocol=session.protocol_version,
                    correlation_id=outcome.correlation_id,
                )
            )
            if outcome.error is not None:
                _err(outcome.error.message)
                return outcome.error.exit_code
            assert outcome.result is not None
            if args.output == "json":
                # the id the server logged the call under: `aksmcp logs deploy/X --grep ID` finds its lines
                document = {**result_json(outcome.result), "correlationId": outcome.correlation_id}
                print(json.dumps(document, indent=2, ensure_ascii=False))
            else:
                print(render_result(outcome.result, tool).plain_text())
            if outcome.result.is_error:
                _err(f"{tool_name} returned an error (isError)")
            return outcome.exit_code

    return _run(args, work, extra=1)


def run_resources(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.mcpclient.results import render_resource

    async def work(target: Any, _rest: list[str]) -> int:
        async with await _open(target, args) as session:
            if args.read:
                result = await session.read_resource(args.read)
                if args.output == "json":
                    print(json.dumps(_dump(result), indent=2, ensure_ascii=False))
                else:
                    print("\n".join(p.text for p in render_resource(result)))
                return EXIT_OK
            if session.capabilities.resources is None:
                resources, templates = [], []
            else:
                resources = await session.list_resources()
                templates = await session.list_resource_templates()
            if args.output == "json":
                document = {
                    "resources": [_dump(r) for r in resources],
                    "resourceTemplates": [_dump(t) for t in templates],
                }
                print(json.dumps(document, indent=2, ensure_ascii=False))
                return EXIT_OK
            rows = [[str(r.uri), r.name, r.mime_type or "", _one_line(r.description, 60)] for r in resources]
            rows += [
                [t.uri_template, t.name, t.mime_type or "", "(template) " + _one_line(t.description, 49)]
                for t in templates
            ]
            if not rows:
                _err("the server offers no resources")
                return EXIT_OK
            print(_table(["URI", "NAME", "MIME", "DESCRIPTION"], rows))
            return EXIT_OK

    return _run(args, work)


def run_prompts(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.mcpclient.results import render_prompt

    async def work(target: Any, _rest: list[str]) -> int:
        async with await _open(target, args) as session:
            if args.get:
                arguments = {k: str(v) for k, v in parse_cli_arguments(args.arg, None, {"properties": {}}).items()}
                result = await session.get_prompt(args.get, arguments)
                if args.output == "json":
                    print(json.dumps(_dump(result), indent=2, ensure_ascii=False))
                else:
                    print("\n".join(p.text for p in render_prompt(result)))
                return EXIT_OK
            prompts = await session.list_prompts() if session.capabilities.prompts is not None else []
            if args.output == "json":
                print(json.dumps({"prompts": [_dump(p) for p in prompts]}, indent=2, ensure_ascii=False))
                return EXIT_OK
            if not prompts:
                _err("the server offers no prompts")
                return EXIT_OK
            rows = [
                [
                    p.name,
                    ", ".join(a.name + ("*" if a.required else "") for a in p.arguments or []),
                    _one_line(p.description),
                ]
                for p in prompts
            ]
            print(_table(["NAME", "ARGUMENTS", "DESCRIPTION"], rows))
            return EXIT_OK

    return _run(args, work)


def run_test(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.mcpclient import resolve_endpoint
    from aksmcp_tui.core.mcpclient.conformance import run_conformance

    async def work(target: Any, _rest: list[str]) -> int:
        call = None
        if args.call:
            call = (args.call, parse_cli_arguments(args.arg, args.json_args, None))
        elif args.arg or args.json_args:
            from aksmcp_tui.core.mcpclient import TargetError

            raise TargetError("--arg/--json go with --call TOOL")
        endpoint = await resolve_endpoint(target)
        report = await run_conformance(endpoint, call=call)
        if args.output == "json":
            print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        else:
            marks = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}
            print(
                _table(
                    ["CHECK", "RESULT", "DETAIL"],
                    [[c.name, marks[c.status], _one_line(c.detail, 100)] for c in report.checks],
                )
            )
            failed = sum(c.status == "fail" for c in report.checks)
            _err(f"{report.target}: {'passed' if report.passed else f'{failed} check(s) failed'}")
        return EXIT_OK if report.passed else EXIT_FAILED

    return _run(args, work)


def run_console(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.mcpclient import TargetError

    try:
        target, _rest = _parse(args)
    except TargetError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    from aksmcp_tui.ui.console_app import ConsoleApp
    from aksmcp_tui.ui.screens.console_image import prepare

    prepare()  # textual-image asks the terminal about graphics: only possible before the app owns it
    ConsoleApp(target, protocol=args.protocol).run()
    return EXIT_OK
