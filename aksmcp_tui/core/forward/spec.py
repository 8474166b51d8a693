"""What a forward is (ForwardSpec) and how it is doing (ForwardStatus): the contract the console,
metrics, deploy smoke test, IDE configs, CLI and dashboard all read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TARGET_KINDS = {
    "svc": "svc",
    "service": "svc",
    "services": "svc",
    "deploy": "deploy",
    "deployment": "deploy",
    "deployments": "deploy",
    "pod": "pod",
    "pods": "pod",
    "po": "pod",
}

# States, from best to worst. "degraded": it forwards, but something is off (the MCP probe fails,
# a connection just failed, the API server is being retried). "waiting": no ready pod (connections
# are held). "failed": cannot forward at all (unknown target, local port lost, stopped).
STATES = ("active", "degraded", "waiting", "failed")


class ForwardError(Exception):
    """A forward cannot be set up as asked; the message says why in plain words (and what to do)."""


def parse_target(target: str) -> tuple[str, str]:
    """ "svc/NAME" | "deploy/NAME" | "pod/NAME" (kubectl's aliases too) -> (kind, name)."""
    kind, sep, name = target.partition("/")
    if not sep or not name or "/" in name or kind.lower() not in TARGET_KINDS:
        raise ForwardError(f"target {target!r} is not svc/NAME, deploy/NAME or pod/NAME")
    return TARGET_KINDS[kind.lower()], name


def normalize_target(target: str) -> str:
    kind, name = parse_target(target)
    return f"{kind}/{name}"


def parse_port(value: int | str | None) -> int | str | None:
    """A remote port as given on the command line: a number (1-65535) or a port name."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        number = int(value)
        if not 0 < number < 65536:
            raise ForwardError(f"port {value} is out of range (1-65535)")
        return number
    return str(value)


@dataclass(frozen=True)
class ForwardSpec:
    context: str
    namespace: str
    target: str  # "svc/NAME" | "deploy/NAME" | "pod/NAME"
    remote_port: int | str | None = None  # None: the container port named "mcp" (else the first port)
    local_port: int | None = None  # None: stable per (context, namespace, target) for managed forwards
    address: str = "127.0.0.1"
    kubeconfig: str | None = None  # None: kubectl's own resolution

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForwardSpec:
        return cls(
            context=str(data["context"]),
            namespace=str(data["namespace"]),
            target=normalize_target(str(data["target"])),
            remote_port=parse_port(data.get("remote_port")),
            local_port=int(data["local_port"]) if data.get("local_port") else None,
            address=str(data.get("address") or "127.0.0.1"),
            kubeconfig=str(data["kubeconfig"]) if data.get("kubeconfig") else None,
        )


def forward_id(context: str, namespace: str, target: str) -> str:
    """A short stable id: what `forward rm ID` takes and what the IDE records can name."""
    import hashlib

    digest = hashlib.sha256(f"{context}\0{namespace}\0{normalize_target(target)}".encode()).hexdigest()
    return digest[:8]


@dataclass
class ForwardStatus:
    id: str
    context: str
    namespace: str
    target: str
    local_url: str  # "http://127.0.0.1:PORT" (no path)
    mcp_url: str  # local_url + "/mcp"
    state: str  # "active" | "degraded" | "waiting" | "failed"
    pod: str | None
    reconnects: int
    mcp_latency_ms: float | None
    last_error: str | None
    open_connections: int = 0
    total_connections: int = 0
    bytes_in: int = 0  # from the pods to local clients
    bytes_out: int = 0  # from local clients to the pods
    uptime_s: float = 0.0
    local_port: int = 0
    remote_port: int | str | None = None
    address: str = "127.0.0.1"
    ready_pods: int = 0
    mcp_protocol: str | None = None  # the protocol revision the probe negotiated
    kubeconfig: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForwardStatus:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
