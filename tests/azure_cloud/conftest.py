"""Fixtures of the Azure tests: one fake ARM per session (HTTPS on 127.0.0.1), per-test state and env.

`azure_env` points the real SDK and the real DefaultAzureCredential at the fake: AKSMCP_ARM_ENDPOINT and
AKSMCP_ACR_ENDPOINT at it, IDENTITY_ENDPOINT/IDENTITY_HEADER (App Service managed identity) at its token
endpoint, SSL_CERT_FILE/REQUESTS_CA_BUNDLE at its CA. The IMDS address is pointed at a closed loopback
port, and every socket connect is checked: a test that reaches beyond loopback fails.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .fake_arm import IDENTITY_HEADER, FakeAzure, FakeAzureState

SUB_A = "aaaaaaaa-0000-0000-0000-000000000001"
SUB_B = "bbbbbbbb-0000-0000-0000-000000000002"
SUB_C = "cccccccc-0000-0000-0000-000000000003"


@pytest.fixture(scope="session")
def fake_azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path_factory.mktemp("fake-arm")) as fake:
        yield fake


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AzureEnv:
    fake: FakeAzure
    state: FakeAzureState
    home: Path
    kubeconfig: Path
    outside: list[Any]  # connect attempts beyond loopback (must stay empty)


def isolate_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state"), ("XDG_RUNTIME_DIR", "run")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("HOME", str(home))


def point_azure_at(monkeypatch: pytest.MonkeyPatch, fake: FakeAzure, *, signed_in: bool = True) -> None:
    for var in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_USERNAME",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IDENTITY_SERVER_THUMBPRINT",
        "AZURE_CLOUD",
        "AZURE_TOKEN_CREDENTIALS",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AKSMCP_ARM_ENDPOINT", fake.url)
    monkeypatch.setenv("AKSMCP_ACR_ENDPOINT", fake.acr_endpoint)
    monkeypatch.setenv("SSL_CERT_FILE", str(fake.ca.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    # IMDS (169.254.169.254) must never be probed: its override points at a closed loopback port
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{_closed_port()}")
    # no `az`, `azd` or `pwsh` on PATH: the developer credentials in the chain find nothing
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    if signed_in:
        monkeypatch.setenv("IDENTITY_ENDPOINT", fake.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    else:
        monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
        monkeypatch.delenv("IDENTITY_HEADER", raising=False)


def guard_loopback(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and record) any TCP connect beyond loopback from this process while the test runs."""
    outside: list[Any] = []
    original = socket.socket.connect
    original_ex = socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        if not isinstance(address, tuple):
            return True  # unix sockets
        try:
            return ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            return address[0] == "localhost"

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            outside.append(address)
            raise ConnectionRefusedError(f"test guard: no traffic beyond loopback ({address!r})")
        original(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            outside.append(address)
            return 111
        return original_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return outside


@pytest.fixture
def azure_env(fake_azure: FakeAzure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEnv]:
    state = fake_azure.reset()
    home = tmp_path / "home"
    isolate_home(monkeypatch, home)
    kubeconfig = home / ".kube" / "config"
    monkeypatch.delenv("KUBECONFIG", raising=False)
    point_azure_at(monkeypatch, fake_azure)
    outside = guard_loopback(monkeypatch)
    env = AzureEnv(fake_azure, state, home, kubeconfig, outside)
    yield env
    assert not outside, f"a test tried to leave loopback: {outside}"


def seed_world(env: AzureEnv) -> None:
    """Three subscriptions: Dev (three clusters: plain, Entra ID + Azure RBAC + private, stopped), Prod (one
    cluster), Locked (403 on everything); one registry in Dev."""
    from .fake_arm import FakeCluster, FakeRegistry

    fake, state = env.fake, env.state
    fake.add_subscription(SUB_A, "Dev")
    fake.add_subscription(SUB_B, "Prod")
    fake.add_subscription(SUB_C, "Locked")
    state.clusters += [
        FakeCluster(SUB_A, "rg-dev", "aks-dev", pools=[("system", 1, "1.32.4"), ("user", 3, "1.31.9")]),
        FakeCluster(SUB_A, "rg-dev", "aks-entra", entra=True, azure_rbac=True, private=True, local_accounts=False),
        FakeCluster(SUB_A, "rg-ops", "aks-stopped", power="Stopped", version="1.30.2", pools=[("np", 0, "1.30.2")]),
        FakeCluster(SUB_B, "rg-prod", "aks-prod", location="northeurope"),
    ]
    state.registries.append(FakeRegistry(SUB_A, "rg-acr", "myacr"))
    state.failing[SUB_C] = (
        403,
        "AuthorizationFailed",
        f"The client 'mi-client-id' with object id 'mi-object-id' does not have authorization to perform action "
        f"'Microsoft.ContainerService/managedClusters/read' over scope '/subscriptions/{SUB_C}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials.",
    )
