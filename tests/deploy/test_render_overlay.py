"""The renderer on project overlays (components, patches, images, replicas) against `kubectl kustomize`."""

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


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


OVERLAY = {
    "kustomization.yaml": """
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [aksmcp/base]
components: [aksmcp/components/extra, aksmcp/components/probe]
namespace: team-a
patches:
  - path: demo-env.yaml
  - target: {kind: Deployment, name: aksmcp-server}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/memory
        value: 1Gi
      - op: add
        path: /spec/template/metadata/annotations/example.com~1note
        value: patched
  - target: {kind: Service}
    patch: |-
      apiVersion: v1
      kind: Service
      metadata: {name: ignored, annotations: {from: target-smp}}
      spec:
        ports:
          - {port: 80, protocol: TCP, name: mcp, appProtocol: kubernetes.io/h2c}
replicas:
  - {name: aksmcp-server, count: 3}
images:
  - name: ghcr.io/aksmcp/aksmcp-server
    newName: registry.example:5000/team/demo
    newTag: v2
  - name: sidecar
    digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
""",
    "demo-env.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: aksmcp-server, namespace: mcp-system}
spec:
  template:
    spec:
      containers:
        - name: server
          env:
            - {name: DEMO, value: "1"}
          volumeMounts:
            - {name: tmp, mountPath: /tmp, $patch: delete}
            - {name: cache, mountPath: /cache}
        - name: sidecar
          image: sidecar:1
      volumes:
        - name: cache
          emptyDir: {}
        - name: tmp
          $patch: delete
""",
    "aksmcp/components/extra/kustomization.yaml": """
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources: [hpa.yaml]
patches:
  - path: cm.yaml
labels:
  - pairs: {example.com/component: extra}
""",
    "aksmcp/components/extra/hpa.yaml": """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: aksmcp-server, namespace: mcp-system}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: aksmcp-server}
  minReplicas: 2
  maxReplicas: 5
""",
    "aksmcp/components/extra/cm.yaml": """
apiVersion: v1
kind: ConfigMap
metadata: {name: aksmcp-server, namespace: mcp-system}
data:
  AKSMCP_LOG_LEVEL: debug
  AKSMCP_STATEFUL: null
""",
    "aksmcp/components/probe/kustomization.yaml": """
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - target: {group: apps, version: v1, kind: Deployment, labelSelector: "app.kubernetes.io/name=aksmcp-server"}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/readinessProbe/periodSeconds
        value: 3
      - op: remove
        path: /spec/template/spec/topologySpreadConstraints
""",
}


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "project", OVERLAY)
    shutil.copytree(REPO / "manifests" / "base", root / "aksmcp" / "base")
    return root


@needs_kubectl
def test_overlay_with_components_patches_images_and_replicas_matches_kubectl(overlay: Path) -> None:
    ours = render_kustomization(overlay)
    theirs = kubectl_kustomize(overlay)
    assert [(d["kind"], d["metadata"]["name"]) for d in ours] == [(d["kind"], d["metadata"]["name"]) for d in theirs]
    for mine, kubectls in zip(ours, theirs, strict=True):
        assert mine == kubectls, mine["kind"]
    # And the features really did something (kubectl and we could both ignore a field).
    deployment = next(d for d in ours if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["metadata"]["namespace"] == "team-a"
    assert deployment["spec"]["replicas"] == 3
    assert [c["image"] for c in pod["containers"]] == [
        "registry.example:5000/team/demo:v2",
        "sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ]
    server = pod["containers"][0]
    assert {"name": "DEMO", "value": "1"} in server["env"]
    assert "/tmp" not in {m["mountPath"] for m in server["volumeMounts"]}
    assert server["resources"]["limits"]["memory"] == "1Gi"
    assert server["readinessProbe"]["periodSeconds"] == 3
    assert "topologySpreadConstraints" not in pod
    configmap = next(d for d in ours if d["kind"] == "ConfigMap")
    assert configmap["data"]["AKSMCP_LOG_LEVEL"] == "debug" and "AKSMCP_STATEFUL" not in configmap["data"]
    assert any(d["kind"] == "HorizontalPodAutoscaler" for d in ours)


def test_patch_errors_are_plain(tmp_path: Path) -> None:
    base = write_tree(
        tmp_path / "p",
        {
            "kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap}\n"
            "    patch: '[{op: remove, path: /data/missing}]'\n",
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n",
        },
    )
    with pytest.raises(ManifestError, match="does not exist"):
        render_kustomization(base)
    nomatch = write_tree(
        tmp_path / "n",
        {
            "kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - path: p.yaml\n",
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {b: '2'}\n",
        },
    )
    with pytest.raises(ManifestError, match="no object matches"):
        render_kustomization(nomatch)
    wrong_kind = write_tree(
        tmp_path / "w",
        {
            "kustomization.yaml": "resources: []\ncomponents: [c]\n",
            "c/kustomization.yaml": "kind: Kustomization\nresources: []\n",
        },
    )
    with pytest.raises(ManifestError, match="is a Kustomization"):
        render_kustomization(wrong_kind)
