"""The headless verbs: `aksmcp aks ls|credentials`, `aksmcp acr ls|check-pull` (exact JSON fields, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from aksmcp_tui.cli import main

from .conftest import SUB_A, SUB_B, SUB_C, AzureEnv, point_azure_at, seed_world
from .fake_arm import ACR_PULL_ROLE, RoleAssignment

CLUSTER_FIELDS = {
    "name",
    "resource_group",
    "subscription_id",
    "location",
    "kubernetes_version",
    "power_state",
    "provisioning_state",
    "entra_id",
    "azure_rbac",
    "private",
    "node_pools",
}


def test_aks_ls_json_has_the_fields_and_problems(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    assert main(["aks", "ls", "-o", "json"]) == 0  # Locked answered 403, the others answered
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"clusters", "problems"}
    by_name = {c["name"]: c for c in document["clusters"]}
    assert set(by_name) == {"aks-dev", "aks-entra", "aks-stopped", "aks-prod"}
    for cluster in document["clusters"]:
        assert set(cluster) >= CLUSTER_FIELDS
    assert by_name["aks-entra"]["entra_id"] is True and by_name["aks-entra"]["azure_rbac"] is True
    assert by_name["aks-entra"]["private"] is True
    assert by_name["aks-stopped"]["power_state"] == "Stopped"
    assert by_name["aks-dev"]["node_pools"][1] == {
        "name": "user",
        "count": 3,
        "vm_size": "Standard_D2s_v5",
        "mode": "User",
        "kubernetes_version": "1.31.9",
        "power_state": "Running",
    }
    assert by_name["aks-prod"]["subscription_id"] == SUB_B and by_name["aks-prod"]["resource_group"] == "rg-prod"
    (problem,) = document["problems"]
    assert problem["subscription_id"] == SUB_C and "AuthorizationFailed" in problem["message"]


def test_aks_ls_table_and_one_subscription(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    assert main(["aks", "ls", "--subscription", "Dev"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "RESOURCE", "GROUP"]
    assert [line.split()[0] for line in lines[1:]] == ["aks-dev", "aks-entra", "aks-stopped"]
    assert "entra+azure-rbac" in out.out and "private" in out.out and "system:1, user:3" in out.out
    assert out.err == ""


def test_aks_ls_exit_1_when_no_subscription_answered(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    azure_env.state.failing[SUB_A] = (401, "ExpiredAuthenticationToken", "The access token expiry has passed.")
    azure_env.state.failing[SUB_B] = (403, "AuthorizationFailed", "no")
    assert main(["aks", "ls"]) == 1
    err = capsys.readouterr().err
    assert f"subscription {SUB_A}: token expired" in err and f"subscription {SUB_B}: no access" in err


def test_aks_ls_without_sign_in(
    azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    point_azure_at(monkeypatch, azure_env.fake, signed_in=False)
    assert main(["aks", "ls", "-o", "json"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "az login" in out.err and "Managed identity" in out.err


def test_aks_credentials_merges_then_refuses_a_clash(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    kubeconfig = azure_env.home / "kc.yaml"
    args = ["aks", "credentials", "aks-dev", "-g", "rg-dev", "--kubeconfig", str(kubeconfig)]
    assert main(args) == 0
    assert f"merged context aks-dev into {kubeconfig}" in capsys.readouterr().out
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://elsewhere:443"  # now a different cluster of that name
    kubeconfig.write_text(yaml.safe_dump(config))
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "already has a different cluster 'aks-dev'" in err and "--overwrite" in err
    assert main([*args, "--overwrite", "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replaced"] == ["cluster aks-dev"] and result["backup"]


def test_aks_credentials_of_an_unknown_cluster(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    assert main(["aks", "credentials", "ghost", "-g", "rg-dev", "--subscription", SUB_A]) == 1
    assert "no AKS cluster 'ghost' in resource group 'rg-dev'" in capsys.readouterr().err


def test_acr_ls_and_check_pull(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    seed_world(azure_env)
    assert main(["acr", "ls", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["login_server"] for r in document["registries"]] == ["myacr.azurecr.io"]
    assert [p["subscription_id"] for p in document["problems"]] == [SUB_C]

    assert main(["acr", "check-pull", "aks-dev", "-g", "rg-dev", "--registry", "myacr.azurecr.io"]) == 1
    out = capsys.readouterr().out
    assert "cannot pull from myacr.azurecr.io" in out
    assert "az aks update --name aks-dev --resource-group rg-dev" in out and "--attach-acr" in out

    registry, dev = azure_env.state.registries[0], azure_env.state.clusters[0]
    azure_env.state.role_assignments.append(RoleAssignment(registry.id, dev.kubelet_object_id, ACR_PULL_ROLE, SUB_A))
    assert main(["acr", "check-pull", "aks-dev", "-g", "rg-dev", "--registry", "myacr"]) == 0
    assert "can pull from myacr.azurecr.io" in capsys.readouterr().out

    assert main(["acr", "check-pull", "aks-dev", "-g", "rg-dev", "--registry", "docker.io"]) == 2
    assert "not an Azure Container Registry" in capsys.readouterr().err


def test_unknown_cloud_is_a_usage_error(azure_env: AzureEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aks", "ls", "--cloud", "mars"]) == 2
    assert "unknown Azure cloud 'mars'" in capsys.readouterr().err


def test_help_does_not_import_the_azure_sdk() -> None:
    code = (
        "import sys\nfrom aksmcp_tui.cli import build_parser\nbuild_parser()\n"
        "print(any(m.startswith(('azure.', 'aksmcp_tui.core.azure')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_acr_login_runs_docker_login_with_the_token_on_stdin(
    azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_world(azure_env)
    # a stand-in docker CLI (the real one would dial myacr.azurecr.io): records its argv and stdin
    bin_dir = azure_env.home / "bin"
    bin_dir.mkdir(parents=True)
    record = azure_env.home / "docker.txt"
    docker = bin_dir / "docker"
    docker.write_text(f'#!/bin/sh\necho "$*" > "{record}"\ncat >> "{record}"\necho "Login Succeeded"\n')
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert main(["acr", "login", "myacr"]) == 0
    assert "logged in to myacr.azurecr.io" in capsys.readouterr().out
    argv, token = record.read_text().splitlines()
    assert argv == "login myacr.azurecr.io --username 00000000-0000-0000-0000-000000000000 --password-stdin"
    assert token.count(".") == 2 and token not in argv  # the refresh token, on stdin only

    assert main(["acr", "login", "myacr.azurecr.io", "--expose-token"]) == 0
    exposed = json.loads(capsys.readouterr().out)
    assert (
        exposed["loginServer"] == "myacr.azurecr.io" and exposed["username"] == "00000000-0000-0000-0000-000000000000"
    )
    assert exposed["accessToken"].count(".") == 2

    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["acr", "login", "myacr"]) == 1
    assert "docker CLI is not on PATH" in capsys.readouterr().err
