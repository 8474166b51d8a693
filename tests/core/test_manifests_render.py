"""core/manifests.py renders what `kubectl kustomize` renders (the real binary is the oracle)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aksmcp_tui.core.manifests import ManifestError, render_kustomization

REPO = Path(__file__).resolve().parents[2]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def kubectl_kustomize(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@needs_kubectl
def test_repository_base_matches_kubectl() -> None:
    base = REPO / "manifests" / "base"
    if not (base / "kustomization.yaml").exists():
        pytest.skip("manifests/base not written yet")
    ours = render_kustomization(base)
    assert ours == kubectl_kustomize(base)
    assert ours[0]["kind"] == "Namespace"


FIXTURE = {
    "kustomization.yaml": """
resources:
  - app.yaml
  - nested
namespace: fixture-ns
labels:
  - pairs: {team: tools}
  - pairs: {tier: mcp}
    includeSelectors: true
""",
    "app.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: server, labels: {app: server}}
spec:
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec: {containers: [{name: s, image: "img:1", ports: [{name: mcp, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec: {selector: {app: server}, ports: [{port: 80, targetPort: mcp}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: fixture-ns}
""",
    "nested/kustomization.yaml": """
resources: [more.yaml]
labels:
  - pairs: {nested: "yes"}
    includeTemplates: true
""",
    "nested/more.yaml": """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: j, image: "job:1"}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: elsewhere}
data: {a: "1"}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: server}
spec: {minAvailable: 1, selector: {matchLabels: {app: server}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server}
spec: {podSelector: {matchLabels: {app: server}}, policyTypes: [Ingress]}
""",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@needs_kubectl
def test_fixture_base_matches_kubectl(tmp_path: Path) -> None:
    base = write_tree(tmp_path / "base", FIXTURE)
    ours = render_kustomization(base)
    theirs = kubectl_kustomize(base)
    assert [(d["kind"], d["metadata"]["name"]) for d in ours] == [(d["kind"], d["metadata"]["name"]) for d in theirs]
    assert ours == theirs


def test_unsupported_fields_are_refused(tmp_path: Path) -> None:
    base = write_tree(tmp_path / "b", {"kustomization.yaml": "resources: []\nconfigMapGenerator: []\n"})
    with pytest.raises(ManifestError, match="'configMapGenerator'"):
        render_kustomization(base)
    missing = write_tree(tmp_path / "m", {"kustomization.yaml": "resources: [gone.yaml]\n"})
    with pytest.raises(ManifestError, match="does not exist"):
        render_kustomization(missing)
    remote = write_tree(tmp_path / "r", {"kustomization.yaml": "resources: [https://example.com/x.yaml]\n"})
    with pytest.raises(ManifestError, match="not a local file"):
        render_kustomization(remote)
