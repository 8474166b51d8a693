"""Why a rollout failed, in plain words with the fix: from the pods, their events and logs.

Each rule reads what `kubectl describe` would show a person (container states, conditions,
Warning events) and turns it into one Diagnosis; the first rule that matches wins, the most
specific first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aksmcp_tui.core.deploy.events import Diagnosis
from aksmcp_tui.core.manifests import split_image_reference

# Operators whose CRDs our components use, for "what to install".
_CRD_PROVIDERS = {
    "monitoring.coreos.com": "the Prometheus Operator (e.g. the kube-prometheus-stack Helm chart, or AKS's "
    "Azure Monitor managed Prometheus)",
    "cert-manager.io": "cert-manager (https://cert-manager.io/docs/installation/)",
    "keda.sh": "KEDA (on AKS: az aks update --enable-keda)",
    "kagent.dev": "kagent",
    "gateway.networking.k8s.io": "the Gateway API CRDs",
}


def apply_failure(kind: str, name: str, message: str) -> Diagnosis:
    """A server-side apply the API server refused."""
    missing = re.search(r'no matches for kind "?([\w.]+)"? in (?:group|version) "?([\w./-]*)"?', message)
    if missing or "could not find the requested resource" in message:
        group = (missing.group(2) if missing else "").split("/")[0]
        provider = _CRD_PROVIDERS.get(group, f"the operator that defines {group or 'it'}")
        what = missing.group(1) if missing else kind
        return Diagnosis(
            f"the cluster does not know kind {what}: its CustomResourceDefinition is not installed",
            (message,),
            f"install {provider}, or remove the component that adds {kind} {name} from manifests/",
        )
    if "exceeded quota" in message:
        return Diagnosis(
            f"{kind} {name} was refused: the namespace's ResourceQuota is exhausted",
            (message,),
            "lower --replicas or the container requests/limits, or ask for a bigger quota "
            "(kubectl describe resourcequota -n <namespace>)",
        )
    if "violates PodSecurity" in message or "admission webhook" in message or "denied the request" in message:
        return Diagnosis(
            f"{kind} {name} was refused by admission control",
            (message,),
            "fix the field the policy names in your overlay patch (the base meets the restricted Pod Security "
            "Standard), or ask the cluster admin which policy applies",
        )
    if "forbidden" in message.lower():
        return Diagnosis(
            f"you may not apply {kind} {name}",
            (message,),
            "ask for a Role that allows create/patch on it in this namespace (kubectl auth can-i patch ...)",
        )
    return Diagnosis(f"{kind} {name} was refused by the cluster", (message,), "fix the object in manifests/")


def _container_statuses(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name") or "?")


def _warnings_for(events: Iterable[Mapping[str, Any]], pod: str, reason: str | None = None) -> list[str]:
    found = []
    for event in events:
        involved = event.get("involvedObject") or {}
        if involved.get("name") != pod or event.get("type") != "Warning":
            continue
        if reason is None or event.get("reason") == reason:
            found.append(str(event.get("message") or ""))
    return found


# How registries (and the runtimes relaying them) say "who are you?" or "not you".
_AUTH_WORDS = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied",
    "failed to authorize",
    "403",
    "401",
)


def image_pull(pod: Mapping[str, Any], image: str, message: str) -> Diagnosis:
    repo, tag, digest = split_image_reference(image)
    registry = repo.split("/", 1)[0] if "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]) else ""
    lowered = message.lower()
    details = (f"pod {_pod_name(pod)}: {message}",)
    if any(w in lowered for w in _AUTH_WORDS):
        if registry.endswith(".azurecr.io"):
            # On AKS the kubelet pulls with its managed identity: a 401 means it lacks AcrPull.
            acr = registry.split(".")[0]
            return Diagnosis(
                f"the cluster cannot authenticate to the registry {registry}: it is not attached to the cluster "
                "(the kubelet identity has no AcrPull on it)",
                details,
                f"attach it: az aks update -n <cluster> -g <group> --attach-acr {acr}; check with: aksmcp acr "
                f"check-pull <cluster> -g <group> --registry {acr}",
            )
        return Diagnosis(
            f"the cluster cannot authenticate to the registry {registry or 'of ' + image} to pull {image}",
            details,
            "give the pods pull credentials: kubectl -n <namespace> create secret docker-registry <name> "
            f"--docker-server={registry or '<registry>'} --docker-username=... --docker-password=..., and add it "
            "as imagePullSecrets in an overlay patch (or, for an Azure Container Registry, attach it: "
            "az aks update --attach-acr NAME); or make the repository readable",
        )
    if any(w in lowered for w in ("not found", "manifest unknown", "no such", "catalog has no entry")):
        return Diagnosis(
            f"image {image} does not exist in {registry or 'the registry'}",
            details,
            f"check the tag{' and digest' if digest else ''} (was it pushed?), or deploy without --image so aksmcp "
            f"builds and pushes it{'' if tag or digest else '; give a tag'}",
        )
    return Diagnosis(
        f"the cluster cannot pull {image}",
        details,
        "check that the nodes can reach the registry (network, DNS, firewall) and that the image exists",
    )


def diagnose_pods(
    pods: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    previous_logs: Mapping[str, str],
    readiness_stuck: set[str],
) -> Diagnosis | None:
    """The first failure among the rollout's new pods, or None when nothing is known to be wrong."""
    for pod in pods:
        name = _pod_name(pod)
        for status in _container_statuses(pod):
            waiting = (status.get("state") or {}).get("waiting") or {}
            reason = str(waiting.get("reason") or "")
            message = str(waiting.get("message") or "")
            if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                pulls = _warnings_for(events, name, "Failed")
                return image_pull(pod, str(status.get("image") or ""), message or (pulls[-1] if pulls else reason))
            if reason == "CrashLoopBackOff" or (
                int(status.get("restartCount") or 0) >= 2 and (status.get("lastState") or {}).get("terminated")
            ):
                last = (status.get("lastState") or {}).get("terminated") or {}
                lines = (previous_logs.get(f"{name}/{status.get('name')}") or "").strip().splitlines()[-10:]
                exit_code = last.get("exitCode")
                return Diagnosis(
                    f"container {status.get('name')} keeps crashing (exit code {exit_code}, "
                    f"{status.get('restartCount')} restarts)",
                    (f"pod {name}, last lines of the previous container:", *[f"  {line}" for line in lines]),
                    "fix what the log says (a setting in the ConfigMap, a missing env var or file), then deploy again; "
                    f"more: kubectl logs {name} -c {status.get('name')} --previous",
                )
            if reason in ("CreateContainerConfigError", "CreateContainerError"):
                return Diagnosis(
                    f"container {status.get('name')} cannot start: {message or reason}",
                    (f"pod {name}",),
                    "create the Secret or ConfigMap (or key) it names; a bridge project's env Secret comes from your "
                    "environment at deploy time (see the project README)",
                )
        conditions = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
        scheduled = conditions.get("PodScheduled") or {}
        if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
            why = str(scheduled.get("message") or "") or "; ".join(_warnings_for(events, name, "FailedScheduling"))
            return Diagnosis(
                f"pod {name} cannot be scheduled: {why}",
                (),
                "lower the CPU/memory requests in an overlay patch, add nodes (or enable the cluster autoscaler), "
                "or fix the nodeSelector / tolerations",
            )
        if name in readiness_stuck:
            probe_failures = _warnings_for(events, name, "Unhealthy")
            container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
            probe = container.get("readinessProbe") or {}
            http = probe.get("httpGet") or {}
            where = f"GET {http.get('path', '/')} on port {http.get('port')}" if http else str(probe)
            return Diagnosis(
                f"pod {name} runs but never becomes ready: the readiness probe ({where}) keeps failing",
                (f"last answer: {probe_failures[-1]}" if probe_failures else "no probe answer recorded",),
                "make the endpoint answer 200 (the aksmcp runtime serves /readyz on the mcp port), or fix the probe's "
                "path/port in an overlay patch",
            )
    return None


def diagnose_deployment(deployment: Mapping[str, Any]) -> Diagnosis | None:
    conditions = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}
    failure = conditions.get("ReplicaFailure") or {}
    if failure.get("status") == "True":
        message = str(failure.get("message") or failure.get("reason") or "")
        diagnosis = apply_failure("Pod", "of the new ReplicaSet", message)
        return Diagnosis(f"pods cannot be created: {diagnosis.summary}", diagnosis.details, diagnosis.fix)
    progressing = conditions.get("Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Diagnosis(
            "the rollout made no progress before its deadline",
            (str(progressing.get("message") or ""),),
            "look at the pods' events (kubectl describe pod) for what holds them",
        )
    return None
