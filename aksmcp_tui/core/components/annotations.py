"""The annotations components put on the Deployment; the dashboard reads them back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# One key per component on the Deployment's metadata (not the pod template: no roll just for a label).
PREFIX = "components.aksmcp.dev/"
# Entra details a client needs to ask for a token (console, connect).
ENTRA_TENANT = "aksmcp.dev/entra-tenant-id"
ENTRA_CLIENT_ID = "aksmcp.dev/entra-client-id"
ENTRA_SCOPE = "aksmcp.dev/entra-scope"
# Changed by `aksmcp auth rotate` on the pod template: the roll that makes pods read the new key.
ROTATION = "aksmcp.dev/api-key-rotated-at"

# What the details screen offers for a component the deployment lacks.
GENERATORS: dict[str, str] = {
    "auth-apikey": "aksmcp auth enable --api-key",
    "auth-entra": "aksmcp auth enable --entra --tenant TENANT --client-id CLIENT_ID",
    "ingress-tls": "aksmcp tls enable --host HOST --issuer letsencrypt-staging",
    "monitoring": "aksmcp monitor setup",
    "hpa": "aksmcp scale configure --min 2 --max 10 --cpu 70",
    "keda": "aksmcp scale configure --min 2 --max 10 --rps-per-pod 20",
    "ci": "aksmcp ci generate github --registry REGISTRY.azurecr.io",
}


@dataclass(frozen=True)
class DeployedComponent:
    name: str
    detail: str


def deployed_components(deployment: dict[str, Any]) -> list[DeployedComponent]:
    """The components a Deployment object carries (from its annotations), sorted by name."""
    annotations = ((deployment.get("metadata") or {}).get("annotations")) or {}
    found = [
        DeployedComponent(key[len(PREFIX) :], str(value))
        for key, value in annotations.items()
        if isinstance(key, str) and key.startswith(PREFIX)
    ]
    return sorted(found, key=lambda c: c.name)


def entra_client_settings(deployment: dict[str, Any]) -> tuple[str, str, str] | None:
    """(tenant, client id, scope) when the Deployment runs with auth-entra, else None."""
    annotations = ((deployment.get("metadata") or {}).get("annotations")) or {}
    tenant, client_id, scope = (annotations.get(k) for k in (ENTRA_TENANT, ENTRA_CLIENT_ID, ENTRA_SCOPE))
    if tenant and client_id and scope:
        return str(tenant), str(client_id), str(scope)
    return None
