"""A local fake of Azure Resource Manager, the ACR token endpoint and the App Service managed-identity
token endpoint, served over HTTPS on 127.0.0.1 with a throw-away CA.

Why a fake: ARM cannot exist here. It serves the real response shapes of the api-versions the installed
SDKs send (containerservice 2026-08-01, containerregistry 2025-11-01, subscriptions 2022-12-01,
authorization 2022-04-01) and does not insist on a version. The tests drive it through the real SDK
clients and the real DefaultAzureCredential (IDENTITY_ENDPOINT/IDENTITY_HEADER → App Service managed
identity), trusting the CA through SSL_CERT_FILE / REQUESTS_CA_BUNDLE like any corporate proxy CA.

Behaviours the tests switch on: page size (nextLink paging), 429 with Retry-After for the first N
requests of a path, 401 or 403 for one subscription, and a request log with timestamps.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from aiohttp import web

IDENTITY_HEADER = "fake-identity-header-secret"
AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
AZURE_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


# ---------------------------------------------------------------------------------------------- TLS
@dataclass(frozen=True)
class LocalCA:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_local_ca(directory: Path) -> LocalCA:
    """A CA and a server certificate for 127.0.0.1 / localhost: the sandbox's own (a local test server too)."""
    from aksmcp_tui.sandbox.apiserver.tls import ensure_certificates

    return LocalCA(*ensure_certificates(directory))


# ---------------------------------------------------------------------------------------------- data
def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def fake_jwt(claims: dict[str, Any]) -> str:
    """JWT-shaped (header.payload.signature) so clients that read claims (tid, oid) can; unsigned."""
    return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}.c2ln"


@dataclass
class FakeCluster:
    subscription_id: str
    resource_group: str
    name: str
    location: str = "westeurope"
    version: str = "1.32.4"
    power: str = "Running"
    provisioning: str = "Succeeded"
    entra: bool = False
    azure_rbac: bool = False
    private: bool = False
    local_accounts: bool = True
    pools: list[tuple[str, int, str]] = field(default_factory=lambda: [("nodepool1", 2, "1.32.4")])
    kubelet_object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    kubelet_client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    server: str = ""  # API server URL written into the kubeconfigs (default: a made-up FQDN)
    ca_data: str = ""  # base64 PEM of the API server's CA (default: a placeholder)

    @property
    def id(self) -> str:
        # ARM writes "resourcegroups" in lower case in ids, the SDK sends "resourceGroups"
        return (
            f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{self.name}"
        )

    @property
    def fqdn(self) -> str:
        if self.server:  # a cluster served locally: its kubeconfig's host, as on AKS
            from urllib.parse import urlparse

            return urlparse(self.server).hostname or ""
        return f"{self.name}-dns-abc123.hcp.{self.location}.azmk8s.io"

    def to_json(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningState": self.provisioning,
            "powerState": {"code": self.power},
            "kubernetesVersion": self.version,
            "currentKubernetesVersion": self.version,
            "dnsPrefix": f"{self.name}-dns",
            "nodeResourceGroup": f"MC_{self.resource_group}_{self.name}_{self.location}",
            "enableRBAC": True,
            "disableLocalAccounts": not self.local_accounts,
            "agentPoolProfiles": [
                {
                    "name": name,
                    "count": count,
                    "vmSize": "Standard_D2s_v5",
                    "osType": "Linux",
                    "mode": "System" if index == 0 else "User",
                    "orchestratorVersion": version,
                    "currentOrchestratorVersion": version,
                    "powerState": {"code": self.power},
                    "provisioningState": "Succeeded",
                }
                for index, (name, count, version) in enumerate(self.pools)
            ],
            "apiServerAccessProfile": {"enablePrivateCluster": self.private},
            "identityProfile": {
                "kubeletidentity": {
                    "resourceId": f"/subscriptions/{self.subscription_id}/resourcegroups/MC_{self.resource_group}"
                    f"_{self.name}_{self.location}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                    f"{self.name}-agentpool",
                    "clientId": self.kubelet_client_id,
                    "objectId": self.kubelet_object_id,
                }
            },
        }
        if self.private:
            props["privateFQDN"] = self.fqdn.replace(".hcp.", ".privatelink.")
        else:
            props["fqdn"] = self.fqdn
        if self.entra:
            props["aadProfile"] = {
                "managed": True,
                "enableAzureRBAC": self.azure_rbac,
                "tenantId": "11111111-1111-1111-1111-111111111111",
            }
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.ContainerService/ManagedClusters",
            "location": self.location,
            "tags": {},
            "sku": {"name": "Base", "tier": "Free"},
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.uuid4()), "tenantId": "t"},
            "properties": props,
        }

    def kubeconfig(self, admin: bool, exec_format: bool) -> dict[str, Any]:
        """The kubeconfig ARM returns: what `az aks get-credentials` writes."""
        server = self.server or f"https://{self.fqdn}:443"
        ca = (
            self.ca_data or base64.b64encode(b"-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n").decode()
        )
        kind = "clusterAdmin" if admin else "clusterUser"
        user_name = f"{kind}_{self.resource_group}_{self.name}"
        user: dict[str, Any]
        if self.entra and not admin:
            args = ["get-token", "--environment", "AzurePublicCloud", "--server-id", AKS_SERVER_ID]
            args += ["--client-id", AZURE_CLI_CLIENT_ID, "--tenant-id", "11111111-1111-1111-1111-111111111111"]
            args += ["--login", "devicecode"]
            user = {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "args": args,
                    "command": "kubelogin",
                    "env": None,
                    "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled "
                    "cluster.\n\nTo learn more, please go to https://aka.ms/aks/kubelogin\n",
                    "provideClusterInfo": False,
                }
            }
        else:
            user = {"token": f"{kind}-token-{self.name}"}
        context = self.name + ("-admin" if admin else "")
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {"certificate-authority-data": ca, "server": server}}],
            "contexts": [{"name": context, "context": {"cluster": self.name, "user": user_name}}],
            "current-context": context,
            "preferences": {},
            "users": [{"name": user_name, "user": user}],
        }


@dataclass
class FakeRegistry:
    subscription_id: str
    resource_group: str
    name: str
    suffix: str = ".azurecr.io"  # .azurecr.cn, .azurecr.us in the sovereign clouds

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{self.name}"
        )

    @property
    def login_server(self) -> str:
        return f"{self.name}{self.suffix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.ContainerRegistry/registries",
            "location": "westeurope",
            "tags": {},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {
                "loginServer": self.login_server,
                "creationDate": "2026-01-01T00:00:00Z",
                "provisioningState": "Succeeded",
                "adminUserEnabled": False,
                "publicNetworkAccess": "Enabled",
            },
        }


@dataclass
class RoleAssignment:
    scope: str
    principal_id: str
    role_guid: str
    subscription_id: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.scope}/providers/Microsoft.Authorization/roleAssignments/{self.id}",
            "name": self.id,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{self.role_guid}",
                "principalId": self.principal_id,
                "principalType": "ServicePrincipal",
                "scope": self.scope,
            },
        }


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    status: int
    at: float  # time.monotonic()
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeAzureState:
    tenant_id: str = "11111111-1111-1111-1111-111111111111"
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[FakeCluster] = field(default_factory=list)
    registries: list[FakeRegistry] = field(default_factory=list)
    role_assignments: list[RoleAssignment] = field(default_factory=list)
    page_size: int = 50
    # subscription id -> (status, code, message) answered to every request under that subscription
    failing: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    # path regex -> how many more 429s to answer, and the Retry-After seconds
    throttle: dict[str, list[int]] = field(default_factory=dict)
    tokens_issued: int = 0


def _sub_json(sub_id: str, name: str, tenant: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub_id}",
        "subscriptionId": sub_id,
        "displayName": name,
        "state": "Enabled",
        "tenantId": tenant,
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01"},
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
    }


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers=headers)


class FakeAzure:
    """The fake, served from its own thread and loop (so sync CLI runs and Pilot tests can both use it)."""

    def __init__(self, directory: Path) -> None:
        self.ca = make_local_ca(directory / "tls")
        self.state = FakeAzureState()
        self.log: list[Logged] = []
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-arm", daemon=True)

    # -------------------------------------------------------------- life cycle
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}/msi/token"

    @property
    def acr_endpoint(self) -> str:
        return f"{self.url}/acr"

    def __enter__(self) -> FakeAzure:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the fake ARM did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from aksmcp_tui.sandbox.apiserver.tls import server_context

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        context = server_context(self.ca.cert_file, self.ca.key_file)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        await self._stop.wait()
        await self._runner.cleanup()

    # -------------------------------------------------------------- test helpers
    def reset(self) -> FakeAzureState:
        with self._lock:
            self.state = FakeAzureState()
            self.log.clear()
        return self.state

    def add_subscription(self, sub_id: str, name: str, tenant: str | None = None) -> None:
        self.state.subscriptions.append(_sub_json(sub_id, name, tenant or self.state.tenant_id))

    def requests(self, pattern: str, method: str | None = None) -> list[Logged]:
        with self._lock:
            return [
                r
                for r in self.log
                if re.search(pattern, r.path, re.IGNORECASE) and (method is None or r.method == method)
            ]

    # -------------------------------------------------------------- routing
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, str] = {}
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in parse_qs(await request.text()).items()}
        response = await self._route(request, form)
        with self._lock:
            self.log.append(
                Logged(
                    request.method,
                    request.path,
                    dict(request.query),
                    response.status,
                    time.monotonic(),
                    dict(request.headers),
                    form,
                )
            )
        return response

    async def _route(self, request: web.Request, form: dict[str, str]) -> web.StreamResponse:
        path = request.path
        if path == "/msi/token":
            return self._msi_token(request)
        if path == "/acr/oauth2/exchange" and request.method == "POST":
            return self._acr_exchange(form)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        for pattern, left in self.state.throttle.items():
            if left[0] > 0 and re.search(pattern, path, re.IGNORECASE):
                left[0] -= 1
                return _error(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type - "
                    "Read_ObservationWindow_00:05:00.",
                    headers={"Retry-After": str(left[1])},
                )
        if path == "/tenants":
            return self._page(
                request,
                [
                    {
                        "id": f"/tenants/{self.state.tenant_id}",
                        "tenantId": self.state.tenant_id,
                        "tenantCategory": "Home",
                        "displayName": "Contoso",
                        "defaultDomain": "contoso.onmicrosoft.com",
                    }
                ],
            )
        if path == "/subscriptions":
            return self._page(request, self.state.subscriptions)
        match = re.match(r"^/subscriptions/([^/]+)(/.*)?$", path, re.IGNORECASE)
        if match is None:
            return _error(404, "NotFound", f"no route for {path}")
        sub, rest = match.group(1), match.group(2) or ""
        if sub in self.state.failing:
            status, code, message = self.state.failing[sub]
            return _error(status, code, message)
        if not any(s["subscriptionId"] == sub for s in self.state.subscriptions):
            return _error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return self._subscription_route(request, sub, rest)

    def _subscription_route(self, request: web.Request, sub: str, rest: str) -> web.StreamResponse:
        ci = re.IGNORECASE
        if re.fullmatch(r"/providers/Microsoft\.ContainerService/managedClusters", rest, ci):
            return self._page(request, [c.to_json() for c in self.state.clusters if c.subscription_id == sub])
        if re.fullmatch(r"/providers/Microsoft\.ContainerRegistry/registries", rest, ci):
            return self._page(request, [r.to_json() for r in self.state.registries if r.subscription_id == sub])
        m = re.fullmatch(
            r"/resourceGroups/([^/]+)/providers/Microsoft\.ContainerService/managedClusters/([^/]+)(/[^/]+)?", rest, ci
        )
        if m is not None:
            rg, name, action = m.group(1), m.group(2), (m.group(3) or "").lstrip("/")
            cluster = next(
                (
                    c
                    for c in self.state.clusters
                    if c.subscription_id == sub and c.resource_group.lower() == rg.lower() and c.name == name
                ),
                None,
            )
            if cluster is None:
                return _error(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.ContainerService/managedClusters/{name}' under resource group "
                    f"'{rg}' was not found.",
                )
            if not action and request.method == "GET":
                return web.json_response(cluster.to_json())
            if action in ("listClusterUserCredential", "listClusterAdminCredential") and request.method == "POST":
                admin = action == "listClusterAdminCredential"
                if admin and not cluster.local_accounts:
                    return _error(
                        400,
                        "BadRequest",
                        "Getting static credential is not allowed because this cluster is set to disable local "
                        "accounts.",
                    )
                exec_format = request.query.get("format") == "exec"
                text = yaml.safe_dump(cluster.kubeconfig(admin, exec_format))
                value = base64.b64encode(text.encode()).decode()
                return web.json_response(
                    {"kubeconfigs": [{"name": "clusterAdmin" if admin else "clusterUser", "value": value}]}
                )
        if "/providers/Microsoft.Authorization/roleAssignments" in rest:
            return self._role_assignments(request, sub, rest)
        return _error(404, "NotFound", f"no route for {request.path}")

    def _role_assignments(self, request: web.Request, sub: str, rest: str) -> web.StreamResponse:
        scope = f"/subscriptions/{sub}" + rest.split("/providers/Microsoft.Authorization/roleAssignments")[0]
        flt = request.query.get("$filter", "")
        principal = re.search(r"principalId eq '([^']+)'", flt)
        at_scope = "atScope()" in flt
        found = []
        for item in self.state.role_assignments:
            a, s = item.scope.lower().rstrip("/"), scope.lower().rstrip("/")
            # ARM semantics: assignments at, above (inherited) and below the scope; atScope(): at and above
            related = s.startswith(a) or (not at_scope and a.startswith(s))
            if related and (principal is None or principal.group(1) == item.principal_id):
                found.append(item.to_json())
        return self._page(request, found)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        """ARM paging: `value` and an absolute `nextLink` (with $skiptoken) while more remain."""
        start = int(request.query.get("$skiptoken", "0"))
        size = self.state.page_size
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            query = dict(request.query)
            query["$skiptoken"] = str(start + size)
            body["nextLink"] = str(request.url.with_query(query))
        return web.json_response(body)

    def _msi_token(self, request: web.Request) -> web.Response:
        """App Service managed identity (api-version 2019-08-01): GET with X-IDENTITY-HEADER."""
        if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return web.json_response({"statusCode": 400, "message": "missing or wrong X-IDENTITY-HEADER"}, status=400)
        resource = request.query.get("resource", "")
        self.state.tokens_issued += 1
        expires = int(time.time()) + 3600
        token = fake_jwt({"aud": resource, "tid": self.state.tenant_id, "oid": "mi-object-id", "exp": expires})
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(expires),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": "mi-client-id",
            }
        )

    def _acr_exchange(self, form: dict[str, str]) -> web.Response:
        """ACR `/oauth2/exchange`: an Entra access token for an ACR refresh token."""
        if form.get("grant_type") != "access_token" or not form.get("access_token"):
            return web.json_response({"errors": [{"code": "UNSUPPORTED", "message": "grant_type"}]}, status=400)
        service = form.get("service", "")
        if not any(r.login_server == service for r in self.state.registries):
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": f"unknown {service}"}]}, status=401
            )
        token = fake_jwt({"aud": service, "grant_type": "refresh_token", "tenant": form.get("tenant", "")})
        return web.json_response({"refresh_token": token})
