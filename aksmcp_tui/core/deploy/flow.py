"""`aksmcp deploy` as one async flow of typed events: build → push → render → apply → rollout
(with diagnosis and rollback) → smoke test → connect command. The dashboard's deploy screen and
the CLI both iterate `DeployFlow.run()`; neither adds logic of its own.

What a cancelled or failed flow leaves in the cluster is always known (`DeployFlow.leftovers()`),
so the CLI and the screen can say what is there and how to clean it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import difflib
import os
import secrets as secrets_module
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.apply import APPLY_CONTENT_TYPE, FIELD_MANAGER, apply_object, describe
from aksmcp_tui.core.deploy.catalog import CATALOG
from aksmcp_tui.core.deploy.diagnose import apply_failure
from aksmcp_tui.core.deploy.events import (
    DeployEvent,
    Finished,
    Rendered,
    RolledBack,
    StepDone,
    StepFailed,
    StepSkipped,
    StepStarted,
)
from aksmcp_tui.core.deploy.posture import pod_security_problems
from aksmcp_tui.core.deploy.project import Project, ProjectError, load_project
from aksmcp_tui.core.deploy.rollout import REVISION, RolloutWatch
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.manifests import (
    DeployParameters,
    ManifestError,
    apply_parameters,
    main_container,
    render_kustomization,
)


@dataclass
class DeployOptions:
    path: Path = Path(".")
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None  # None: the project's (aksmcp.yaml), else the context's
    registry: str | None = None
    tag: str | None = None
    image: str | None = None  # skip build and push: deploy this image
    replicas: int | None = None
    rollback: bool = True
    dry_run: bool = False
    registry_login: tuple[str, str] | None = None  # (username, password): never printed
    timeout: float = 300.0
    smoke_test: bool = True
    # Asked once before the cluster is changed (the CLI prompts on a terminal unless --yes);
    # None = go ahead. Gets one line saying what would be applied where.
    confirm: Callable[[str], Awaitable[bool]] | None = None


@dataclass
class DeployState:
    """What this flow has done to the cluster so far (for cancel and failure messages)."""

    namespace: str = ""
    name: str = ""
    applied: list[str] = field(default_factory=list)  # "Deployment ns/name"
    created: list[tuple[str, str]] = field(default_factory=list)  # (kubectl resource, name) we created
    previous_revision: str | None = None
    rolled_back: bool = False
    finished: bool = False


_STRIP_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
_KUBECTL_NAMES = {
    "Namespace": "namespace",
    "ServiceAccount": "serviceaccount",
    "ConfigMap": "configmap",
    "Secret": "secret",
    "Service": "service",
    "Deployment": "deployment",
    "NetworkPolicy": "networkpolicy",
    "PodDisruptionBudget": "poddisruptionbudget",
}


def _comparable(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    metadata = result.get("metadata") or {}
    for key in _STRIP_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    annotations.pop(REVISION, None)
    if not annotations:
        metadata.pop("annotations", None)
    if result.get("kind") == "Secret":
        result["data"] = {k: "(hidden)" for k in (result.get("data") or {})}
    return result


def object_diff(current: Mapping[str, Any] | None, planned: Mapping[str, Any]) -> list[str]:
    """A unified diff between the object in the cluster and what applying would make of it."""
    before = yaml.safe_dump(_comparable(current), sort_keys=True).splitlines() if current else []
    after = yaml.safe_dump(_comparable(planned), sort_keys=True).splitlines()
    label = describe(planned)
    return list(difflib.unified_diff(before, after, f"{label} (cluster)", f"{label} (after apply)", lineterm=""))


class DeployFlow:
    def __init__(self, options: DeployOptions, *, kube: KubeContext | None = None) -> None:
        self.options = options
        self.state = DeployState()
        self._kube = kube
        self._own_kube = kube is None

    # ------------------------------------------------------------------ what is left behind --

    def leftovers(self) -> tuple[str, ...]:
        """Plain-words lines: what this (failed or cancelled) flow left in the cluster, and how to clean it."""
        state = self.state
        if not state.applied:
            return ("nothing was applied to the cluster",)
        lines = [f"applied: {', '.join(state.applied)}"]
        ns = state.namespace
        if state.previous_revision and not state.rolled_back:
            lines.append(
                f"the Deployment may be on a new revision: roll back with "
                f"kubectl -n {ns} rollout undo deployment/{state.name} --to-revision={state.previous_revision}"
            )
        if state.created:
            names = " ".join(f"{kind}/{name}" for kind, name in state.created if kind != "namespace")
            if names:
                lines.append(f"created by this deploy; remove with: kubectl -n {ns} delete {names}")
        return tuple(lines)

    # ------------------------------------------------------------------------------- the flow --

    async def run(self) -> AsyncIterator[DeployEvent]:
        try:
            async for event in self._run():
                yield event
        finally:
            if self._own_kube and self._kube is not None:
                with contextlib.suppress(Exception):
                    await self._kube.close()

    async def _fail(self, step: str, problem: str, fix: str = "") -> AsyncIterator[DeployEvent]:
        yield StepFailed(step, problem, fix)
        self.state.finished = True
        yield Finished(False, f"{step} failed: {problem}", leftovers=self.leftovers())

    async def _run(self) -> AsyncIterator[DeployEvent]:
        opts = self.options
        try:
            project = load_project(opts.path)
        except ProjectError as exc:
            async for e in self._fail("render", str(exc)):
                yield e
            return
        if opts.replicas is not None and opts.replicas < 0:
            async for e in self._fail("render", f"--replicas must be 0 or more, not {opts.replicas}"):
                yield e
            return
        if opts.image is None and not (opts.path / "Dockerfile").is_file():
            async for e in self._fail(
                "build", f"{opts.path} has no Dockerfile", "give --image REF to deploy an existing image"
            ):
                yield e
            return

        # The cluster first: a build is wasted if the cluster cannot be reached.
        try:
            if self._kube is None:
                self._kube = await KubeContext.open(opts.context, opts.kubeconfig)
            kube = self._kube
            await kube.get("/version")
        except KubeProblem as exc:
            async for e in self._fail("apply", f"cannot reach the cluster: {exc.message}", "check --context / VPN"):
                yield e
            return
        namespace = opts.namespace or project.namespace or kube.namespace
        self.state.namespace, self.state.name = namespace, project.name

        image = opts.image
        if image is None and opts.dry_run:
            # A dry run changes nothing anywhere, the registry included: it shows the tag a build would get.
            from aksmcp_tui.core.deploy.image import image_repository, source_tag

            tag = opts.tag or await asyncio.to_thread(source_tag, opts.path)
            image = f"{image_repository(project, opts.registry)}:{tag}"
            yield StepSkipped("build", f"dry run: would build {image}")
            yield StepSkipped("push", "dry run: would push it and deploy it by digest")
        elif image is None:
            from aksmcp_tui.core.deploy.image import build_and_push

            built: list[str] = []
            async for event in build_and_push(project, opts, built):
                yield event
                if isinstance(event, StepFailed):
                    self.state.finished = True
                    yield Finished(False, f"{event.step} failed: {event.problem}", leftovers=self.leftovers())
                    return
            image = built[0]
        else:
            yield StepSkipped("build", f"--image {image}")
            yield StepSkipped("push", "the image exists already")

        yield StepStarted("render", str(opts.path / "manifests"))
        params = DeployParameters(
            name=project.name, namespace=namespace, image=image, replicas=opts.replicas or project.replicas
        )
        try:
            objects = await asyncio.to_thread(render_kustomization, opts.path / "manifests")
            objects = apply_parameters(objects, params)
        except ManifestError as exc:
            async for e in self._fail("render", str(exc)):
                yield e
            return
        problems = pod_security_problems(objects)
        if problems:
            async for e in self._fail(
                "render",
                "the manifests break the restricted Pod Security Standard: " + "; ".join(problems),
                "fix the overlay patch that weakens the security context (the base meets the standard)",
            ):
                yield e
            return
        yield StepDone("render", f"{len(objects)} objects for {project.name} in {namespace}, image {image}")

        if opts.dry_run:
            async for event in self._dry_run(kube, objects):
                yield event
            return

        if opts.confirm is not None:
            where = f"context {kube.name}, namespace {namespace}"
            question = f"apply {len(objects)} objects of {project.name} ({image}) to {where}?"
            if not await opts.confirm(question):
                self.state.finished = True
                yield StepSkipped("apply", "not confirmed")
                yield Finished(False, "not applied: the deploy was not confirmed", leftovers=self.leftovers())
                return

        async for event in self._apply(kube, project, objects, params):
            yield event
            if isinstance(event, Finished):
                return

        yield StepStarted("rollout", f"deployment/{project.name}")
        watch = RolloutWatch(kube, namespace, project.name, timeout=opts.timeout)
        try:
            async for update in watch.events():
                yield update
        except KubeProblem as exc:
            async for e in self._fail("rollout", f"lost the rollout watch: {exc.message}"):
                yield e
            return
        if not watch.result.ok:
            fix = watch.result.diagnosis.fix if watch.result.diagnosis else ""
            yield StepFailed("rollout", watch.result.detail, fix)
            if watch.result.diagnosis is not None:
                yield watch.result.diagnosis
            async for event in self._rollback(kube):
                yield event
            self.state.finished = True
            yield Finished(False, f"rollout failed: {watch.result.detail}", leftovers=self.leftovers())
            return
        yield StepDone("rollout", watch.result.detail)

        connect = f"aksmcp connect vscode deploy/{project.name} -n {namespace}" + (
            f" --context {opts.context}" if opts.context else ""
        )
        if opts.smoke_test:
            from aksmcp_tui.core.deploy.smoke import SmokeTestFailed, smoke_test

            yield StepStarted("smoke test", f"MCP tools/list through a forward to deploy/{project.name}")
            try:
                result = await smoke_test(kube, namespace, project.name, params.secret_name)
            except SmokeTestFailed as exc:
                async for e in self._fail(
                    "smoke test", str(exc), f"kubectl -n {namespace} logs deploy/{project.name} shows the server's side"
                ):
                    yield e
                return
            yield StepDone(
                "smoke test",
                f"{result.server} answered tools/list with {len(result.tools)} tools ({', '.join(result.tools)})",
            )
        self.state.finished = True
        yield Finished(True, f"{project.name} is running in {namespace} ({image})", connect=connect)

    # ------------------------------------------------------------------------------ dry run --

    async def _dry_run(self, kube: KubeContext, objects: list[dict[str, Any]]) -> AsyncIterator[DeployEvent]:
        yield StepStarted("apply", "server-side dry run (nothing is changed)")
        diff: list[str] = []
        for obj in objects:
            try:
                info = await kube.resource_for(str(obj["apiVersion"]), str(obj["kind"]))
                ns = obj["metadata"].get("namespace") if info.namespaced else None
                path = info.path(ns, obj["metadata"]["name"])
                try:
                    current = await kube.get(path)
                except KubeProblem as exc:
                    if exc.kind != "not_found":
                        raise
                    current = None
                if ns and current is None and not await _namespace_exists(kube, ns):
                    planned: Mapping[str, Any] = obj  # the server cannot dry-run into a namespace not yet there
                else:
                    planned = await kube.request(
                        "PATCH",
                        path,
                        query={"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All"},
                        body=obj,
                        content_type=APPLY_CONTENT_TYPE,
                    )
            except KubeProblem as exc:
                diagnosis = apply_failure(str(obj.get("kind")), str(obj["metadata"].get("name")), exc.message)
                yield diagnosis
                async for e in self._fail("apply", diagnosis.summary, diagnosis.fix):
                    yield e
                return
            diff += object_diff(current, planned) or [f"= {describe(obj)} unchanged"]
        yield Rendered(objects, diff)
        yield StepDone("apply", "dry run: nothing was changed")
        self.state.finished = True
        yield Finished(True, "dry run done: the objects and the diff are above")

    # -------------------------------------------------------------------------------- apply --

    async def _apply(
        self, kube: KubeContext, project: Project, objects: list[dict[str, Any]], params: DeployParameters
    ) -> AsyncIterator[DeployEvent]:
        ns = params.namespace
        yield StepStarted("apply", f"server-side apply as field manager {FIELD_MANAGER}")
        deployment_path = f"/apis/apps/v1/namespaces/{ns}/deployments/{project.name}"
        try:
            before = await kube.get(deployment_path)
            self.state.previous_revision = ((before.get("metadata") or {}).get("annotations") or {}).get(REVISION)
        except KubeProblem as exc:
            if exc.kind != "not_found":
                async for e in self._fail("apply", exc.message):
                    yield e
                return
        namespaces = [o for o in objects if o.get("kind") == "Namespace"]
        others = [o for o in objects if o.get("kind") != "Namespace"]
        for obj in namespaces:
            async for event in self._apply_one(kube, obj):
                yield event
                if isinstance(event, Finished):
                    return
        try:
            if await _ensure_key_secret(kube, ns, params.secret_name):
                self.state.created.append(("secret", params.secret_name))
                yield StepDone("apply", f"Secret {ns}/{params.secret_name}: random API and request-state keys")
            missing = await _ensure_env_secret(kube, ns, project)
        except KubeProblem as exc:
            async for e in self._fail("apply", f"cannot create the key Secret: {exc.message}"):
                yield e
            return
        if missing:
            helps = [s.help for entry in CATALOG.values() for s in entry.secrets if s.name in missing]
            async for e in self._fail(
                "apply",
                f"Secret {ns}/{project.env_secret} does not exist and {', '.join(missing)} is not set here",
                f"export {missing[0]}=... ({helps[0] if helps else 'see the project README'}) and deploy again",
            ):
                yield e
            return
        if project.secret_env:
            self.state.created.append(("secret", project.env_secret))
        for obj in others:
            async for event in self._apply_one(kube, obj):
                yield event
                if isinstance(event, Finished):
                    return
        yield StepDone("apply", f"{len(objects)} objects applied")

    async def _apply_one(self, kube: KubeContext, obj: dict[str, Any]) -> AsyncIterator[DeployEvent]:
        kind, name = str(obj.get("kind")), str(obj["metadata"].get("name"))
        try:
            _, created = await apply_object(kube, obj)
        except KubeProblem as exc:
            diagnosis = apply_failure(kind, name, exc.message)
            yield diagnosis
            async for event in self._rollback(kube):
                yield event
            async for e in self._fail("apply", diagnosis.summary, diagnosis.fix):
                yield e
            return
        self.state.applied.append(describe(obj))
        if created:
            self.state.created.append((_KUBECTL_NAMES.get(kind, kind.lower()), name))
        yield StepDone("apply", f"{describe(obj)} {'created' if created else 'configured'}")

    # ----------------------------------------------------------------------------- rollback --

    async def _rollback(self, kube: KubeContext) -> AsyncIterator[DeployEvent]:
        state = self.state
        ns, name = state.namespace, state.name
        if not self.options.rollback:
            yield RolledBack(f"--no-rollback: deployment/{name} stays as it is, for you to inspect")
            return
        try:
            current = await kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        except KubeProblem:
            return  # nothing of ours to roll back (the failure came before the Deployment existed)
        revision = ((current.get("metadata") or {}).get("annotations") or {}).get(REVISION)
        if state.previous_revision is None:
            yield RolledBack(
                f"first deploy of {name}: there is no previous revision to roll back to; "
                "the objects stay for you to inspect (see below how to remove them)"
            )
            return
        if revision == state.previous_revision:
            yield RolledBack(f"deployment/{name} is still on revision {revision}: nothing to roll back")
            state.rolled_back = True
            return
        try:
            selector = ",".join(f"{k}={v}" for k, v in sorted(current["spec"]["selector"]["matchLabels"].items()))
            sets = await kube.get(f"/apis/apps/v1/namespaces/{ns}/replicasets", labelSelector=selector)
            target = next(
                (
                    rs
                    for rs in sets.get("items") or []
                    if ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION) == state.previous_revision
                ),
                None,
            )
            if target is None:
                gone = f"revision {state.previous_revision} of {name} is gone (revision history)"
                yield RolledBack(f"{gone}; not rolled back")
                return
            template = copy.deepcopy(target["spec"]["template"])
            template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
            # What `kubectl rollout undo` does: the old template back, as a JSON patch.
            await kube.request(
                "PATCH",
                f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
                query={"fieldManager": FIELD_MANAGER},
                body=[{"op": "replace", "path": "/spec/template", "value": template}],
                content_type="application/json-patch+json",
            )
        except KubeProblem as exc:
            yield RolledBack(f"rollback of deployment/{name} failed: {exc.message}")
            return
        state.rolled_back = True
        old_image = main_container({"metadata": {"name": name}, "spec": {"template": template}}).get("image")
        yield RolledBack(
            f"deployment/{name} rolled back from revision {revision} to revision {state.previous_revision} "
            f"(image {old_image}); other objects (ConfigMap, Service...) keep the new settings"
        )


async def _namespace_exists(kube: KubeContext, namespace: str) -> bool:
    try:
        await kube.get(f"/api/v1/namespaces/{namespace}")
    except KubeProblem as exc:
        if exc.kind == "not_found":
            return False
        raise
    return True


def _secret_value() -> str:
    return base64.b64encode(secrets_module.token_urlsafe(32).encode()).decode()


async def _ensure_key_secret(kube: KubeContext, namespace: str, name: str) -> bool:
    """The deployment's API-key Secret, created once (an existing key is never replaced)."""
    from aksmcp_tui.core.bootstrap import ensure_api_key_secret

    return await ensure_api_key_secret(kube, namespace, name=name)


async def _ensure_env_secret(kube: KubeContext, namespace: str, project: Project) -> list[str]:
    """A bridge project's env Secret from this environment, created once; the names still missing."""
    if not project.secret_env:
        return []
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        await kube.get(f"{path}/{project.env_secret}")
        return []
    except KubeProblem as exc:
        if exc.kind != "not_found":
            raise
    missing = [n for n in project.secret_env if not os.environ.get(n)]
    if missing:
        return missing
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": project.env_secret, "namespace": namespace},
        "type": "Opaque",
        "data": {n: base64.b64encode(os.environ[n].encode()).decode() for n in project.secret_env},
    }
    await kube.request("POST", path, body=body)
    return []
