"""Well-known MCP servers `aksmcp init --template NAME` turns into bridge projects.

Modelled on ToolHive's registry: each entry pins one package version (npm or PyPI), names the
stdio command the bridge runs, and lists the environment it needs, secret values coming from a
Kubernetes Secret and never from a file in the project. `$(VAR)` in a command is Kubernetes'
own env expansion (the value is another env var of the container, e.g. a Secret key).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SecretEnv:
    name: str  # the env var the server reads; also the key in the project's env Secret
    help: str  # where to get a value, for the README and the deploy's message when it is missing


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    package: str  # MCP_PACKAGE build argument: "npm:<pkg>@<version>" or "pypi:<pkg>==<version>"
    command: str  # the stdio command line (shell-quoted; run by the bridge, never through a shell)
    secrets: tuple[SecretEnv, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # non-secret settings (ConfigMap)
    homepage: str = ""
    egress_note: str = ""  # what it talks to outside the cluster (the NetworkPolicy allows HTTPS)


CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in (
        CatalogEntry(
            "github",
            "GitHub API: repositories, issues, pull requests, code search",
            "npm:@modelcontextprotocol/server-github@2025.4.8",
            "mcp-server-github",
            secrets=(
                SecretEnv(
                    "GITHUB_PERSONAL_ACCESS_TOKEN",
                    "a fine-grained personal access token from https://github.com/settings/personal-access-tokens "
                    "(grant only the repositories and permissions the tools need)",
                ),
            ),
            homepage="https://www.npmjs.com/package/@modelcontextprotocol/server-github",
            egress_note="api.github.com over HTTPS",
        ),
        CatalogEntry(
            "filesystem",
            "Read and write files under the pod's /workspace volume",
            "npm:@modelcontextprotocol/server-filesystem@2026.8.31",
            "mcp-server-filesystem /workspace",
            homepage="https://www.npmjs.com/package/@modelcontextprotocol/server-filesystem",
        ),
        CatalogEntry(
            "git",
            "Read, search and change a Git repository in /workspace",
            "pypi:mcp-server-git==2026.10.19",
            "mcp-server-git --repository /workspace",
            homepage="https://pypi.org/project/mcp-server-git/",
        ),
        CatalogEntry(
            "time",
            "Current time and time-zone conversions",
            "pypi:mcp-server-time==2026.10.19",
            "mcp-server-time",
            homepage="https://pypi.org/project/mcp-server-time/",
        ),
        CatalogEntry(
            "fetch",
            "Fetch web pages and convert them to markdown",
            "pypi:mcp-server-fetch==2026.10.24",
            "mcp-server-fetch",
            homepage="https://pypi.org/project/mcp-server-fetch/",
            egress_note="any HTTPS site the caller names (consider narrowing the NetworkPolicy)",
        ),
        CatalogEntry(
            "memory",
            "A knowledge-graph memory kept in /workspace/memory.json",
            "npm:@modelcontextprotocol/server-memory@2026.8.31",
            "mcp-server-memory",
            env={"MEMORY_FILE_PATH": "/workspace/memory.json"},
            homepage="https://www.npmjs.com/package/@modelcontextprotocol/server-memory",
        ),
        CatalogEntry(
            "postgres",
            "Read-only SQL against a PostgreSQL database",
            "npm:@modelcontextprotocol/server-postgres@0.6.2",
            "mcp-server-postgres $(DATABASE_URL)",
            secrets=(
                SecretEnv(
                    "DATABASE_URL",
                    "a postgresql://USER:PASSWORD@HOST:5432/DB URL of a read-only role "
                    "(Azure Database for PostgreSQL: Portal > your server > Connect)",
                ),
            ),
            homepage="https://www.npmjs.com/package/@modelcontextprotocol/server-postgres",
            egress_note="the database host (allow its port in the NetworkPolicy: only 443 is open)",
        ),
    )
}
