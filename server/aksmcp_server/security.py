"""Allowed Host and Origin values (the DNS-rebinding guard), derived from settings.

Defaults: loopback only (127.0.0.1, localhost, [::1], any port), which covers `kubectl port-forward` and
local runs. Behind a Service or an Ingress the operator lists the names clients use in
AKSMCP_ALLOWED_HOSTS (e.g. `aksmcp-server.mcp-system.svc,mcp.example.com`); an entry without a port
allows any port. A concrete bind address (e.g. a pod IP) is allowed too. `*` turns the Host check off
for setups where the ingress owns Host; Origin is still checked. Origins default to loopback plus the
http/https origins of the allowed hosts, plus AKSMCP_ALLOWED_ORIGINS.
"""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings

from .config import Settings, is_loopback

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _with_any_port(host: str) -> list[str]:
    if host.endswith(":*") or (host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]")):
        return [host]
    return [host, f"{host}:*"]


def allowed_hosts(settings: Settings) -> list[str]:
    hosts: list[str] = []
    for host in (*LOOPBACK_HOSTS, *settings.allowed_hosts):
        hosts.extend(_with_any_port(host))
    bind = settings.host
    if bind not in ("0.0.0.0", "::", "") and not is_loopback(bind):
        hosts.extend(_with_any_port(f"[{bind}]" if ":" in bind else bind))
    return list(dict.fromkeys(hosts))


def allowed_origins(settings: Settings) -> list[str]:
    origins: list[str] = []
    for host in LOOPBACK_HOSTS:
        origins.extend((f"http://{host}", f"http://{host}:*", f"https://{host}", f"https://{host}:*"))
    for host in settings.allowed_hosts:
        if host == "*":
            continue
        for scheme in ("http", "https"):
            origins.extend(_with_any_port(f"{scheme}://{host}"))
    origins.extend(o.rstrip("/") for o in settings.allowed_origins)
    return list(dict.fromkeys(origins))


def transport_security(settings: Settings) -> TransportSecuritySettings:
    if "*" in settings.allowed_hosts:
        # The SDK checks Host and Origin together; with Host unchecked our own ASGI layer checks Origin.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts(settings),
        allowed_origins=allowed_origins(settings),
    )


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    if origin in allowed or "*" in allowed:
        return True
    return any(a.endswith(":*") and origin.startswith(a[:-2] + ":") for a in allowed)
