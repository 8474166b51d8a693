"""Helpers for the component tests: a generated-project layout (the contract of issue 12's `aksmcp init`),
rendering with `kubectl kustomize`, offline validation (kubernetes-validate for built-in kinds, the
vendored CRD schemas for cert-manager, prometheus-operator and KEDA) and the restricted PSS check."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from aksmcp_tui.core.deploy.scaffold import init_project

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
CRD_DIR = Path(__file__).resolve().parent / "crds"
KUBERNETES_VERSION = "1.32"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"

Obj = dict[str, Any]


def make_project(root: Path, name: str = "weather", namespace: str = "mcp-system", *, stateful: bool = False) -> Path:
    """A project made by `aksmcp init` (the generated-project contract), optionally with stateful sessions
    switched on by an overlay patch."""
    init_project(name, directory=root, namespace=namespace, registry="myacr01.azurecr.io")
    if stateful:
        (root / "manifests" / "stateful.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aksmcp-server\n  namespace: mcp-system\n"
            'data:\n  AKSMCP_STATEFUL: "true"\n'
        )
        overlay = root / "manifests" / "kustomization.yaml"
        data = yaml.safe_load(overlay.read_text())
        data["patches"] = [*(data.get("patches") or []), {"path": "stateful.yaml"}]
        overlay.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def kubectl_kustomize(directory: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH: cannot render with `kubectl kustomize`")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def vendored_crds() -> dict[tuple[str, str], Obj]:
    """(apiVersion, kind) -> CRD object, from the JSON files under tests/components/crds."""
    crds: dict[tuple[str, str], Obj] = {}
    for path in sorted(CRD_DIR.glob("*.json")):
        crd = json.loads(path.read_text())
        for version in crd["spec"]["versions"]:
            crds[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = crd
    return crds


def _strict(schema: Any) -> Any:
    """The CRD schema as JSON Schema that refuses unknown fields (the API server prunes them, which for a
    generated manifest means a silently lost setting: a test should see it)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_object(obj: Obj) -> list[str]:
    """Every problem of one rendered object; [] when it validates."""
    key = (obj["apiVersion"], obj["kind"])
    crd = vendored_crds().get(key)
    if crd is None:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [f"{obj['kind']}/{obj['metadata']['name']}: {error}"]
        return []
    version = next(v for v in crd["spec"]["versions"] if obj["apiVersion"].endswith("/" + v["name"]))
    schema = _strict(version["schema"]["openAPIV3Schema"])
    # metadata is the API server's to check, not the CRD's.
    schema["properties"] = {**schema.get("properties", {}), "metadata": {"type": "object"}}
    validator = jsonschema.Draft7Validator(schema)
    return [f"{obj['kind']}/{obj['metadata']['name']}: {e.json_path}: {e.message}" for e in validator.iter_errors(obj)]


@cache
def _restricted_module() -> Any:
    path = REPO / "tests" / "manifests" / "test_manifests_base.py"
    spec = importlib.util.spec_from_file_location("aksmcp_manifests_base_rules", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def restricted_violations(pod_spec: Obj) -> list[str]:
    """The restricted Pod Security Standard check tests/manifests uses for the base (one rule set)."""
    return list(_restricted_module().restricted_violations(pod_spec))


def crd_manifests() -> list[Obj]:
    """The vendored CRDs as objects to install in the sandbox (the sandbox validates custom resources)."""
    return [json.loads(path.read_text()) for path in sorted(CRD_DIR.glob("*.json"))]
