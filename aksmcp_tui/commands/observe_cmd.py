"""`aksmcp logs` and `aksmcp metrics`: the log and metrics screens' streams, printed.

Module-level imports stay standard-library only (CLI start-up time); the core is imported in the
handlers. Both verbs take the deploy-target syntax: `deploy/NAME -n NS [--context C] [--kubeconfig F]`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# stern's habit: each pod its own colour (ANSI, only when stdout is a terminal)
_COLOURS = ("31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96")


def parse_duration(text: str) -> int:
    """kubectl's --since: 30s, 5m, 2h, 1h30m → seconds (> 0)."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 5m, 2h or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"invalid duration {text!r}: must be more than 0s")
    return total


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET", help="deploy/NAME, pod/NAME or NAME (a deployment)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's namespace)")
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
    parser.add_argument("--kubeconfig", help="kubeconfig file(s) to read instead of $KUBECONFIG / ~/.kube/config")


def register(subcommands: Any) -> None:
    logs = subcommands.add_parser(
        "logs",
        help="print the merged logs of every pod and container of a deployment",
        description="Logs of every pod and container of a deployment as one stream, each line prefixed by its "
        "pod and container. With -f pods that appear join, pods that go away leave, a rollout is followed, and a "
        "dropped connection resumes with no line lost or repeated.",
    )
    _target_options(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    logs.add_argument("--since", help="only lines newer than this (30s, 5m, 2h)")
    logs.add_argument("--tail", type=int, help="lines per container to start with (default: all; -1: all)")
    logs.add_argument("--grep", metavar="RE", help="only lines matching this regular expression")
    logs.add_argument("-c", "--container", help="only this container (default: all containers)")
    logs.add_argument("-p", "--previous", action="store_true", help="the previous (crashed) container's logs")
    logs.add_argument("--timestamps", action="store_true", help="print the kubelet's timestamp on each line")
    logs.add_argument("-o", "--output", choices=("text", "json"), default="text", help="text, or JSON lines")
    logs.set_defaults(handler=run_logs)

    metrics = subcommands.add_parser(
        "metrics",
        help="scrape /metrics of every pod of a deployment: per-tool rate, errors, latency quantiles",
        description="Scrape /metrics of every pod through a port-forward and show per-tool call rate, error "
        "ratio and p50/p95/p99 latency, sessions, in-flight requests, CPU and memory, per pod and summed. "
        "Rates need two scrapes: without --watch, two scrapes --interval apart are taken.",
    )
    _target_options(metrics)
    metrics.add_argument("-w", "--watch", action="store_true", help="keep scraping and printing")
    metrics.add_argument("--interval", type=float, default=2.0, help="seconds between scrapes (default 2)")
    metrics.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    metrics.set_defaults(handler=run_metrics)


def _fail(message: str, code: int = 1) -> int:
    print(f"aksmcp: {message}", file=sys.stderr)
    return code


def _open_target(args: argparse.Namespace) -> tuple[str, str | None]:
    from aksmcp_tui.commands.fleet_cmd import _resolve_context

    return _resolve_context(args.context, args.kubeconfig)


def run_logs(args: argparse.Namespace) -> int:
    import asyncio

    from aksmcp_tui.core.kubeconfig import KubeconfigError
    from aksmcp_tui.core.observe import LogOptions, parse_target

    try:
        target = parse_target(args.target)
        since = parse_duration(args.since) if args.since else None
        grep = re.compile(args.grep) if args.grep else None
    except ValueError as exc:
        return _fail(str(exc), 2)
    except re.error as exc:
        return _fail(f"--grep: invalid regular expression: {exc}", 2)
    if args.tail is not None and args.tail < -1:
        return _fail("--tail must be -1 (all) or more", 2)
    options = LogOptions(
        follow=args.follow,
        tail=None if args.tail in (None, -1) else args.tail,
        since_seconds=since,
        container=args.container,
        previous=args.previous,
    )
    try:
        context, kubeconfig = _open_target(args)
    except KubeconfigError as exc:
        return _fail(str(exc))
    printer = _LogPrinter(args.output, grep, args.timestamps, sys.stdout.isatty())
    return asyncio.run(_logs(context, kubeconfig, args.namespace, target, options, printer))


class _LogPrinter:
    def __init__(self, output: str, grep: re.Pattern[str] | None, timestamps: bool, colour: bool) -> None:
        self.output = output
        self.grep = grep
        self.timestamps = timestamps
        self.colour = colour and output == "text"
        self.colours: dict[str, str] = {}

    def format(self, line: Any) -> str | None:
        if self.grep is not None and not self.grep.search(line.text):
            return None
        if self.output == "json":
            return json.dumps(line.to_json(), ensure_ascii=False)
        prefix = f"{line.pod} {line.container}"
        if self.colour:
            code = self.colours.setdefault(line.pod, _COLOURS[len(self.colours) % len(_COLOURS)])
            prefix = f"\x1b[{code}m{prefix}\x1b[0m"
        stamp = f"{line.timestamp} " if self.timestamps else ""
        return f"{prefix} {stamp}{line.text}"


async def _logs(
    context: str, kubeconfig: str | None, namespace: str | None, target: Any, options: Any, printer: _LogPrinter
) -> int:
    from aksmcp_tui.core.kube import KubeContext, KubeProblem
    from aksmcp_tui.core.observe import LogBatch, LogNotice, StreamDropped, follow_logs

    try:
        kube = await KubeContext.open(context, kubeconfig)
    except KubeProblem as exc:
        return _fail(str(exc))
    status = 0
    held: list[Any] = []  # without -f: every line, then one merge by time (pods interleave correctly)
    out = sys.stdout
    try:
        async for event in follow_logs(kube, namespace or kube.namespace, target, options):
            if isinstance(event, LogBatch):
                if not options.follow:
                    held.extend(event.lines)
                    continue
                shown = [t for t in map(printer.format, event.lines) if t is not None]
                if shown:
                    out.write("\n".join(shown) + "\n")
                    out.flush()
            elif isinstance(event, LogNotice):
                print(f"aksmcp: {event.message}", file=sys.stderr)
                if event.fatal:
                    status = 1
            elif isinstance(event, StreamDropped) and options.follow:
                print(f"aksmcp: {event.pod}/{event.container}: {event.reason}; resuming", file=sys.stderr)
    finally:
        await kube.close()
    held.sort(key=lambda line: line.time_ns)  # stable: lines of one container keep their order
    for line in held:
        text = printer.format(line)
        if text is not None:
            out.write(text + "\n")
    out.flush()
    return status


def run_metrics(args: argparse.Namespace) -> int:
    import asyncio

    from aksmcp_tui.core.kubeconfig import KubeconfigError
    from aksmcp_tui.core.observe import parse_target

    try:
        target = parse_target(args.target)
    except ValueError as exc:
        return _fail(str(exc), 2)
    if not args.interval > 0:
        return _fail("--interval must be more than 0", 2)
    try:
        context, kubeconfig = _open_target(args)
    except KubeconfigError as exc:
        return _fail(str(exc))
    return asyncio.run(_metrics(context, kubeconfig, args.namespace, target, args))


async def _metrics(
    context: str, kubeconfig: str | None, namespace: str | None, target: Any, args: argparse.Namespace
) -> int:
    from aksmcp_tui.core.kube import KubeContext, KubeProblem
    from aksmcp_tui.core.observe import MetricsWatcher

    try:
        kube = await KubeContext.open(context, kubeconfig)
    except KubeProblem as exc:
        return _fail(str(exc))
    watcher = MetricsWatcher(kube, namespace or kube.namespace, target, interval=args.interval)
    status = 0
    try:
        async for snapshot in watcher.snapshots():
            if snapshot.problem:
                status = _fail(snapshot.problem)
                break
            if snapshot.round == 1 and (not snapshot.pods or all(p.error for p in snapshot.pods)):
                errors = "; ".join(f"{p.pod}: {p.error}" for p in snapshot.pods) or "no running pods"
                status = _fail(f"cannot scrape {target.kind} {target.name}: {errors}")
                break
            if snapshot.round == 1:
                continue  # rates need a second round
            if args.output == "json":
                print(json.dumps(snapshot.to_json(), indent=None if args.watch else 2), flush=True)
            else:
                print(_metrics_table(snapshot), flush=True)
            if not args.watch:
                break
    finally:
        await watcher.close()
        await kube.close()
    return status


def _num(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}{unit}"


def _metrics_table(snapshot: Any) -> str:
    from aksmcp_tui.commands.fleet_cmd import _table

    total = snapshot.total
    lines = []
    if total is not None:
        rows = [
            [
                t.tool,
                f"{t.calls_per_s:.2f}",
                _num(t.error_ratio, "%", 100.0),
                _num(t.quantile(0.5), "ms", 1000.0),
                _num(t.quantile(0.95), "ms", 1000.0),
                _num(t.quantile(0.99), "ms", 1000.0),
            ]
            for _, t in sorted(total.tools.items())
        ]
        if rows:
            lines.append(_table(["TOOL", "CALLS/S", "ERRORS", "P50", "P95", "P99"], rows))
        elif total.counter_rates:  # not aksmcp-server: every counter's rate
            rates = [[series, f"{rate:.3f}"] for series, rate in sorted(total.counter_rates.items())]
            lines.append(_table(["COUNTER", "PER SECOND"], rates))
    pod_rows = []
    for pod in snapshot.pods:
        w = pod.window
        pod_rows.append(
            [
                pod.pod,
                f"{w.calls_per_s:.2f}" if w else "-",
                _num(w.error_ratio if w else None, "%", 100.0),
                _num(w.sessions if w else None, digits=0),
                _num(w.in_flight if w else None, digits=0),
                _num(w.cpu_cores if w else None, "m", 1000.0, 0),
                _num(w.rss_bytes if w else None, "Mi", 1 / 1048576, 0),
                pod.error or "",
            ]
        )
    if total is not None:
        pod_rows.append(
            [
                "(all pods)",
                f"{total.calls_per_s:.2f}",
                _num(total.error_ratio, "%", 100.0),
                _num(total.sessions, digits=0),
                _num(total.in_flight, digits=0),
                _num(total.cpu_cores, "m", 1000.0, 0),
                _num(total.rss_bytes, "Mi", 1 / 1048576, 0),
                "",
            ]
        )
    lines.append(_table(["POD", "CALLS/S", "ERRORS", "SESSIONS", "IN-FLIGHT", "CPU", "MEMORY", "SCRAPE"], pod_rows))
    return "\n\n".join(lines)
