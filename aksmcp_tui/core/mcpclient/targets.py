"""Where the console talks MCP: a URL, a deployment (through a managed forward) or a stdio command.

One syntax for `console`, `tools`, `call`, `resources`, `prompts` and `test`:
`http(s)://HOST/PATH`, `deploy/NAME -n NS [--context C] [--kubeconfig F]`, or `--stdio -- CMD ARGS...`.
Parsing is pure and raises `TargetError` (bad input, exit 2); `resolve_endpoint` does the I/O
(reading key files, asking azure-identity for a token, creating the forward).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token


class TargetError(ValueError):
    """A target the user has to correct; the message says how."""


@dataclass(frozen=True)
class McpTarget:
    kind: Literal["url", "deploy", "stdio"]
    url: str | None = None
    name: str | None = None  # deploy/NAME
    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    command: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    api_key_file: str | None = None
    bearer_scope: str | None = None

    def display(self) -> str:
        if self.kind == "url":
            return str(self.url)
        if self.kind == "stdio":
            return "stdio: " + shlex.join(self.command)
        where = f" -n {self.namespace}" if self.namespace else ""
        ctx = f" --context {self.context}" if self.context else ""
        return f"deploy/{self.name}{where}{ctx}"

    def cli_positional(self) -> list[str]:
        """The TARGET argument (none for stdio: its command goes after `--`)."""
        if self.kind == "url":
            return [str(self.url)]
        if self.kind == "deploy":
            return [f"deploy/{self.name}"]
        return []

    def cli_options(self) -> list[str]:
        """The target's options as `aksmcp` flags; a literal Authorization value is never copied out."""
        args: list[str] = ["--stdio"] if self.kind == "stdio" else []
        if self.kind == "deploy":
            if self.namespace:
                args += ["-n", self.namespace]
            if self.context:
                args += ["--context", self.context]
            if self.kubeconfig:
                args += ["--kubeconfig", self.kubeconfig]
        for key, value in self.headers:
            if key.lower() == "authorization":
                value = "Bearer $MCP_TOKEN"
            elif key.lower() == "x-api-key":
                value = "$MCP_TOKEN"
            args += ["--header", f"{key}: {value}"]
        if self.api_key_file:
            args += ["--api-key-file", self.api_key_file]
        if self.bearer_scope:
            args += ["--bearer-from-azure", self.bearer_scope]
        return args


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or not _HEADER_NAME.match(name):
        raise TargetError(f"--header {text!r}: expected NAME:VALUE, e.g. --header 'X-API-Key: abc'")
    if "\n" in value or "\r" in value:
        raise TargetError(f"--header {name}: the value must be one line")
    return name, value.strip()


def parse_target(
    text: str | None,
    *,
    stdio_command: Sequence[str] = (),
    stdio: bool = False,
    namespace: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    headers: Sequence[str] = (),
    api_key_file: str | None = None,
    bearer_scope: str | None = None,
) -> McpTarget:
    parsed_headers = tuple(parse_header(h) for h in headers)
    if stdio or (text is None and stdio_command):
        if text is not None:
            raise TargetError("--stdio takes the server's command after `--`, not a TARGET")
        if not stdio_command:
            raise TargetError("--stdio needs the server's command after `--`, e.g. -- uvx mcp-server-time")
        if parsed_headers or api_key_file or bearer_scope:
            raise TargetError("--header, --api-key-file and --bearer-from-azure apply to HTTP targets, not --stdio")
        return McpTarget("stdio", command=tuple(stdio_command))
    if not text:
        raise TargetError("give a TARGET: a URL, deploy/NAME -n NS, or --stdio -- COMMAND")
    if stdio_command:
        raise TargetError("a command after `--` needs --stdio (and no TARGET)")
    if api_key_file is not None and not Path(api_key_file).is_file():
        raise TargetError(f"--api-key-file {api_key_file}: no such file")
    common = {"headers": parsed_headers, "api_key_file": api_key_file, "bearer_scope": bearer_scope}
    if text.startswith(("deploy/", "deployment/", "deployments/")):
        name = text.split("/", 1)[1]
        if not _DNS1123.match(name) or len(name) > 253:
            raise TargetError(f"{text!r}: {name!r} is not a valid deployment name (lowercase DNS-1123)")
        return McpTarget("deploy", name=name, namespace=namespace, context=context, kubeconfig=kubeconfig, **common)  # type: ignore[arg-type]
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        if namespace or context or kubeconfig:
            raise TargetError("-n, --context and --kubeconfig apply to deploy/NAME targets, not URLs")
        return McpTarget("url", url=text, **common)  # type: ignore[arg-type]
    raise TargetError(
        f"{text!r} is not a target: use an http(s) URL (e.g. http://127.0.0.1:8080/mcp), "
        "deploy/NAME -n NAMESPACE, or --stdio -- COMMAND"
    )


@dataclass
class Endpoint:
    """A resolved target: what the session connects to."""

    target: McpTarget
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    note: str | None = None  # e.g. "through forward 127.0.0.1:43121 -> deploy/x"

    @property
    def is_http(self) -> bool:
        return self.url is not None


TokenSource = Callable[[str], Awaitable[str]]


# Managed identity that the environment configures (App Service, Functions, Container Apps, Arc, Cloud Shell):
# a local endpoint named by these variables, unlike the IMDS probe of 169.254.169.254.
_ENV_MANAGED_IDENTITY = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")
# The last credentials of DefaultAzureCredential's chain (which one is last depends on what is excluded)
_CHAIN_TAIL = {"AzureDeveloperCliCredential", "AzurePowerShellCredential", "InteractiveBrowserCredential"}


async def azure_bearer_token(scope: str) -> str:
    """A token for SCOPE from azure-identity's default chain (environment, workload identity, managed
    identity, az/azd/pwsh sign-in), in the cloud and with the CA bundle the Azure commands use."""
    from azure.identity.aio import DefaultAzureCredential

    from aksmcp_tui.core.azure.cloud import UnknownCloud, resolve_cloud, transport_options

    try:
        cloud = resolve_cloud()
    except UnknownCloud as exc:
        raise TargetError(f"--bearer-from-azure {scope}: {exc}") from None
    # IMDS is the managed-identity probe of 169.254.169.254: only useful on Azure compute, and a console user
    # is on a laptop, so it is left out unless the environment names a managed-identity endpoint itself.
    env_identity = any(os.environ.get(var) for var in _ENV_MANAGED_IDENTITY)
    credential = DefaultAzureCredential(
        authority=cloud.authority_host, exclude_managed_identity_credential=not env_identity, **transport_options()
    )
    try:
        token = await credential.get_token(scope)
    finally:
        await credential.close()
    return token.token


def _no_token_message(scope: str, exc: Exception) -> str:
    """What a failed token request means to a person: no sign-in (say how), or why a found one failed."""
    from aksmcp_tui.core.azure.credential import sign_in_reason

    detail = str(exc)
    reason = sign_in_reason(detail)
    # The chain lists each credential it tried on a tab-indented line and stops at the first that was there
    # but failed: when the last line is not the chain's last credential, that one is the reason. When it is,
    # every credential was merely absent: nobody is signed in.
    attempts = [line.strip() for line in detail.splitlines() if line.startswith("\t")]
    walked_all = bool(attempts) and attempts[-1].split(":")[0] in _CHAIN_TAIL
    if reason is None and walked_all:
        return (
            f"--bearer-from-azure {scope}: no Azure sign-in found for a token. Sign in with `az login`, or set "
            "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal), or run where a "
            "workload or managed identity is configured"
        )
    lines = detail.strip().splitlines()
    why = reason or (attempts[-1] if attempts else lines[0] if lines else type(exc).__name__)
    return f"--bearer-from-azure {scope}: no token ({why[:300]})"


def read_api_key(path: str) -> str:
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TargetError(f"--api-key-file {path}: {exc.strerror or exc}") from None
    if not key:
        raise TargetError(f"--api-key-file {path} is empty")
    if "\n" in key:
        raise TargetError(f"--api-key-file {path} holds more than one line; it should hold the key only")
    return key


def deploy_location(target: McpTarget) -> tuple[str, str, str | None]:
    """(context, namespace, kubeconfig) a deploy/NAME target resolves to: where its pods' logs are."""
    if target.kind != "deploy" or not target.name:
        raise TargetError(f"{target.display()} is not a deployment")
    return _deploy_context(target)


def _deploy_context(target: McpTarget) -> tuple[str, str, str | None]:
    """(context, namespace, kubeconfig) of a deploy target: -n defaults to the context's namespace."""
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_kubeconfig
    from aksmcp_tui.core.paths import sandbox_kubeconfig_path

    kubeconfig = target.kubeconfig
    try:
        merged = load_kubeconfig(kubeconfig)
        context = target.context or merged.current_context
        sandbox = sandbox_kubeconfig_path()
        if context not in merged.contexts and kubeconfig is None and sandbox.is_file():
            from_sandbox = load_kubeconfig(str(sandbox))
            if context is None and not merged.contexts:
                context = from_sandbox.current_context
            if context in from_sandbox.contexts:
                merged, kubeconfig = from_sandbox, str(sandbox)
        if not context:
            raise TargetError("no current kubeconfig context; pass --context (see `aksmcp clusters`)")
        if context not in merged.contexts:
            known = ", ".join(sorted(merged.contexts)) or "none"
            raise TargetError(f"context {context!r} not found (known contexts: {known})")
        namespace = target.namespace or str(merged.contexts[context].body.get("namespace") or "default")
    except KubeconfigError as exc:
        raise TargetError(str(exc)) from None
    return context, namespace, kubeconfig


async def resolve_endpoint(target: McpTarget, *, token_source: TokenSource | None = None) -> Endpoint:
    """Turn a target into something to connect to; deploy targets get (or reuse) a managed forward."""
    headers: dict[str, str] = dict(target.headers)
    if target.api_key_file:
        headers["Authorization"] = f"Bearer {read_api_key(target.api_key_file)}"
    if target.bearer_scope:
        source = token_source or azure_bearer_token
        try:
            headers["Authorization"] = f"Bearer {await source(target.bearer_scope)}"
        except TargetError:
            raise
        except Exception as exc:  # azure-identity raises its own ClientAuthenticationError family
            raise TargetError(_no_token_message(target.bearer_scope, exc)) from None
    if target.kind == "stdio":
        return Endpoint(target, command=target.command)
    if target.kind == "url":
        return Endpoint(target, url=target.url, headers=headers)
    context, namespace, kubeconfig = _deploy_context(target)
    # the contract's names, from the module that defines them (the package __init__ keeps its imports light)
    from aksmcp_tui.core.forward.control import ensure_forward
    from aksmcp_tui.core.forward.spec import ForwardError, ForwardSpec

    try:
        status = await ensure_forward(
            ForwardSpec(context=context, namespace=namespace, target=f"deploy/{target.name}", kubeconfig=kubeconfig)
        )
    except ForwardError as exc:
        raise TargetError(f"deploy/{target.name}: {exc}") from None
    if status.state == "failed":
        raise TargetError(f"the forward to deploy/{target.name} failed: {status.last_error or 'unknown error'}")
    note = f"through forward {status.local_url} → deploy/{target.name} ({namespace}, {context})"
    if not any(k.lower() in ("authorization", "x-api-key") for k in headers):
        credential, said = await deployment_credential(context, namespace, str(target.name), kubeconfig)
        if credential is not None:
            headers["Authorization"] = credential
        if said:
            note += f"; {said}"
    return Endpoint(target, url=status.mcp_url, headers=headers, note=note)


async def deployment_credential(
    context: str, namespace: str, name: str, kubeconfig: str | None
) -> tuple[str | None, str]:
    """What aksmcp's own deployments ask of a caller, so `c` on a deployment just works: an Entra ID
    token when its auth component says Entra, else the API key from the Secret it mounts. Best effort:
    when neither can be had the call goes without, and the server's 401 says which flag to use."""
    from aksmcp_tui.core.components.entra import EntraTokenError, bearer_for_deployment
    from aksmcp_tui.core.ide.connect import IdeError, key_secret_of, read_api_key
    from aksmcp_tui.core.kube import KubeContext, KubeProblem

    try:
        async with await KubeContext.open(context, kubeconfig) as kube:
            deployment = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            try:
                bearer = await bearer_for_deployment(deployment)
            except EntraTokenError as exc:
                return None, f"no Entra ID token ({exc})"
            if bearer is not None:
                return bearer, "Entra ID token from azure-identity"
            secret, _field = key_secret_of(deployment)
            try:
                key = await read_api_key(kube, namespace, name)
            except IdeError:
                return None, ""  # no key Secret: a server without auth, or one the user must give a key for
            return f"Bearer {key}", f"API key from Secret {namespace}/{secret}"
    except KubeProblem as exc:
        return None, f"credentials not read ({exc})"
