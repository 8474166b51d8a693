"""`aksmcp auth rotate`: a new API key with zero failed calls.

1. The key Secret gets the new key as `api-key` and the current one as `api-key-previous`.
2. The Deployment's pod template gets a new annotation, which rolls the pods (maxUnavailable 0):
   a new pod reads both keys (auth-apikey component), an old pod still has the old key, so a client
   holding the old key succeeds on every pod, before, during and after the roll.
3. The rollout is watched to completion.
`--finish` (once clients use the new key) removes `api-key-previous` and rolls again, after which only
the new key is accepted. Keys are never printed or logged; clients read them from the Secret.
Each step is a `Step` event; a failure is the last event, never an exception.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.core.bootstrap import Step
from aksmcp_tui.core.components.annotations import ROTATION
from aksmcp_tui.core.kube import KubeContext, KubeProblem

CURRENT = "api-key"
PREVIOUS = "api-key-previous"


def _encode(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def key_secret_name(deployment: dict[str, Any]) -> str | None:
    """The Secret whose `api-key` item the pods mount (the base's aksmcp-server-api-key, or renamed)."""
    for volume in (deployment.get("spec") or {}).get("template", {}).get("spec", {}).get("volumes") or []:
        secret = volume.get("secret") or {}
        if any(item.get("key") == CURRENT for item in secret.get("items") or []):
            return str(secret.get("secretName"))
    return None


def mounts_previous_key(deployment: dict[str, Any]) -> bool:
    for volume in (deployment.get("spec") or {}).get("template", {}).get("spec", {}).get("volumes") or []:
        if any(item.get("key") == PREVIOUS for item in (volume.get("secret") or {}).get("items") or []):
            return True
    return False


def rollout_done(deployment: dict[str, Any], generation: int) -> tuple[bool, str]:
    """Whether the roll that `generation` started is over: every replica updated and available."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    want = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    detail = f"{updated}/{want} updated, {available} available, {total - updated} old"
    done = observed >= generation and updated == want and available >= want and total == want
    return done, detail


async def _wait_rollout(
    kube: KubeContext, namespace: str, name: str, generation: int, within: float
) -> AsyncIterator[tuple[bool, str]]:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        current = await kube.get(f"{path}/{name}")
        done, detail = rollout_done(current, generation)
        if done:
            yield True, detail
            return
        if detail != last:
            last = detail
            yield False, detail
        version = str(current["metadata"].get("resourceVersion") or "")
        remaining = max(1, int(deadline - time.monotonic()))
        stream = kube.watch(
            path,
            query={"resourceVersion": version, "fieldSelector": f"metadata.name={name}"},
            timeout_seconds=remaining,
        )
        try:
            async with asyncio.timeout(remaining), contextlib.aclosing(stream):
                async for event in stream:
                    obj = event.get("object") or {}
                    if (obj.get("metadata") or {}).get("name") != name:
                        continue
                    done, detail = rollout_done(obj, generation)
                    if done:
                        yield True, detail
                        return
                    if detail != last:
                        last = detail
                        yield False, detail
        except TimeoutError:
            break
        except KubeProblem as exc:
            if exc.kind not in ("gone", "unreachable"):
                raise
    yield False, f"timed out after {within:g} s: {last}"


async def rotate_api_key(
    kube: KubeContext, namespace: str, deployment: str, *, finish: bool = False, within: float = 600.0
) -> AsyncIterator[Step]:
    deploy_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"
    step = f"read deploy/{deployment}"
    try:
        current = await kube.get(deploy_path)
    except KubeProblem as exc:
        yield Step(step, "failed", exc.message)
        return
    secret_name = key_secret_name(current)
    if secret_name is None:
        yield Step(step, "failed", f"deploy/{deployment} mounts no Secret with an `{CURRENT}` item: not API-key auth")
        return
    if not mounts_previous_key(current):
        yield Step(
            step,
            "failed",
            f"deploy/{deployment} does not mount `{PREVIOUS}`: rotating now would fail every call made with the old "
            "key until clients switch. Run `aksmcp auth enable --api-key` in the project and deploy it first.",
        )
        return
    yield Step(step, "done", f"key Secret {secret_name}")

    secret_path = f"/api/v1/namespaces/{namespace}/secrets/{secret_name}"
    step = f"Secret {namespace}/{secret_name}"
    try:
        secret = await kube.get(secret_path)
    except KubeProblem as exc:
        yield Step(step, "failed", exc.message)
        return
    data = secret.get("data") or {}
    pending = bool(base64.b64decode(data.get(PREVIOUS, "") or "").strip())
    if finish:
        if not pending:
            yield Step(step, "failed", "no rotation to finish: the Secret holds no previous key")
            return
        patch: dict[str, Any] = {"data": {PREVIOUS: None}}
        what = "previous key removed: only the new key is accepted once the pods roll"
    else:
        if pending:
            yield Step(
                step,
                "failed",
                "a rotation is still under way (the previous key is still accepted): switch the clients to the "
                "current key, then run `aksmcp auth rotate --finish` before rotating again",
            )
            return
        if CURRENT not in data:
            yield Step(step, "failed", f"the Secret has no `{CURRENT}` item to rotate")
            return
        patch = {"data": {CURRENT: _encode(secrets.token_urlsafe(32)), PREVIOUS: data[CURRENT]}}
        what = "new key written; the old one is kept as the previous key"
    try:
        await kube.request("PATCH", secret_path, body=patch, content_type="application/merge-patch+json")
    except KubeProblem as exc:
        yield Step(step, "failed", exc.message)
        return
    yield Step(step, "done", what)

    step = f"roll deploy/{deployment}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    roll = {"spec": {"template": {"metadata": {"annotations": {ROTATION: stamp}}}}}
    try:
        rolled = await kube.request(
            "PATCH", deploy_path, body=roll, content_type="application/strategic-merge-patch+json"
        )
    except KubeProblem as exc:
        yield Step(step, "failed", f"{exc.message} (the Secret is updated: re-run to roll the pods)")
        return
    generation = int(rolled["metadata"].get("generation") or 0)
    yield Step(step, "running", "pods rolling (old and new keys both accepted)")
    try:
        async for done, detail in _wait_rollout(kube, namespace, deployment, generation, within):
            if done:
                yield Step(step, "done", detail)
                break
            if detail.startswith("timed out"):
                yield Step(step, "failed", detail)
                return
            yield Step(step, "running", detail)
    except KubeProblem as exc:
        yield Step(step, "failed", exc.message)
        return
    if finish:
        yield Step("rotation finished", "done", "only the current key is accepted")
    else:
        yield Step(
            "rotation",
            "done",
            f"every pod accepts the new and the old key: switch clients to the new key (Secret {secret_name}, "
            f"`{CURRENT}`), then run `aksmcp auth rotate deploy/{deployment} -n {namespace} --finish`",
        )
