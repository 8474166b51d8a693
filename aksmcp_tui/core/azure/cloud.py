"""Which Azure cloud: endpoints of the public and sovereign clouds, and the overrides.

`--cloud` (or `AZURE_CLOUD`) picks the cloud; `AKSMCP_ARM_ENDPOINT` replaces the Resource Manager
endpoint only (air-gapped mirrors and the tests); `AKSMCP_ACR_ENDPOINT` replaces the base URL of the
ACR token endpoint (`/oauth2/exchange`) for the same reasons. Token audiences stay the cloud's own:
a token is asked for `https://management.azure.com/.default` even when ARM is reached elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AzureCloud:
    name: str  # as `az cloud list` spells it
    arm_endpoint: str  # no trailing slash
    arm_audience: str  # token scope is arm_audience + "/.default"
    authority_host: str  # Entra ID login host
    acr_suffixes: tuple[str, ...]  # registry login servers end in one of these
    kubelogin_environment: str  # kubelogin --environment
    acr_endpoint: str | None = None  # override of https://<login server> for /oauth2/exchange

    @property
    def arm_scope(self) -> str:
        return f"{self.arm_audience}/.default"

    def is_registry(self, host: str) -> bool:
        host = host.lower()
        return any(host.endswith(suffix) for suffix in self.acr_suffixes)


CLOUDS: dict[str, AzureCloud] = {
    "AzureCloud": AzureCloud(
        "AzureCloud",
        "https://management.azure.com",
        "https://management.azure.com",
        "login.microsoftonline.com",
        (".azurecr.io",),
        "AzurePublicCloud",
    ),
    "AzureChinaCloud": AzureCloud(
        "AzureChinaCloud",
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn",
        "login.chinacloudapi.cn",
        (".azurecr.cn",),
        "AzureChinaCloud",
    ),
    "AzureUSGovernment": AzureCloud(
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net",
        "login.microsoftonline.us",
        (".azurecr.us",),
        "AzureUSGovernmentCloud",
    ),
}

# names people type, mapped to `az cloud list` names
_ALIASES = {
    "public": "AzureCloud",
    "azurepubliccloud": "AzureCloud",
    "azurecloud": "AzureCloud",
    "china": "AzureChinaCloud",
    "azurechinacloud": "AzureChinaCloud",
    "usgov": "AzureUSGovernment",
    "azureusgovernment": "AzureUSGovernment",
    "azureusgovernmentcloud": "AzureUSGovernment",
}


def cloud_for_registry(host: str) -> AzureCloud:
    """The cloud a registry belongs to, by its suffix (NAME.azurecr.cn is China's); else the chosen cloud."""
    host = host.lower().split("/", 1)[0]
    for name, cloud in CLOUDS.items():
        if cloud.is_registry(host):
            return resolve_cloud(name)
    return resolve_cloud()


def ca_bundle() -> str | None:
    """The CA bundle named by the standard variables, for the SDK transport and our own HTTPS calls.

    Why explicit: aiohttp builds its default SSL context once, at import, so a bundle named later (or a
    corporate proxy CA) would be ignored; azure-core takes it per client as `connection_verify`.
    """
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = os.environ.get(var, "").strip()
        if value and os.path.isfile(value):
            return value
    return None


def transport_options() -> dict[str, object]:
    bundle = ca_bundle()
    return {"connection_verify": bundle} if bundle else {}


class UnknownCloud(ValueError):
    pass


def resolve_cloud(name: str | None = None) -> AzureCloud:
    """The cloud from `name`, else $AZURE_CLOUD, else public; then the endpoint overrides from the env."""
    wanted = name or os.environ.get("AZURE_CLOUD") or "AzureCloud"
    key = _ALIASES.get(wanted.lower().replace("-", "").replace("_", ""))
    if key is None:
        known = ", ".join(CLOUDS)
        raise UnknownCloud(f"unknown Azure cloud {wanted!r} (known: {known})")
    cloud = CLOUDS[key]
    arm = os.environ.get("AKSMCP_ARM_ENDPOINT", "").strip()
    if arm:
        cloud = replace(cloud, arm_endpoint=arm.rstrip("/"))
    acr = os.environ.get("AKSMCP_ACR_ENDPOINT", "").strip()
    if acr:
        cloud = replace(cloud, acr_endpoint=acr.rstrip("/"))
    return cloud
