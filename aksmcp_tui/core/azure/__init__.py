"""Azure without the az CLI: subscriptions → AKS clusters, cluster credentials, ACR.

- `AzureSession` (session.py): the credential (DefaultAzureCredential, made lazily) and the listings,
  all pages, 429 honoured by the SDK's retry policy, problems per subscription, a brief cache.
- `fetch_credentials` / `merge_kubeconfig` (credentials.py): a cluster's kubeconfig merged as a new
  context (backup first, 0600, no clobber), kubelogin exec format for Entra ID clusters.
- `acr_docker_credentials`, `check_pull` (acr.py): docker login for ACR via /oauth2/exchange; can the
  kubelet identity pull (AcrPull) and the exact `az` fix when not.
- `resolve_cloud` (cloud.py): public and sovereign clouds, `AKSMCP_ARM_ENDPOINT`.

Imports of the Azure SDKs happen inside the functions: this package is cheap to import.
"""

from __future__ import annotations

from aksmcp_tui.core.azure.cloud import AzureCloud, UnknownCloud, resolve_cloud
from aksmcp_tui.core.azure.credential import SIGN_IN_HELP, AzureSignInRequired
from aksmcp_tui.core.azure.models import (
    AksCluster,
    AksListing,
    AzureProblem,
    NodePool,
    Registry,
    RegistryListing,
    Subscription,
    Tenant,
)
from aksmcp_tui.core.azure.session import AzureError, AzureSession

__all__ = [
    "SIGN_IN_HELP",
    "AksCluster",
    "AksListing",
    "AzureCloud",
    "AzureError",
    "AzureProblem",
    "AzureSession",
    "AzureSignInRequired",
    "NodePool",
    "Registry",
    "RegistryListing",
    "Subscription",
    "Tenant",
    "UnknownCloud",
    "resolve_cloud",
]
