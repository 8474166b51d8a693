"""`get credentials`: the kubeconfig from ARM merged as a new context, backup first, 0600, no clobber."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from aksmcp_tui.core.azure import AzureError, AzureSession
from aksmcp_tui.core.azure.credentials import KUBELOGIN_INSTALL, KubeconfigClash, get_credentials
from aksmcp_tui.core.kubeconfig import load_contexts

from .conftest import SUB_A, AzureEnv, seed_world
from .fake_arm import AKS_SERVER_ID

EXISTING: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "preferences": {"colors": True},
    "current-context": "kind-dev",
    "clusters": [
        {"name": "kind-dev", "cluster": {"server": "https://127.0.0.1:6443"}},
        {"name": "aks-dev", "cluster": {"server": "https://old-aks-dev.example:443"}},
    ],
    "users": [{"name": "kind-dev", "user": {"token": "keep-me"}}],
    "contexts": [
        {"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "kind-dev", "namespace": "tools"}},
        {"name": "staging", "context": {"cluster": "kind-dev", "user": "kind-dev"}},
    ],
}


def _write(path: Path, data: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data)
    path.write_text(text)
    path.chmod(0o644)  # the merge tightens it
    return text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


async def _cluster(session: AzureSession, name: str, rg: str) -> Any:
    return await session.find_cluster(name, rg)


async def test_merge_into_a_file_with_contexts_keeps_everything_else(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    kubeconfig = azure_env.kubeconfig
    original = _write(kubeconfig, {**EXISTING, "clusters": EXISTING["clusters"][:1]})
    async with AzureSession() as session:
        cluster = await _cluster(session, "aks-dev", "rg-dev")
        result = await get_credentials(session, cluster)

    assert result.kubeconfig == kubeconfig and result.context == "aks-dev" and not result.unchanged
    merged = yaml.safe_load(kubeconfig.read_text())
    before = yaml.safe_load(original)
    # every entry that was there is there, unchanged; current-context untouched
    for section in ("clusters", "users", "contexts"):
        for entry in before[section]:
            assert _named(merged[section], entry["name"]) == entry
    assert merged["current-context"] == "kind-dev" and merged["preferences"] == {"colors": True}
    # the new context, its cluster and user (names as az writes them)
    context = _named(merged["contexts"], "aks-dev")["context"]
    assert context == {"cluster": "aks-dev", "user": "clusterUser_rg-dev_aks-dev"}
    server = _named(merged["clusters"], "aks-dev")["cluster"]["server"]
    assert server == "https://aks-dev-dns-abc123.hcp.westeurope.azmk8s.io:443"
    assert _named(merged["users"], "clusterUser_rg-dev_aks-dev")["user"] == {"token": "clusterUser-token-aks-dev"}
    # private file, backup of the previous content, also private
    assert _mode(kubeconfig) == 0o600
    assert result.backup is not None and result.backup.read_text() == original and _mode(result.backup) == 0o600
    assert any("kubectl config use-context aks-dev" in note for note in result.notes)
    # the merged file reads as a kubeconfig with all four contexts
    assert {c.name for c in load_contexts(str(kubeconfig))} == {"kind-dev", "staging", "aks-dev"}


async def test_a_clash_changes_nothing_and_overwrite_or_another_name_resolves_it(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    kubeconfig = azure_env.kubeconfig
    original = _write(kubeconfig, EXISTING)  # has a different cluster named aks-dev
    async with AzureSession() as session:
        cluster = await _cluster(session, "aks-dev", "rg-dev")
        with pytest.raises(KubeconfigClash) as raised:
            await get_credentials(session, cluster)
        message = str(raised.value)
        assert "cluster 'aks-dev'" in message and "--overwrite" in message and "nothing was changed" in message
        assert kubeconfig.read_text() == original
        assert list(kubeconfig.parent.glob("*aksmcp-backup*")) == []

        renamed = await get_credentials(session, cluster, context_name="aks-dev-2")
        merged = yaml.safe_load(kubeconfig.read_text())
        assert _named(merged["clusters"], "aks-dev") == EXISTING["clusters"][1]  # the old one kept
        assert _named(merged["contexts"], "aks-dev-2")["context"]["cluster"] == "aks-dev-2"
        assert renamed.backup is not None

        replaced = await get_credentials(session, cluster, overwrite=True)
        merged = yaml.safe_load(kubeconfig.read_text())
        assert replaced.replaced == ("cluster aks-dev",)
        assert "azmk8s.io" in _named(merged["clusters"], "aks-dev")["cluster"]["server"]
        assert _named(merged["contexts"], "kind-dev") == EXISTING["contexts"][0]

        again = await get_credentials(session, cluster)  # the same entries: nothing to write
        assert again.unchanged and again.backup is None


async def test_entra_cluster_gets_kubelogin_exec_with_the_login_mode_of_the_credential(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    async with AzureSession() as session:
        cluster = await _cluster(session, "aks-entra", "rg-dev")
        result = await get_credentials(session, cluster)  # no file yet: created, current context set
    config = yaml.safe_load(azure_env.kubeconfig.read_text())
    assert config["current-context"] == "aks-entra" and _mode(azure_env.kubeconfig) == 0o600
    user = config["users"][0]["user"]
    assert user["exec"]["command"] == "kubelogin"
    # signed in with a managed identity, so kubelogin uses one too
    assert user["exec"]["args"] == ["get-token", "--login", "msi", "--server-id", AKS_SERVER_ID]
    assert result.login_mode == "msi"
    assert KUBELOGIN_INSTALL in result.notes  # PATH has no kubelogin
    assert any("private cluster" in note for note in result.notes)


async def test_kubelogin_on_path_means_no_install_note(azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_world(azure_env)
    bin_dir = azure_env.home / "bin"
    bin_dir.mkdir(parents=True)
    kubelogin = bin_dir / "kubelogin"
    kubelogin.write_text("#!/bin/sh\nexit 0\n")
    kubelogin.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    target = azure_env.home / "other" / "kubeconfig"
    async with AzureSession() as session:
        cluster = await _cluster(session, "aks-entra", "rg-dev")
        result = await get_credentials(session, cluster, kubeconfig=str(target))
    assert result.kubeconfig == target and target.is_file()
    assert KUBELOGIN_INSTALL not in result.notes
    assert not azure_env.kubeconfig.exists()  # only the chosen file was written


async def test_admin_credentials_and_a_cluster_without_local_accounts(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    async with AzureSession() as session:
        entra = await _cluster(session, "aks-entra", "rg-dev")
        with pytest.raises(AzureError, match="local accounts disabled"):
            await get_credentials(session, entra, admin=True)
        stopped = await session.find_cluster("aks-stopped", "rg-ops", SUB_A)
        result = await get_credentials(session, stopped, admin=True)
    assert result.context == "aks-stopped-admin"
    config = yaml.safe_load(azure_env.kubeconfig.read_text())
    assert config["users"][0]["user"] == {"token": "clusterAdmin-token-aks-stopped"}
    assert any("is stopped" in note and "az aks start" in note for note in result.notes)
    assert azure_env.fake.requests("listClusterAdminCredential$", "POST")


async def test_kubeconfig_env_first_file_is_the_target(azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_world(azure_env)
    first, second = azure_env.home / "a.yaml", azure_env.home / "b.yaml"
    _write(second, EXISTING)
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    async with AzureSession() as session:
        result = await get_credentials(session, await _cluster(session, "aks-prod", "rg-prod"))
    assert result.kubeconfig == first
    assert yaml.safe_load(second.read_text()) == EXISTING


async def test_a_broken_kubeconfig_is_left_alone(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    azure_env.kubeconfig.parent.mkdir(parents=True)
    azure_env.kubeconfig.write_text("clusters: [unclosed\n")
    async with AzureSession() as session:
        with pytest.raises(AzureError, match="not valid YAML, so nothing was merged"):
            await get_credentials(session, await _cluster(session, "aks-prod", "rg-prod"))
    assert azure_env.kubeconfig.read_text() == "clusters: [unclosed\n"
