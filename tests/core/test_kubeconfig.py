"""Kubeconfig resolution the way kubectl does it (compared with the real kubectl where it is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aksmcp_tui.core.kubeconfig import KubeconfigError, current_context, load_contexts, load_kubeconfig


def write(path: Path, data: object) -> str:
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(path)


def config(current: str | None, contexts: dict[str, tuple[str, str]], clusters: dict[str, str], users: dict) -> dict:
    doc: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"name": n, "context": {"cluster": c, "user": u}} for n, (c, u) in contexts.items()],
        "clusters": [{"name": n, "cluster": {"server": s}} for n, s in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()],
    }
    if current is not None:
        doc["current-context"] = current
    return doc


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[str, str]:
    first = write(
        tmp_path / "first",
        config(
            "other",
            {"aks1": ("c1", "u1"), "other": ("c2", "u1")},
            {"c1": "https://one:443", "c2": "https://two"},
            {"u1": {"token": "t"}},
        ),
    )
    second = write(
        tmp_path / "second",
        # redefines aks1 and c1 (must lose: first file wins) and sets another current-context
        config(
            "aks1",
            {"aks1": ("c9", "u9"), "extra": ("c1", "u9")},
            {"c1": "https://ignored", "c9": "https://nine"},
            {"u9": {"exec": {"command": "kubelogin", "apiVersion": "client.authentication.k8s.io/v1beta1"}}},
        ),
    )
    return first, second


def test_first_file_current_context_wins(two_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(two_files))
    assert current_context() == "other"
    by_name = {c.name: c for c in load_contexts()}
    assert list(by_name) == ["aks1", "other", "extra"]
    assert by_name["aks1"].cluster == "c1" and by_name["aks1"].server == "https://one:443"
    assert by_name["extra"].server == "https://one:443"  # cluster c1 from the first file
    assert by_name["extra"].auth_kind == "exec:kubelogin"
    assert by_name["other"].is_current and not by_name["aks1"].is_current
    assert by_name["extra"].source_file == Path(two_files[1])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_agrees_with_kubectl(two_files: tuple[str, str], tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": os.pathsep.join(two_files), "HOME": str(tmp_path)}
    kubectl = subprocess.run(["kubectl", "config", "current-context"], env=env, capture_output=True, text=True)
    assert kubectl.stdout.strip() == load_kubeconfig(os.pathsep.join(two_files)).current_context
    names = subprocess.run(["kubectl", "config", "get-contexts", "-o", "name"], env=env, capture_output=True, text=True)
    assert sorted(names.stdout.split()) == sorted(c.name for c in load_contexts(os.pathsep.join(two_files)))


def test_missing_files_in_env_are_skipped(
    two_files: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "nope"), "", two_files[1]]))
    assert current_context() == "aks1"
    assert {c.name for c in load_contexts()} == {"aks1", "extra"}


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="does not exist"):
        load_contexts(str(tmp_path / "nope"))


def test_default_location_missing_means_no_contexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_contexts() == []
    assert current_context() is None


def test_default_location_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    write(
        tmp_path / ".kube" / "config",
        config("a", {"a": ("c", "u")}, {"c": "https://c"}, {"u": {"client-certificate": "crt", "client-key": "key"}}),
    )
    [info] = load_contexts()
    assert info.name == "a" and info.is_current and info.auth_kind == "cert"


def test_broken_yaml_gives_a_plain_message(tmp_path: Path) -> None:
    path = write(tmp_path / "broken", "apiVersion: v1\ncontexts: [\n  - name: x\n")
    with pytest.raises(KubeconfigError) as err:
        load_contexts(path)
    assert str(broken := err.value).startswith(f"kubeconfig {path} is not valid YAML at line")
    assert "Traceback" not in str(broken)


def test_not_a_mapping_and_nameless_entries(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="expected a mapping"):
        load_contexts(write(tmp_path / "list", "- a\n- b\n"))
    with pytest.raises(KubeconfigError, match="has no name"):
        load_contexts(write(tmp_path / "noname", "contexts:\n- context: {cluster: c}\n"))


def test_empty_file_is_fine(tmp_path: Path) -> None:
    assert load_contexts(write(tmp_path / "empty", "")) == []


def test_relative_paths_are_relative_to_their_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    doc = config(
        "a", {"a": ("c", "u")}, {"c": "https://c"}, {"u": {"tokenFile": "tok", "exec": {"command": "./bin/plugin"}}}
    )
    doc["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    path = write(sub / "config", doc)
    single = load_kubeconfig(path).context_config("a")
    assert single["clusters"][0]["cluster"]["certificate-authority"] == str(sub / "ca.crt")
    assert single["users"][0]["user"]["tokenFile"] == str(sub / "tok")
    assert single["users"][0]["user"]["exec"]["command"] == str(sub / "bin/plugin")
    assert single["current-context"] == "a" and len(single["contexts"]) == 1


def test_context_config_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "c", config("a", {"a": ("missing", "u"), "b": ("c", "u")}, {"c": ""}, {}))
    merged = load_kubeconfig(path)
    with pytest.raises(KubeconfigError, match="not defined"):
        merged.context_config("a")
    with pytest.raises(KubeconfigError, match="no server"):
        merged.context_config("b")
    with pytest.raises(KubeconfigError, match="not in the kubeconfig"):
        merged.context_config("zzz")
