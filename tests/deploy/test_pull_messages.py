"""The words of a refused pull, from the sandbox node to the diagnosis (the real pulls are in
test_pull_diagnosis_docker.py; these pin the cases a loopback registry cannot produce)."""

from __future__ import annotations

import pytest

from aksmcp_tui.core.deploy.diagnose import image_pull
from aksmcp_tui.sandbox.node.docker_runtime import MIRRORS_ENV, mirrored, pull_error

POD = {"metadata": {"name": "web-1"}}


def test_mirror_map_replaces_only_the_mapped_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRRORS_ENV, " team.azurecr.io=127.0.0.1:5000 , bad-entry, other.io=")
    assert mirrored("team.azurecr.io/tools/x:v1") == "127.0.0.1:5000/tools/x:v1"
    assert mirrored("elsewhere.azurecr.io/tools/x:v1") == "elsewhere.azurecr.io/tools/x:v1"
    assert mirrored("other.io/x:v1") == "other.io/x:v1"  # an empty mirror is no mirror
    assert mirrored("team.azurecr.io") == "team.azurecr.io"


def test_only_a_401_is_reworded_as_the_kubelet_says_it() -> None:
    daemon = 'Error response from daemon: Head "http://127.0.0.1:5000/v2/x/manifests/v1": no basic auth credentials'
    assert pull_error("127.0.0.1:5000/x:v1", daemon) == (
        f'failed to pull and unpack image "127.0.0.1:5000/x:v1": failed to authorize: 401 Unauthorized ({daemon})'
    )
    missing = "Error response from daemon: manifest for 127.0.0.1:5000/x:v9 not found: manifest unknown"
    assert pull_error("127.0.0.1:5000/x:v9", missing) == f'failed to pull image "127.0.0.1:5000/x:v9": {missing}'


def test_docker_hub_denied_is_a_credentials_diagnosis_without_attach_acr() -> None:
    message = "pull access denied for team/private, repository does not exist or may require 'docker login'"
    diagnosis = image_pull(POD, "docker.io/team/private:v1", message)
    assert diagnosis.summary.startswith("the cluster cannot authenticate to the registry docker.io")
    assert "imagePullSecrets" in diagnosis.fix and "--docker-server=docker.io" in diagnosis.fix
    assert diagnosis.details == (f"pod web-1: {message}",)


def test_acr_refusal_names_attach_acr_and_check_pull() -> None:
    diagnosis = image_pull(POD, "contoso.azurecr.io/mcp/web@sha256:" + "a" * 64, "401 Unauthorized")
    assert "not attached" in diagnosis.summary
    assert "--attach-acr contoso" in diagnosis.fix and "aksmcp acr check-pull" in diagnosis.fix
