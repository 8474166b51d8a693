"""`aksmcp connect`: write an MCP client's config entry for a deployment or URL, and keep it current.

Module-level imports stay standard-library only (`aksmcp --help` start-up time); the core is
imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

CLIENT_NAMES = ("vscode", "cursor", "claude-desktop", "claude-code", "windsurf", "gemini-cli", "codex", "continue")


def register(subcommands: Any) -> None:
    connect = subcommands.add_parser(
        "connect",
        help="write an IDE/agent's MCP config for a deployment or URL",
        description="Write CLIENT's own MCP config entry for TARGET, merged into its existing file (comments and "
        "other entries kept, one backup per run). TARGET is deploy/NAME (-n NS, --context C: uses or creates "
        "its managed forward and reads the API key from its Secret) or an http(s) URL. Project-scope files "
        "never get the key in plain text. Also: --list, --refresh, --remove.",
        epilog="clients: " + ", ".join(CLIENT_NAMES),
    )
    connect.add_argument("client", nargs="?", metavar="CLIENT", help="one of: " + ", ".join(CLIENT_NAMES))
    connect.add_argument("target", nargs="?", metavar="TARGET", help="deploy/NAME or an http(s) URL")
    connect.add_argument("-n", "--namespace", help="namespace of deploy/NAME (default: the context's)")
    connect.add_argument("--context", help="kubeconfig context (default: the current context)")
    connect.add_argument("--kubeconfig", help="kubeconfig file(s) to read instead of $KUBECONFIG / ~/.kube/config")
    connect.add_argument(
        "--scope", choices=("user", "project"), default="user", help="the user's file or the project's (default user)"
    )
    connect.add_argument("--name", help="entry name in the client's config (default: the deployment's name)")
    connect.add_argument("--project-dir", help="project folder for --scope project (default: the current folder)")
    connect.add_argument(
        "--secret-env",
        metavar="VAR",
        help="refer to the key through environment variable VAR (default in project scope: AKSMCP_<NAME>_API_KEY)",
    )
    connect.add_argument(
        "--api-key-env", metavar="VAR", help="URL targets: the environment variable that holds the endpoint's API key"
    )
    connect.add_argument("--dry-run", action="store_true", help="print the change as a unified diff; write nothing")
    connect.add_argument(
        "--force", action="store_true", help="replace an entry of the same name that aksmcp did not write"
    )
    action = connect.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the entries aksmcp wrote")
    action.add_argument(
        "--refresh",
        action="store_true",
        help="rewrite recorded entries from their targets now (new forward URL or key); CLIENT narrows it",
    )
    action.add_argument("--remove", metavar="ENTRY", help="take out one entry (its id, NAME or CLIENT:NAME)")
    connect.add_argument("-o", "--output", choices=("table", "json"), default="table", help="--list output format")
    connect.set_defaults(handler=run_connect)


def _fail(message: str) -> int:
    print(f"aksmcp connect: {message}", file=sys.stderr)
    return 1


def run_connect(args: argparse.Namespace) -> int:
    import asyncio

    from aksmcp_tui.core.ide import IdeError

    try:
        if args.list:
            return _list(args)
        if args.remove:
            return _remove(args)
        if args.refresh:
            return asyncio.run(_refresh(args))
        return asyncio.run(_connect(args))
    except IdeError as exc:
        return _fail(str(exc))
    except OSError as exc:  # disk full, a folder that vanished: say which file, no traceback
        return _fail(f"{exc.filename or 'a file'}: {exc.strerror or exc}")


async def _connect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aksmcp_tui.core.ide import Backups, IdeError, commit, parse_target, plan, resolve
    from aksmcp_tui.core.ide.connect import writer_for

    if not args.client or not args.target:
        raise IdeError("CLIENT and TARGET are required (or use --list, --refresh, --remove)")
    writer = writer_for(args.client)
    writer.check_scope(args.scope)
    target = parse_target(args.target, namespace=args.namespace, context=args.context, kubeconfig=args.kubeconfig)
    api_key = None
    if args.api_key_env:
        if target.kind != "url":
            raise IdeError("--api-key-env is for URL targets; a deployment's key comes from its Secret")
        api_key = os.environ.get(args.api_key_env) or None
        if api_key is None:
            raise IdeError(f"missing key: environment variable {args.api_key_env} is not set")
    resolved = await resolve(target, api_key=api_key)
    project_dir = Path(args.project_dir) if args.project_dir else None
    change = plan(
        args.client,
        resolved,
        scope=args.scope,
        name=args.name,
        project_dir=project_dir,
        secret_env=args.secret_env,
        force=args.force,
    )
    if args.dry_run:
        sys.stdout.write(change.diff() or f"no change: {change.path} already has this entry\n")
        _print_notes(change.notes)
        return 0
    backup = commit(change, Backups())
    if change.changed:
        print(f"wrote {writer.title} entry {change.name!r} to {change.path} -> {resolved.url}")
    else:
        print(f"{change.path} already has {writer.title} entry {change.name!r} -> {resolved.url}")
    if backup is not None:
        print(f"backup of the original: {backup}")
    _print_notes(change.notes)
    return 0


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}")


def _list(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.ide import entry_state
    from aksmcp_tui.core.ide.record import load

    entries = [e for e in load() if not args.client or e.client == args.client]
    states = {e.id: entry_state(e) for e in entries}
    if args.output == "json":
        print(json.dumps({"entries": [{**e.to_json(), "state": states[e.id]} for e in entries]}, indent=2))
        return 0
    if not entries:
        print("no entries written by aksmcp connect yet", file=sys.stderr)
        return 0
    rows = [("ID", "CLIENT", "SCOPE", "NAME", "TARGET", "URL", "STATE", "FILE")]
    rows += [(e.id, e.client, e.scope, e.name, e.target.describe(), e.url, states[e.id], e.file) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _select(selector: str) -> Any:
    from aksmcp_tui.core.ide import IdeError
    from aksmcp_tui.core.ide.record import find

    matches = find(selector)
    if not matches:
        raise IdeError(f"no recorded entry {selector!r} (see `aksmcp connect --list`)")
    if len(matches) > 1:
        ids = ", ".join(f"{m.id} ({m.client} {m.file})" for m in matches)
        raise IdeError(f"{selector!r} matches several entries; give one id: {ids}")
    return matches[0]


def _remove(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.ide import plan_remove, remove

    entry = _select(args.remove)
    if args.dry_run:
        change = plan_remove(entry)
        sys.stdout.write(change.diff() or f"no change: {change.path} no longer has entry {entry.name!r}\n")
        return 0
    change = remove(entry)
    if change.changed:
        print(f"removed {entry.client} entry {entry.name!r} from {change.path}")
    else:
        print(f"{change.path} no longer had entry {entry.name!r}; forgot it")
    return 0


async def _refresh(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.ide import Backups, IdeError, commit, plan_refresh
    from aksmcp_tui.core.ide.record import load

    entries = [
        e for e in load() if (not args.client or e.client == args.client) and (not args.name or e.name == args.name)
    ]
    if not entries:
        print("no recorded entries to refresh", file=sys.stderr)
        return 0
    backups = Backups()
    failures = 0
    for entry in entries:
        try:
            change = await plan_refresh(entry)
            if args.dry_run:
                sys.stdout.write(change.diff())
                continue
            if change.changed:
                commit(change, backups)
                url = change.entry.url if change.entry else entry.url
                print(f"refreshed {entry.client} {entry.name!r} in {change.path} -> {url}")
            else:
                print(f"up to date: {entry.client} {entry.name!r} ({change.path})")
            if entry.extra.get("auth") == "entra":  # when the new token runs out, and for references how to set it
                _print_notes([n for n in change.notes if "Entra" in n or "token is not in the file" in n])
        except IdeError as exc:
            failures += 1
            print(f"aksmcp connect: {entry.client} {entry.name!r}: {exc}", file=sys.stderr)
    return 1 if failures else 0
