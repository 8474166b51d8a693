"""The `:` command line, k9s style: `:ctx NAME`, `:ns NAME|all`, `:deploy`, `:help`, `:q`."""

from __future__ import annotations

from dataclasses import dataclass

_ALIASES: dict[str, str] = {
    "ctx": "context",
    "context": "context",
    "contexts": "context",
    "cluster": "context",
    "ns": "namespace",
    "namespace": "namespace",
    "deploy": "deployments",
    "deployments": "deployments",
    "deployment": "deployments",
    "dp": "deployments",
    "mcp": "deployments",
    "help": "help",
    "?": "help",
    "q": "quit",
    "q!": "quit",
    "quit": "quit",
    "logs": "logs",
    "log": "logs",
    "forward": "forwards",
    "forwards": "forwards",
    "fw": "forwards",
    "pf": "forwards",
    "console": "console",
    "metrics": "metrics",
}

COMMAND_WORDS: tuple[str, ...] = ("ctx", "ns", "deploy", "help", "quit")


@dataclass(frozen=True)
class Jump:
    kind: str  # "context" | "namespace" | "deployments" | "forwards" | "logs" | "metrics" | "console" | "help" | "quit"
    argument: str | None = None
    word: str = ""


class CommandError(ValueError):
    """A command the line does not understand; the message is shown to the user as is."""


def parse_command(text: str) -> Jump:
    words = text.strip().lstrip(":").split()
    if not words:
        raise CommandError("Type a command, for example :ctx NAME, :ns NAME, :deploy or :help")
    word = words[0].lower()
    kind = _ALIASES.get(word)
    if kind is None:
        raise CommandError(f"Unknown command :{word} (try :ctx, :ns, :deploy, :help)")
    argument = " ".join(words[1:]) or None
    if kind == "context" and argument is None:
        raise CommandError(":ctx needs a context name, for example :ctx aksmcp-sandbox")
    if kind == "namespace":
        if argument is None:
            raise CommandError(":ns needs a namespace, or :ns all")
        if argument in ("all", "-", "*"):
            argument = None
    return Jump(kind, argument, word)
