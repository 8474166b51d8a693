"""What a connect writes: the entry's parameters, and what a writer returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["user", "project"]
SCOPES: tuple[Scope, ...] = ("user", "project")


@dataclass(frozen=True)
class EntrySpec:
    name: str  # the entry's name in the client's config
    url: str  # the MCP endpoint (…/mcp)
    api_key: str | None  # None: the endpoint takes no key
    scope: Scope
    secret_env: str  # the environment variable references point at
    force_reference: bool = False  # --secret-env given: never inline, even in user scope
    entra: bool = False  # api_key is an Entra ID access token (expires in about an hour)
    # (tenant, scope) of an Entra ID API, for writers with `headers_helper` (user scope only: the
    # command names this machine's interpreter). Set: the file holds a command, never the token.
    entra_helper: tuple[str, str] | None = None

    @property
    def secret_mode(self) -> Literal["none", "reference", "inline"]:
        """How the key goes into the file. Project files may be committed: never inline there."""
        if (self.api_key is None and not self.force_reference) or self.entra_helper:
            return "none"
        if self.scope == "project" or self.force_reference:
            return "reference"
        return "inline"


@dataclass
class Rendered:
    text: str
    notes: list[str] = field(default_factory=list)
    inline_secret: bool = False  # the file must be 0600


def default_secret_env(name: str, *, token: bool = False) -> str:
    """AKSMCP_<NAME>_API_KEY, or AKSMCP_<NAME>_TOKEN for an Entra ID token."""
    return "AKSMCP_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() + ("_TOKEN" if token else "_API_KEY")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def valid_entry_name(name: str) -> bool:
    """Names every client accepts as a key (Codex tool names are `mcp__NAME__tool`: no spaces)."""
    return bool(_NAME.match(name))
