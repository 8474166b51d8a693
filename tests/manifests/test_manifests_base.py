"""manifests/base: renders with kubectl, validates offline, and keeps the rules the product relies on.

The content rules run on the files themselves (no kubectl needed); the render tests use the kubectl
on PATH and skip with a reason where there is none.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = REPO_ROOT / "manifests"
BASE = MANIFESTS / "base"
KUBERNETES_VERSION = "1.32"
NAMESPACE = "mcp-system"
APP_LABELS = {"app.kubernetes.io/name": "aksmcp-server", "app.kubernetes.io/component": "mcp-server"}
PART_OF = {"app.kubernetes.io/part-of": "aksmcp"}
IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"
SECRET_NAME = "aksmcp-server-api-key"

Obj = dict[str, Any]


def _kustomization(directory: Path) -> Obj:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())


def _load_base() -> list[Obj]:
    """The base's objects as written, in kustomization order (what a renderer starts from)."""
    objects: list[Obj] = []
    for resource in _kustomization(BASE)["resources"]:
        objects += [doc for doc in yaml.safe_load_all((BASE / resource).read_text()) if doc]
    return objects


def _by_kind(objects: list[Obj]) -> dict[str, Obj]:
    kinds: dict[str, Obj] = {}
    for obj in objects:
        assert obj["kind"] not in kinds, f"two objects of kind {obj['kind']}; tests expect one each"
        kinds[obj["kind"]] = obj
    return kinds


def _kubectl_kustomize(directory: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH: cannot render with `kubectl kustomize`")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> dict[str, Obj]:
    return _by_kind(_load_base())


@pytest.fixture(scope="module")
def rendered() -> list[Obj]:
    return _kubectl_kustomize(BASE)


@pytest.fixture(scope="module")
def deployment(base: dict[str, Obj]) -> Obj:
    return base["Deployment"]


def _containers(deployment: Obj) -> list[Obj]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"], *spec.get("ephemeralContainers", [])]


# The Pod Security Standards "restricted" profile (baseline + restricted rules) for a pod spec, as
# Pod Security Admission applies it at enforce level; Windows-only and AppArmor rules are omitted.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}


def restricted_violations(pod: Obj) -> list[str]:
    """Every way `pod` (a PodSpec) breaks the restricted Pod Security Standard; [] if none."""
    problems: list[str] = []
    pod_context = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"pod: {field}")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: type {sorted(kinds)} not allowed")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod: runAsUser 0")
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_ALLOWED:
        problems.append(f"pod: seccompProfile {pod_seccomp}")
    containers = [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]
    for container in containers:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if run_as_non_root is not True:
            problems.append(f"{name}: runAsNonRoot must be true (pod or container)")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_ALLOWED:
            problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost, not {seccomp}")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities must drop ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount")
    return problems


# ------------------------------------------------------------------------------ rendering --


def test_kustomization_uses_only_resources_and_labels() -> None:
    # aksmcp's deploy core renders this base itself; it understands exactly these fields.
    allowed = {"apiVersion", "kind", "resources", "labels", "namespace"}
    assert set(_kustomization(BASE)) <= allowed, set(_kustomization(BASE)) - allowed
    for entry in _kustomization(BASE)["labels"]:
        assert set(entry) <= {"pairs", "includeSelectors", "includeTemplates"}
        assert entry.get("includeSelectors", False) is False, "selectors are immutable: keep labels out of them"


def test_base_renders_and_every_object_validates_offline(rendered: list[Obj]) -> None:
    assert len(rendered) == 7
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}")


def test_validation_catches_a_broken_object(deployment: Obj) -> None:
    # The validation above can fail: an unknown field in a container is rejected in strict mode.
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_rendering_only_adds_part_of_to_metadata_and_pod_templates(rendered: list[Obj]) -> None:
    # The contract a renderer without kustomize implements: files as written + these labels.
    expected = _load_base()
    for obj in expected:
        obj["metadata"].setdefault("labels", {}).update(PART_OF)
        template = obj.get("spec", {}).get("template")
        if template is not None:
            template["metadata"].setdefault("labels", {}).update(PART_OF)
    key = lambda obj: (obj["kind"], obj["metadata"]["name"])  # noqa: E731
    assert sorted(rendered, key=key) == sorted(expected, key=key)


def test_top_level_manifests_directory_renders_the_base(rendered: list[Obj]) -> None:
    assert _kubectl_kustomize(MANIFESTS) == rendered


# ------------------------------------------------------------------------ objects and labels --


def test_base_has_the_expected_objects_in_mcp_system(base: dict[str, Obj]) -> None:
    assert set(base) == {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }
    assert base["Namespace"]["metadata"]["name"] == NAMESPACE
    for kind, obj in base.items():
        if kind != "Namespace":
            assert obj["metadata"]["name"] == "aksmcp-server", kind
            assert obj["metadata"]["namespace"] == NAMESPACE, kind
            assert obj["metadata"]["labels"].items() >= APP_LABELS.items(), kind


def test_namespace_enforces_the_restricted_pod_security_standard(base: dict[str, Obj]) -> None:
    labels = base["Namespace"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_selectors_agree_and_match_the_pod_template(base: dict[str, Obj], deployment: Obj) -> None:
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "Service": base["Service"]["spec"]["selector"],
        "NetworkPolicy": base["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"],
        "PodDisruptionBudget": base["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
    }
    for kind, selector in selectors.items():
        assert selector == APP_LABELS, kind
    assert deployment["spec"]["template"]["metadata"]["labels"].items() >= APP_LABELS.items()


# ---------------------------------------------------------------------------- the workload --


def test_deployment_shape(deployment: Obj) -> None:
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "aksmcp-server"
    assert pod["automountServiceAccountToken"] is False
    (server,) = pod["containers"]
    assert server["image"] == IMAGE
    assert server["ports"] == [{"name": "mcp", "containerPort": 8080, "protocol": "TCP"}]
    assert server["envFrom"] == [{"configMapRef": {"name": "aksmcp-server"}}]


def test_service_account_mounts_no_token(base: dict[str, Obj]) -> None:
    assert base["ServiceAccount"]["automountServiceAccountToken"] is False


def test_pods_meet_the_restricted_pod_security_standard(deployment: Obj) -> None:
    assert restricted_violations(deployment["spec"]["template"]["spec"]) == []


def test_every_container_has_a_read_only_root_filesystem(deployment: Obj) -> None:
    for container in _containers(deployment):
        assert container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, container["name"]


def _both(field: str, value: Any) -> Any:
    """A change that sets (None: removes) a securityContext field on the pod and its containers."""

    def change(pod: Obj) -> None:
        for holder in (pod, *pod["containers"]):
            context = holder.setdefault("securityContext", {})
            if value is None:
                context.pop(field, None)
            else:
                context[field] = value

    return change


def _container(field: str, value: Any) -> Any:
    def change(pod: Obj) -> None:
        context = pod["containers"][0].setdefault("securityContext", {})
        if value is None:
            context.pop(field, None)
        else:
            context[field] = value

    return change


WEAKENINGS = {
    "runAsNonRoot removed": _both("runAsNonRoot", None),
    "runAsNonRoot false": _container("runAsNonRoot", False),
    "runAsUser 0": _container("runAsUser", 0),
    "seccompProfile removed": _both("seccompProfile", None),
    "seccompProfile Unconfined": _container("seccompProfile", {"type": "Unconfined"}),
    "allowPrivilegeEscalation removed": _container("allowPrivilegeEscalation", None),
    "allowPrivilegeEscalation true": _container("allowPrivilegeEscalation", True),
    "capabilities removed": _container("capabilities", None),
    "capabilities drop only NET_RAW": _container("capabilities", {"drop": ["NET_RAW"]}),
    "capabilities add SYS_ADMIN": _container("capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    "privileged": _container("privileged", True),
    "hostNetwork": lambda pod: pod.update(hostNetwork=True),
    "hostPID": lambda pod: pod.update(hostPID=True),
    "hostPath volume": lambda pod: pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
    "hostPort": lambda pod: pod["containers"][0]["ports"][0].update(hostPort=8080),
}


@pytest.mark.parametrize("weakening", WEAKENINGS.values(), ids=WEAKENINGS.keys())
def test_the_pod_security_check_catches_each_weakening(deployment: Obj, weakening: Any) -> None:
    # The check above can fail: each single weakening of the pod is reported.
    pod = copy.deepcopy(deployment["spec"]["template"]["spec"])
    weakening(pod)
    assert restricted_violations(pod) != []


def test_every_container_has_probes_on_health_endpoints(deployment: Obj) -> None:
    for container in _containers(deployment):
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
        for probe_name, path in expected.items():
            probe = container.get(probe_name)
            assert probe, f"{container['name']}: no {probe_name}"
            assert probe["httpGet"]["path"] == path, f"{container['name']}: {probe_name}"
            port = probe["httpGet"]["port"]
            assert port in ports or port in ports.values(), f"{container['name']}: {probe_name} port {port!r}"


def test_every_container_has_requests_and_limits(deployment: Obj) -> None:
    for container in _containers(deployment):
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{container['name']}: {kind}"


def test_every_container_drains_before_sigterm(deployment: Obj, base: dict[str, Obj]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    grace = pod["terminationGracePeriodSeconds"]
    server_grace = float(base["ConfigMap"]["data"]["AKSMCP_GRACE_SECONDS"])
    for container in _containers(deployment):
        pre_stop = container.get("lifecycle", {}).get("preStop")
        assert pre_stop, f"{container['name']}: no preStop hook"
        assert set(pre_stop) & {"sleep", "httpGet", "exec"}, pre_stop
        drain = pre_stop.get("sleep", {}).get("seconds", 0)
        assert drain + server_grace < grace, "preStop + the server's drain must fit in the grace period"


# ----------------------------------------------------------------- configuration and secrets --


def test_configmap_carries_the_server_settings(base: dict[str, Obj], deployment: Obj) -> None:
    data = base["ConfigMap"]["data"]
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    assert data["AKSMCP_TRANSPORT"] == "http"
    assert data["AKSMCP_HOST"] == "0.0.0.0"
    assert data["AKSMCP_AUTH_MODE"] == "apikey"
    assert data["AKSMCP_WORKSPACE"] == "/workspace"
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert int(data["AKSMCP_PORT"]) == server["ports"][0]["containerPort"]
    assert "AKSMCP_API_KEY" not in data, "the key itself belongs in the Secret"


def test_api_key_secret_is_mounted_as_the_configured_file(base: dict[str, Obj], deployment: Obj) -> None:
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == SECRET_NAME
    items = {item["key"]: item for item in volume["secret"]["items"]}
    assert set(items) == {"api-key", "state-key"}
    (server,) = pod["containers"]
    (mount,) = [m for m in server["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    data = base["ConfigMap"]["data"]
    assert data["AKSMCP_API_KEY_FILE"] == f"{mount['mountPath']}/{items['api-key']['path']}"
    # Every replica reads the same request-state key, so any pod can continue another's round trip.
    assert data["AKSMCP_STATE_KEY_FILE"] == f"{mount['mountPath']}/{items['state-key']['path']}"


def test_writable_paths_are_empty_dirs(deployment: Obj) -> None:
    pod = deployment["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    (server,) = pod["containers"]
    writable = {m["mountPath"] for m in server["volumeMounts"] if m["name"] in empty_dirs}
    assert writable == {"/tmp", "/workspace"}


def test_no_secret_is_stored_in_the_repository(rendered: list[Obj]) -> None:
    assert not [obj for obj in rendered if obj["kind"] == "Secret"]
    for path in MANIFESTS.rglob("*.y*ml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (doc and doc.get("kind") == "Secret"), f"{path} holds a Secret"


# ------------------------------------------------------------------- network and availability --


def test_service_exposes_the_named_mcp_port(base: dict[str, Obj]) -> None:
    assert base["Service"]["spec"]["ports"] == [
        {"name": "mcp", "port": 80, "targetPort": "mcp", "protocol": "TCP", "appProtocol": "http"}
    ]


def test_network_policy_admits_only_the_mcp_port_and_allows_dns(base: dict[str, Obj]) -> None:
    spec = base["NetworkPolicy"]["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = [port for rule in spec["ingress"] for port in rule["ports"]]
    assert ingress_ports == [{"port": 8080, "protocol": "TCP"}]
    egress_ports = {(port["port"], port["protocol"]) for rule in spec["egress"] for port in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP")} <= egress_ports
    assert all("ports" in rule for rule in spec["egress"]), "every egress rule must be limited to ports"


def test_disruption_budget_keeps_one_pod(base: dict[str, Obj], deployment: Obj) -> None:
    min_available = base["PodDisruptionBudget"]["spec"]["minAvailable"]
    assert min_available == 1 < deployment["spec"]["replicas"]


def test_readme_says_how_to_create_the_secret() -> None:
    readme = (MANIFESTS / "README.md").read_text()
    assert f"create secret generic {SECRET_NAME} \\\n  --from-literal=api-key=" in readme
    assert "--from-literal=state-key=" in readme
    assert "kubectl apply -k manifests/base" in readme
