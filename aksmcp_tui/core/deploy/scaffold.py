"""`aksmcp init`: a new MCP server project, laid out as the generated-project contract says.

The template is server/ itself, copied as files (never imported, never a second copy in this
repository): its Dockerfile, .dockerignore, pyproject.toml and runtime package. On top come the
project's own parts: a tools package with one example tool (python template), the bridge settings
(bridge and catalog templates), tests, a README, aksmcp.yaml, and manifests/ (a kustomize overlay
on a copy of aksmcp's manifests/base). A copy that would need server/ to look different from what
this code expects stops with a message instead of writing a broken project.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from aksmcp_tui.core.deploy.catalog import CATALOG, CatalogEntry, SecretEnv
from aksmcp_tui.core.deploy.project import Project, ProjectError, check_dns1123, save_project
from aksmcp_tui.core.manifests import BASE_APP_NAME, BASE_ENV_SECRET, default_manifests_dir

TEMPLATES = ("python", "bridge")
SERVER_IMAGE = "ghcr.io/aksmcp/aksmcp-server"
# Overlay names the base's objects by these; the deploy renames them to the project's.
ENV_SECRET_PLACEHOLDER = BASE_ENV_SECRET
# Patches name the base's objects where the base puts them (kustomize patches before it re-namespaces).
BASE_NAMESPACE = "mcp-system"
_SERVER_FILES = ("Dockerfile", ".dockerignore", "pyproject.toml")
# Where server/Dockerfile installs an npm MCP_PACKAGE.
NPM_PREFIX = "/opt/mcp/node"
_SERVER_PACKAGE = "aksmcp_server"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".venv", "wheels", "build", "dist")


class ScaffoldError(ProjectError):
    """`aksmcp init` refused; nothing was written."""


@dataclass
class InitResult:
    path: Path
    project: Project
    files: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def server_template_dir() -> Path:
    """server/ of this checkout (AKSMCP_SERVER_TEMPLATE_DIR overrides, for packaged installs)."""
    override = os.environ.get("AKSMCP_SERVER_TEMPLATE_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "server"


def package_name(name: str) -> str:
    return name.replace("-", "_")


def bridge_from_command(command: str) -> tuple[str, str]:
    """(MCP_PACKAGE, MCP_COMMAND) for `--command "npx -y pkg[@v] ..."` or `"uvx pkg[==v] ..."`.

    The package is installed into the image at build time, so the pod never downloads code:
    uvx's package runs as its console script (named like the package, PyPI's convention); npx's
    runs through `npm exec --offline` from the image's npm prefix (/opt/mcp/node, where the
    Dockerfile installs it), which runs the installed package and never fetches one."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ScaffoldError(f"--command {command!r} is not a valid command line: {exc}") from None
    if not argv:
        raise ScaffoldError("--command is empty")
    tool, rest = argv[0], argv[1:]
    flags = [a for a in rest if a.startswith("-")]
    positional = [a for a in rest if not a.startswith("-")]
    if tool in ("npx", "uvx") and not positional:
        raise ScaffoldError(f"--command {command!r} names no package after {tool}")
    if tool == "npx":
        spec, args = positional[0], positional[1:]
        return f"npm:{spec}", shlex.join(
            ["npm", "exec", "--offline", "--yes", "--prefix", NPM_PREFIX, "--", _npm_name(spec), *args]
        )
    if tool == "uvx":
        spec, args = positional[0], positional[1:]
        if flags:
            raise ScaffoldError(f"--command {command!r}: uvx options are not supported; give the package and args")
        binary = spec.split("==", 1)[0].split("[", 1)[0]
        return f"pypi:{spec}", shlex.join([binary, *args])
    # Anything else is a command already in the image (or a build argument decides the package).
    return "", shlex.join(argv)


def _npm_name(spec: str) -> str:
    """`@scope/pkg@1.2.3` -> `@scope/pkg` (npm exec then takes the installed version)."""
    scope = spec.startswith("@")
    name, _, _ = spec[1:].partition("@") if scope else spec.partition("@")
    return ("@" if scope else "") + name


def _copy_server(template: Path, target: Path) -> None:
    for name in _SERVER_FILES:
        source = template / name
        if not source.is_file():
            raise ScaffoldError(f"the server template {template} has no {name}")
        shutil.copy2(source, target / name)
    shutil.copytree(template / _SERVER_PACKAGE, target / _SERVER_PACKAGE, ignore=_IGNORED)


def _rewrite(path: Path, anchor: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count(anchor) != 1:
        raise ScaffoldError(
            f"server/{path.name} no longer contains {anchor.strip()!r} exactly once; "
            "aksmcp init needs updating for the new server template"
        )
    path.write_text(text.replace(anchor, replacement), encoding="utf-8")


def _wire_python_package(target: Path, package: str, name: str) -> None:
    _rewrite(
        target / "pyproject.toml",
        'include = ["aksmcp_server*"]',
        f'include = ["aksmcp_server*", "{package}*"]',
    )
    _rewrite(
        target / "pyproject.toml",
        "[project.scripts]",
        '[project.optional-dependencies]\ntest = ["pytest>=8"]\n\n[project.scripts]',
    )
    _rewrite(
        target / _SERVER_PACKAGE / "app.py",
        "from .tools import build_tools\n",
        f"from .tools import build_tools\n\n# {name}'s own tools (aksmcp init): served next to the reference tools.\n"
        f"from {package}.tools import build_tools as project_tools\n",
    )
    _rewrite(
        target / _SERVER_PACKAGE / "app.py",
        "    tools = build_tools(settings)\n",
        "    tools = build_tools(settings) + project_tools()\n",
    )


TOOLS_MODULE = '''"""{name}'s MCP tools. Add yours here: each is a plain async function turned into an SDK Tool.

The runtime (aksmcp_server/, copied from aksmcp's server/) serves them over Streamable HTTP with
health, metrics and API-key auth, next to the reference tools.
"""

from __future__ import annotations

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations


async def greet(name: str) -> str:
    """The example tool: a greeting for `name`."""
    return f"Hello, {{name}}! ({name} on AKS)"


def build_tools() -> list[Tool]:
    return [
        Tool.from_function(
            greet,
            name="greet",
            description="Say hello to someone (the example tool of {name}).",
            annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
        ),
    ]
'''

PYTHON_TEST = '''"""The server answers over stdio with the official MCP client, example tool included."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def server(workspace: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "aksmcp_server", "--transport", "stdio", "--workspace", str(workspace)],
        env={{"PATH": os.environ.get("PATH", ""), "HOME": str(workspace)}},
    )


async def test_example_tool_is_listed_and_answers(tmp_path: Path) -> None:
    async with Client(server(tmp_path)) as client:
        names = {{tool.name for tool in (await client.list_tools()).tools}}
        assert "greet" in names
        result = await client.call_tool("greet", {{"name": "AKS"}})
        assert not result.is_error
        assert result.content[0].text == "Hello, AKS! ({name} on AKS)"


async def test_reference_tools_stay_safe(tmp_path: Path) -> None:
    async with Client(server(tmp_path)) as client:
        refused = await client.call_tool("file_operation", {{"operation": "read", "path": "../../etc/passwd"}})
        assert refused.is_error
'''

BRIDGE_TEST = '''"""The runtime this image runs around `{command}` starts and knows its settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]


def test_runtime_starts() -> None:
    done = subprocess.run([sys.executable, "-m", "aksmcp_server", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--transport" in done.stdout


def test_bridge_package_is_pinned() -> None:
    meta = yaml.safe_load((PROJECT / "aksmcp.yaml").read_text())
    assert meta["build_args"]["MCP_COMMAND"] == {command!r}
'''


def _readme(project: Project, entry: CatalogEntry | None, command: str | None) -> str:
    lines = [
        f"# {project.name}",
        "",
        f"An MCP server project created by `aksmcp init` (template: {project.template}).",
        "",
    ]
    if project.template == "python":
        package = package_name(project.name)
        lines += [
            f"- `{package}/tools.py`: your tools (one example, `greet`). Add async functions there.",
            "- `aksmcp_server/`: the runtime (Streamable HTTP, `/healthz`, `/readyz`, `/metrics`, API-key auth),",
            "  copied from aksmcp's `server/`.",
        ]
    else:
        what = entry.description if entry else f"`{command}`"
        lines += [
            f"The image runs aksmcp's stdio bridge around {what}: the package is pinned in `aksmcp.yaml`",
            "(`build_args`) and installed at build time, so pods never download code.",
        ]
        if project.build_args.get("MCP_PACKAGE", "").startswith("npm:"):
            spec = project.build_args["MCP_PACKAGE"].removeprefix("npm:")
            lines += [
                "",
                "An npm package needs node and npm in the image: python:*-slim has neither. Build a base",
                "`FROM` the Dockerfile's default `PYTHON_IMAGE` with",
                "`RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm`, push it,",
                "and add `PYTHON_IMAGE: <that image>` under `build_args` in `aksmcp.yaml`.",
                "",
                "Where the build cannot reach the npm registry, fill `npm/` here first (the whole tree, pinned);",
                "the build then installs from it with `npm ci --offline`:",
                "",
                "    npm install --prefix npm --cache npm --no-omit-lockfile-registry-resolved --ignore-scripts "
                + spec,
                "",
                "`MCP_COMMAND` runs the package with `npm exec --offline` (the image never downloads); its bin",
                "name instead (`npm view <package> bin`) starts it without npm.",
            ]
        if entry and entry.homepage:
            lines.append(f"Upstream: {entry.homepage}.")
        if entry and entry.egress_note:
            lines.append(f"Network: it talks to {entry.egress_note}.")
    if entry and entry.secrets:
        lines += ["", "## Secrets", ""]
        lines += [
            f"The server reads these from Kubernetes Secret `{project.env_secret}` (never from a file here):",
            "",
        ]
        for secret in entry.secrets:
            lines.append(f"- `{secret.name}`: {secret.help}.")
        lines += [
            "",
            "`aksmcp deploy` creates the Secret from your environment the first time (export the variables",
            "above first), or create it yourself:",
            "",
            "```bash",
            f"kubectl -n {project.namespace} create secret generic {project.env_secret} \\",
            *[f'  --from-literal={s.name}="${s.name}" \\' for s in entry.secrets[:-1]],
            f'  --from-literal={entry.secrets[-1].name}="${entry.secrets[-1].name}"',
            "```",
        ]
    lines += [
        "",
        "## Develop, deploy, connect",
        "",
        "```bash",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q",
        "aksmcp deploy . --registry myacr.azurecr.io   # build, push, apply, roll out, smoke test",
        "```",
        "",
        "`manifests/` is a kustomize overlay on `manifests/aksmcp/base` (a copy of aksmcp's base: do not edit it;",
        "put your changes in overlay patches). `kubectl kustomize manifests` shows what it renders;",
        "`aksmcp deploy --dry-run` shows it with this deployment's name, namespace and image.",
        "",
    ]
    return "\n".join(lines)


GITIGNORE = """.venv/
__pycache__/
*.py[cod]
*.egg-info/
build/
dist/
wheels/
.pytest_cache/
.mypy_cache/
.ruff_cache/
# Secrets never live in the project: they go to Kubernetes Secrets.
.env
*.key
"""


def _bridge_patch(project: Project, entry: CatalogEntry | None, bridge_command: str) -> str:
    env: list[dict[str, object]] = [
        {"name": s.name, "valueFrom": {"secretKeyRef": {"name": ENV_SECRET_PLACEHOLDER, "key": s.name}}}
        for s in (entry.secrets if entry else ())
    ]
    # Listed after the Secret values so Kubernetes expands $(VAR) references to them.
    env.append({"name": "AKSMCP_BRIDGE_COMMAND", "value": bridge_command})
    deployment: dict[str, object] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": BASE_APP_NAME, "namespace": BASE_NAMESPACE},
        "spec": {"template": {"spec": {"containers": [{"name": "server", "env": env}]}}},
    }
    docs: list[dict[str, object]] = [deployment]
    if entry and entry.env:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": BASE_APP_NAME, "namespace": BASE_NAMESPACE},
                "data": dict(entry.env),
            }
        )
    header = f"# {project.name}: the bridge's command and environment (aksmcp init wrote it; edit freely).\n"
    return header + yaml.safe_dump_all(docs, sort_keys=False)


def _overlay(project: Project, patch_files: list[str]) -> str:
    data: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["aksmcp/base"],
        "namespace": project.namespace,
    }
    if patch_files:
        data["patches"] = [{"path": p} for p in patch_files]
    data["images"] = [{"name": SERVER_IMAGE, "newName": project.image_repository or f"aksmcp.local/{project.name}"}]
    header = (
        f"# {project.name}'s overlay on aksmcp's base. `kubectl apply -k manifests` works alone; `aksmcp deploy`\n"
        "# renders the same files and adds the deployment's name, image digest, replicas and key Secret.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False)


def init_project(
    name: str,
    *,
    template: str = "python",
    command: str | None = None,
    directory: Path | None = None,
    namespace: str = "mcp-system",
    registry: str | None = None,
) -> InitResult:
    """Write the project `name` into `directory` (default ./NAME); ScaffoldError leaves nothing behind."""
    check_dns1123(name, "project name")
    check_dns1123(namespace, "namespace")
    entry = CATALOG.get(template)
    if template not in TEMPLATES and entry is None:
        known = ", ".join([*TEMPLATES, *CATALOG])
        raise ScaffoldError(f"unknown template {template!r}; choose one of: {known} (aksmcp init --list)")
    if template == "bridge" and not command:
        raise ScaffoldError('--template bridge needs --command, e.g. --command "npx -y @scope/server@1.2.3"')
    if template == "python" and command:
        raise ScaffoldError("--command goes with --template bridge (or a catalog template), not python")
    target = Path(directory) if directory is not None else Path.cwd() / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty; choose another --dir or name")
    source = server_template_dir()
    base = default_manifests_dir() / "base"
    if not (source / "Dockerfile").is_file():
        raise ScaffoldError(f"the server template is missing: {source} has no Dockerfile")
    if not (base / "kustomization.yaml").is_file():
        raise ScaffoldError(f"aksmcp's manifests are missing: {base} has no kustomization.yaml")

    repository = f"{registry.rstrip('/')}/{name}" if registry else ""
    project = Project(name=name, namespace=namespace, image_repository=repository, template=template)
    bridge_command = None
    if entry is not None:
        package, bridge_command = entry.package, command or entry.command
        project.build_args = {"MCP_PACKAGE": package, "MCP_COMMAND": bridge_command}
        project.secret_env = [s.name for s in entry.secrets]
    elif template == "bridge" and command:
        package, bridge_command = bridge_from_command(command)
        project.build_args = {"MCP_PACKAGE": package, "MCP_COMMAND": bridge_command}

    # Build in a sibling temp dir and move it into place: a failure leaves no half-written project.
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-init-", dir=target.parent))
    try:
        _copy_server(source, staging)
        (staging / "tests").mkdir()
        if template == "python":
            package = package_name(name)
            (staging / package).mkdir()
            (staging / package / "__init__.py").write_text(f'"""{name}: an MCP server on AKS."""\n')
            (staging / package / "tools.py").write_text(TOOLS_MODULE.format(name=name))
            _wire_python_package(staging, package, name)
            (staging / "tests" / "test_tools.py").write_text(PYTHON_TEST.format(name=name))
        else:
            _rewrite(
                staging / "pyproject.toml",
                "[project.scripts]",
                '[project.optional-dependencies]\ntest = ["pytest>=8", "pyyaml>=6"]\n\n[project.scripts]',
            )
            (staging / "tests" / "test_bridge.py").write_text(BRIDGE_TEST.format(command=bridge_command))
        (staging / "README.md").write_text(_readme(project, entry, command))
        (staging / ".gitignore").write_text(GITIGNORE)
        manifests = staging / "manifests"
        shutil.copytree(base, manifests / "aksmcp" / "base", ignore=_IGNORED)
        patches: list[str] = []
        if bridge_command is not None:
            patches.append(f"{name}-bridge.yaml")
            (manifests / patches[-1]).write_text(_bridge_patch(project, entry, bridge_command))
        (manifests / "kustomization.yaml").write_text(_overlay(project, patches))
        save_project(staging, project)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    steps = [f"cd {target}"]
    if template == "python":
        steps.append("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q")
    for secret in entry.secrets if entry else ():
        steps.append(f"export {secret.name}=...   # {secret.help}")
    steps.append("aksmcp deploy . --registry <registry>   (or --context aksmcp-sandbox to try it locally)")
    return InitResult(target, project, files, steps)


def catalog_rows() -> list[tuple[str, str, str, str]]:
    """(name, package, secrets, description) per catalog entry, for `aksmcp init --list`."""
    return [(e.name, e.package, ", ".join(s.name for s in e.secrets) or "-", e.description) for e in CATALOG.values()]


__all__ = ["CATALOG", "InitResult", "ScaffoldError", "SecretEnv", "catalog_rows", "init_project"]
