"""Settings from the command line and the environment (CLI flags win), validated up front.

Every bad value becomes a `ConfigError` with a message meant for a human; the entry point turns it into
exit status 2. Nothing here reads secrets into logs: `Settings.__repr__` hides the API key.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Transport = Literal["stdio", "http"]
AuthMode = Literal["none", "apikey", "entra"]

DEFAULT_PORT = 8080
DEFAULT_GRACE_SECONDS = 25.0
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # the SDK default; leaves room for a 1 MiB write plus JSON escaping
DEFAULT_SERVER_NAME = "aksmcp-server"
MIN_API_KEY_LENGTH = 16
MIN_STATE_KEY_BYTES = 32


ENV_HELP = """environment:
  AKSMCP_TRANSPORT            http | stdio (default stdio)
  AKSMCP_HOST, AKSMCP_PORT    bind address (127.0.0.1) and port (8080; 0 = any free port)
  AKSMCP_WORKSPACE            directory the file tool is confined to (default: current directory)
  AKSMCP_AUTH_MODE            none | apikey | entra ("none" only on a loopback bind)
  AKSMCP_API_KEY_FILE         file holding the API key (or AKSMCP_API_KEY); Bearer or X-API-Key
  AKSMCP_API_KEY_PREVIOUS_FILE  the key being rotated out, also accepted (missing or empty file = none)
  AKSMCP_ENTRA_TENANT_ID      Entra tenant; with AKSMCP_ENTRA_AUDIENCE (comma list)
  AKSMCP_ENTRA_ISSUER, AKSMCP_ENTRA_JWKS_URL   overrides (tests, sovereign clouds)
  AKSMCP_RESOURCE_URL, AKSMCP_ENTRA_SCOPES     public /mcp URL and scopes for the OAuth metadata
  AKSMCP_ALLOWED_HOSTS        extra Host values for /mcp (Service/Ingress names; * = no Host check)
  AKSMCP_ALLOWED_ORIGINS      extra browser Origins
  AKSMCP_ALLOWED_COMMANDS     executables execute_command may run (empty = tool disabled)
  AKSMCP_STATEFUL             true = 2025-11-25 sessions (needs session affinity); default false
  AKSMCP_STATE_KEY_FILE       shared key (>= 32 bytes) for sealed request state across replicas
  AKSMCP_SERVER_NAME          server name, identical on every replica (default aksmcp-server)
  AKSMCP_GRACE_SECONDS        drain time on SIGTERM (default 25)
  AKSMCP_LOG_LEVEL            DEBUG | INFO | WARNING | ERROR
  AKSMCP_MAX_BODY_BYTES, AKSMCP_JSON_RESPONSE, AKSMCP_FAST_PATH, AKSMCP_COMMAND_TIMEOUT_SECONDS
"""


class ConfigError(Exception):
    """A setting is missing, malformed or unsafe; the message says which and how to fix it."""


@dataclass(frozen=True)
class EntraSettings:
    tenant_id: str
    audiences: tuple[str, ...]
    issuers: tuple[str, ...]
    jwks_url: str
    # Minimum seconds between two JWKS refetches triggered by an unknown `kid` (a flood of forged kids
    # must not turn into a flood of requests to the tenant).
    jwks_min_refresh_seconds: float = 30.0
    jwks_cache_seconds: float = 3600.0
    # Public URL of /mcp for the OAuth protected-resource metadata; derived from the request when unset.
    resource_url: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workspace: Path = field(default_factory=Path.cwd)
    auth_mode: AuthMode = "none"
    api_key: str | None = field(default=None, repr=False)
    # Accepted besides api_key while a rotation rolls through the replicas (see manifests/components).
    previous_api_key: str | None = field(default=None, repr=False)
    entra: EntraSettings | None = None
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    allowed_commands: tuple[str, ...] = ()
    stateful: bool = False
    json_response: bool = True
    fast_path: bool = True
    state_key: bytes | None = field(default=None, repr=False)
    server_name: str = DEFAULT_SERVER_NAME
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    log_level: str = "INFO"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_read_bytes: int = 1024 * 1024
    max_write_bytes: int = 1024 * 1024
    command_timeout_seconds: float = 30.0
    max_output_bytes: int = 64 * 1024
    enable_test_tools: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_list(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _parse_number(name: str, raw: str | None, default: float, *, minimum: float = 0.0) -> float:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def _parse_port(name: str, raw: str | int | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number (0-65535), not {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} must be a port number (0-65535), not {raw!r}")
    return port


def _read_secret_file(name: str, path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    return data.strip()


def _load_api_key(env: Mapping[str, str]) -> str | None:
    key_file = env.get("AKSMCP_API_KEY_FILE")
    if key_file:
        raw = _read_secret_file("AKSMCP_API_KEY_FILE", key_file)
        try:
            key = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("AKSMCP_API_KEY_FILE must contain a UTF-8 text key") from None
    else:
        key = env.get("AKSMCP_API_KEY", "").strip()
    if not key:
        return None
    if len(key) < MIN_API_KEY_LENGTH:
        raise ConfigError(f"the API key must be at least {MIN_API_KEY_LENGTH} characters long")
    return key


def _load_previous_api_key(env: Mapping[str, str]) -> str | None:
    """The key a rotation is retiring. Its file comes from an optional Secret item, so a missing or
    empty file is the normal "no rotation under way" case, not an error."""
    key_file = env.get("AKSMCP_API_KEY_PREVIOUS_FILE", "").strip()
    if not key_file or not Path(key_file).is_file():
        return None
    try:
        key = _read_secret_file("AKSMCP_API_KEY_PREVIOUS_FILE", key_file).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("AKSMCP_API_KEY_PREVIOUS_FILE must contain a UTF-8 text key") from None
    if not key:
        return None
    if len(key) < MIN_API_KEY_LENGTH:
        raise ConfigError(f"the previous API key must be at least {MIN_API_KEY_LENGTH} characters long")
    return key


def _load_entra(env: Mapping[str, str]) -> EntraSettings:
    tenant = env.get("AKSMCP_ENTRA_TENANT_ID", "").strip()
    audiences = _split_list(env.get("AKSMCP_ENTRA_AUDIENCE"))
    issuer_override = _split_list(env.get("AKSMCP_ENTRA_ISSUER"))
    jwks_override = env.get("AKSMCP_ENTRA_JWKS_URL", "").strip()
    if not audiences:
        raise ConfigError("AKSMCP_AUTH_MODE=entra needs AKSMCP_ENTRA_AUDIENCE (the API's application ID URI or ID)")
    if not tenant and not (issuer_override and jwks_override):
        raise ConfigError(
            "AKSMCP_AUTH_MODE=entra needs AKSMCP_ENTRA_TENANT_ID "
            "(or both AKSMCP_ENTRA_ISSUER and AKSMCP_ENTRA_JWKS_URL)"
        )
    # Entra issues v2.0 tokens with the first issuer and v1.0 tokens (accessTokenAcceptedVersion=null) with
    # the second; both are signed by the same tenant keys.
    issuers = issuer_override or (
        f"https://login.microsoftonline.com/{tenant}/v2.0",
        f"https://sts.windows.net/{tenant}/",
    )
    jwks_url = jwks_override or f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
    if not jwks_url.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ConfigError("AKSMCP_ENTRA_JWKS_URL must be https (plain http is only accepted on loopback)")
    return EntraSettings(
        tenant_id=tenant,
        audiences=audiences,
        issuers=issuers,
        jwks_url=jwks_url,
        jwks_min_refresh_seconds=_parse_number(
            "AKSMCP_ENTRA_JWKS_MIN_REFRESH_SECONDS", env.get("AKSMCP_ENTRA_JWKS_MIN_REFRESH_SECONDS"), 30.0
        ),
        jwks_cache_seconds=_parse_number(
            "AKSMCP_ENTRA_JWKS_CACHE_SECONDS", env.get("AKSMCP_ENTRA_JWKS_CACHE_SECONDS"), 3600.0
        ),
        resource_url=env.get("AKSMCP_RESOURCE_URL", "").strip().rstrip("/") or None,
        scopes=_split_list(env.get("AKSMCP_ENTRA_SCOPES")),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aksmcp-server",
        description="MCP server (Streamable HTTP at /mcp, or stdio) with safe reference tools, "
        "health, metrics and auth. Flags override AKSMCP_* environment variables.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
    )
    parser.add_argument("--transport", choices=["stdio", "http"], help="protocol transport (env AKSMCP_TRANSPORT)")
    parser.add_argument("--host", help="bind address for http (env AKSMCP_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="port for http, 0 picks a free one (env AKSMCP_PORT, default 8080)")
    parser.add_argument("--workspace", help="root directory the file tools are confined to (env AKSMCP_WORKSPACE)")
    return parser


def load_settings(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Parse flags and environment into validated `Settings`; raise `ConfigError` on anything unsafe."""
    env = os.environ if env is None else env
    args = build_parser().parse_args(argv)

    transport = args.transport or env.get("AKSMCP_TRANSPORT", "stdio").strip().lower() or "stdio"
    if transport not in ("stdio", "http"):
        raise ConfigError(f"AKSMCP_TRANSPORT must be stdio or http, not {transport!r}")
    host = args.host or env.get("AKSMCP_HOST", "").strip() or "127.0.0.1"
    port = _parse_port("--port" if args.port is not None else "AKSMCP_PORT", args.port or env.get("AKSMCP_PORT"), 8080)

    workspace_raw = args.workspace or env.get("AKSMCP_WORKSPACE") or os.getcwd()
    workspace = Path(workspace_raw).expanduser()
    if not workspace.is_dir():
        raise ConfigError(f"workspace {workspace_raw!r} is not an existing directory")
    workspace = workspace.resolve()

    auth_mode = env.get("AKSMCP_AUTH_MODE", "").strip().lower()
    api_key = _load_api_key(env)
    if not auth_mode:
        auth_mode = "apikey" if api_key else "none"
    if auth_mode not in ("none", "apikey", "entra"):
        raise ConfigError(f"AKSMCP_AUTH_MODE must be none, apikey or entra, not {auth_mode!r}")
    entra = _load_entra(env) if auth_mode == "entra" else None
    if auth_mode == "apikey" and not api_key:
        raise ConfigError("AKSMCP_AUTH_MODE=apikey needs AKSMCP_API_KEY_FILE (or AKSMCP_API_KEY)")
    if transport == "http" and auth_mode == "none" and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve without authentication on {host!r}: bind to 127.0.0.1, or set "
            "AKSMCP_AUTH_MODE=apikey with AKSMCP_API_KEY_FILE, or AKSMCP_AUTH_MODE=entra"
        )

    state_key: bytes | None = None
    state_key_file = env.get("AKSMCP_STATE_KEY_FILE")
    if state_key_file:
        state_key = _read_secret_file("AKSMCP_STATE_KEY_FILE", state_key_file)
        if len(state_key) < MIN_STATE_KEY_BYTES:
            raise ConfigError(f"AKSMCP_STATE_KEY_FILE must hold at least {MIN_STATE_KEY_BYTES} bytes")

    log_level = env.get("AKSMCP_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"AKSMCP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")

    server_name = env.get("AKSMCP_SERVER_NAME", "").strip() or DEFAULT_SERVER_NAME

    return Settings(
        transport=transport,  # type: ignore[arg-type]
        host=host,
        port=port,
        workspace=workspace,
        auth_mode=auth_mode,  # type: ignore[arg-type]
        api_key=api_key,
        previous_api_key=_load_previous_api_key(env) if auth_mode == "apikey" else None,
        entra=entra,
        allowed_hosts=_split_list(env.get("AKSMCP_ALLOWED_HOSTS")),
        allowed_origins=_split_list(env.get("AKSMCP_ALLOWED_ORIGINS")),
        allowed_commands=_split_list(env.get("AKSMCP_ALLOWED_COMMANDS")),
        stateful=_parse_bool("AKSMCP_STATEFUL", env.get("AKSMCP_STATEFUL"), False),
        json_response=_parse_bool("AKSMCP_JSON_RESPONSE", env.get("AKSMCP_JSON_RESPONSE"), True),
        fast_path=_parse_bool("AKSMCP_FAST_PATH", env.get("AKSMCP_FAST_PATH"), True),
        state_key=state_key,
        server_name=server_name,
        grace_seconds=_parse_number("AKSMCP_GRACE_SECONDS", env.get("AKSMCP_GRACE_SECONDS"), DEFAULT_GRACE_SECONDS),
        log_level=log_level,
        max_body_bytes=int(
            _parse_number("AKSMCP_MAX_BODY_BYTES", env.get("AKSMCP_MAX_BODY_BYTES"), DEFAULT_MAX_BODY_BYTES, minimum=1)
        ),
        command_timeout_seconds=_parse_number(
            "AKSMCP_COMMAND_TIMEOUT_SECONDS", env.get("AKSMCP_COMMAND_TIMEOUT_SECONDS"), 30.0, minimum=0.1
        ),
        enable_test_tools=_parse_bool("AKSMCP_ENABLE_TEST_TOOLS", env.get("AKSMCP_ENABLE_TEST_TOOLS"), False),
    )


# ----------------------------------------------------------------------------------- bridge mode --

DEFAULT_POOL_SIZE = 16
DEFAULT_IDLE_SECONDS = 1800.0
SCHED_POLICIES = ("batch", "normal")  # bridge.scheduling

BRIDGE_ENV_HELP = """environment (besides the server's own AKSMCP_* settings, see aksmcp-server --help):
  AKSMCP_BRIDGE_COMMAND             the stdio command when none follows `--` (shell-quoted, never run
                                    through a shell); set, it also turns `aksmcp-server` into the bridge
  AKSMCP_BRIDGE_POOL_SIZE           max 2025-11-25 sessions, one child process each (default 16)
  AKSMCP_BRIDGE_IDLE_SECONDS        a session idle this long is closed with its child (default 1800)
  AKSMCP_BRIDGE_STARTUP_TIMEOUT_SECONDS   time a child gets for its handshake (default 30)
  AKSMCP_BRIDGE_INPUT_TIMEOUT_SECONDS     time a 2026-07-28 client gets to retry with its input (default 300)
  AKSMCP_BRIDGE_SCHED_POLICY        batch (default): the bridge's own threads under Linux's SCHED_BATCH, so
                                    its wakeups never preempt the children doing the work; normal: off
"""


@dataclass(frozen=True)
class BridgeSettings:
    command: tuple[str, ...]
    pool_size: int = DEFAULT_POOL_SIZE
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    startup_timeout_seconds: float = 30.0
    input_timeout_seconds: float = 300.0
    sched_policy: str = "batch"  # bridge.scheduling: "batch" or "normal"


def build_bridge_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aksmcp-server bridge",
        usage="aksmcp-server bridge [options] -- COMMAND [ARGS...]",
        description="Serve a stdio MCP server over Streamable HTTP (both protocol revisions) with the "
        "runtime's health, readiness, metrics, auth and graceful drain.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=BRIDGE_ENV_HELP,
    )
    parser.add_argument("--host", help="bind address (env AKSMCP_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="port, 0 picks a free one (env AKSMCP_PORT, default 8080)")
    parser.add_argument("--workspace", help="the child's working directory (env AKSMCP_WORKSPACE, default: here)")
    parser.add_argument("--auth", choices=["none", "apikey", "entra"], help="auth mode (env AKSMCP_AUTH_MODE)")
    parser.add_argument("--api-key-file", help="file holding the API key (env AKSMCP_API_KEY_FILE)")
    parser.add_argument("--pool-size", help=f"max sessions, one child each (default {DEFAULT_POOL_SIZE})")
    parser.add_argument("--idle-seconds", help="close a session idle this long (default 1800)")
    parser.add_argument(
        "--sched-policy",
        help="batch (default): the children get the CPU first; normal: as any process (env AKSMCP_BRIDGE_SCHED_POLICY)",
    )
    return parser


def _parse_command(raw: str, source: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"{source}: cannot parse {raw!r}: {exc}") from None
    return words


def _bridge_settings(
    command: Sequence[str],
    pool_raw: str | None,
    idle_raw: str | None,
    sched_raw: str | None,
    env: Mapping[str, str],
) -> BridgeSettings:
    if not command:
        raise ConfigError(
            "bridge mode needs the stdio command: aksmcp-server bridge -- COMMAND [ARGS...] (or AKSMCP_BRIDGE_COMMAND)"
        )
    if shutil.which(command[0]) is None:
        raise ConfigError(f"bridge command {command[0]!r} was not found (not executable, or not on PATH)")
    pool = _parse_number("--pool-size / AKSMCP_BRIDGE_POOL_SIZE", pool_raw, DEFAULT_POOL_SIZE, minimum=1)
    if pool != int(pool):
        raise ConfigError(f"--pool-size must be a whole number, not {pool_raw!r}")
    sched_policy = (sched_raw or "batch").strip().lower()
    if sched_policy not in SCHED_POLICIES:
        raise ConfigError(f"--sched-policy / AKSMCP_BRIDGE_SCHED_POLICY must be batch or normal, not {sched_raw!r}")
    return BridgeSettings(
        command=tuple(command),
        pool_size=int(pool),
        idle_seconds=_parse_number(
            "--idle-seconds / AKSMCP_BRIDGE_IDLE_SECONDS", idle_raw, DEFAULT_IDLE_SECONDS, minimum=0.1
        ),
        startup_timeout_seconds=_parse_number(
            "AKSMCP_BRIDGE_STARTUP_TIMEOUT_SECONDS", env.get("AKSMCP_BRIDGE_STARTUP_TIMEOUT_SECONDS"), 30.0, minimum=0.1
        ),
        input_timeout_seconds=_parse_number(
            "AKSMCP_BRIDGE_INPUT_TIMEOUT_SECONDS", env.get("AKSMCP_BRIDGE_INPUT_TIMEOUT_SECONDS"), 300.0, minimum=0.1
        ),
        sched_policy=sched_policy,
    )


def load_bridge_settings(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[Settings, BridgeSettings]:
    """`aksmcp-server bridge [options] -- COMMAND [ARGS...]`: the server's settings plus the bridge's."""
    env = os.environ if env is None else env
    argv = list(argv)
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    args, rest = build_bridge_parser().parse_known_args(options)
    if rest:
        # Anything not an option is the command (the `--` is optional when the command has no options).
        if rest[0].startswith("-") or command:
            raise ConfigError(f"unknown option {rest[0]!r} (put the stdio command after --)")
        command = rest
    if not command:
        command = list(_parse_command(env.get("AKSMCP_BRIDGE_COMMAND", ""), "AKSMCP_BRIDGE_COMMAND"))
    server_env = dict(env)
    if args.auth:
        server_env["AKSMCP_AUTH_MODE"] = args.auth
    if args.api_key_file:
        server_env["AKSMCP_API_KEY_FILE"] = args.api_key_file
    server_argv = ["--transport", "http"]
    for flag in ("host", "port", "workspace"):
        value = getattr(args, flag)
        if value is not None:
            server_argv += [f"--{flag}", value]
    settings = load_settings(server_argv, server_env)
    bridge = _bridge_settings(
        command,
        args.pool_size or env.get("AKSMCP_BRIDGE_POOL_SIZE"),
        args.idle_seconds or env.get("AKSMCP_BRIDGE_IDLE_SECONDS"),
        args.sched_policy or env.get("AKSMCP_BRIDGE_SCHED_POLICY"),
        env,
    )
    return settings, bridge


def bridge_from_environment(settings: Settings, env: Mapping[str, str] | None = None) -> BridgeSettings | None:
    """AKSMCP_BRIDGE_COMMAND turns a plain `aksmcp-server` (the image's default command) into the bridge."""
    env = os.environ if env is None else env
    raw = env.get("AKSMCP_BRIDGE_COMMAND", "").strip()
    if not raw:
        return None
    if settings.transport != "http":
        raise ConfigError("AKSMCP_BRIDGE_COMMAND is set, and the bridge serves Streamable HTTP: use --transport http")
    return _bridge_settings(
        _parse_command(raw, "AKSMCP_BRIDGE_COMMAND"),
        env.get("AKSMCP_BRIDGE_POOL_SIZE"),
        env.get("AKSMCP_BRIDGE_IDLE_SECONDS"),
        env.get("AKSMCP_BRIDGE_SCHED_POLICY"),
        env,
    )
