"""`aksmcp ci generate github`: a GitHub Actions workflow that builds, pushes to ACR and deploys with
aksmcp, logging in to Azure with OIDC federation (no stored secret), then gates on `aksmcp test`.

The workflow is written at the git repository's root (`.github/workflows/`), with the project's
directory as the working directory when the project lives in a sub-folder."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from aksmcp_tui import __version__
from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.project import ComponentError, Project
from aksmcp_tui.core.components.result import GeneratorResult
from aksmcp_tui.core.components.yamltext import dump

WORKFLOW_FILE = "aksmcp-deploy.yml"
ENVIRONMENT = "production"
# ACR login servers in the public and sovereign clouds.
ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")
_REGISTRY = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REMOTE = re.compile(r"github\.com[:/]([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$")
# Pinned major versions of the actions (what actionlint knows and Dependabot keeps current).
ACTIONS = {
    "checkout": "actions/checkout@v4",
    "python": "actions/setup-python@v5",
    "login": "azure/login@v2",
    "kubelogin": "azure/use-kubelogin@v1",
    "aks": "azure/aks-set-context@v4",
}


def _git_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def github_repository(root: Path) -> str | None:
    """OWNER/REPO from the `origin` remote, when it is a GitHub URL."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _REMOTE.search(out.stdout.strip()) if out.returncode == 0 else None
    return match.group(1) if match else None


def registry_for(project: Project, registry: str | None) -> str:
    if registry is None:
        repository = project.image_repository or ""
        registry = repository.split("/", 1)[0] if "/" in repository else ""
        if not registry.endswith(ACR_SUFFIXES):
            raise ComponentError(
                "which Azure Container Registry? pass --registry NAME.azurecr.io "
                "(the project's image repository is not in an ACR)"
            )
    registry = registry.strip().lower().removeprefix("https://").rstrip("/")
    if not _REGISTRY.match(registry):
        raise ComponentError(f"--registry {registry!r} must be an ACR login server such as myregistry.azurecr.io")
    return registry


def workflow(project: Project, registry: str, working_directory: str) -> dict[str, Any]:
    image = f"{registry}/{project.name}"
    run_defaults: dict[str, Any] = {"shell": "bash"}
    if working_directory != ".":
        run_defaults["working-directory"] = working_directory
    steps: list[dict[str, Any]] = [
        {"name": "Check out", "uses": ACTIONS["checkout"]},
        {
            # OIDC: GitHub's token is exchanged for an Entra token through the federated credential.
            "name": "Azure login (OIDC federated credential, no stored secret)",
            "uses": ACTIONS["login"],
            "with": {
                "client-id": "${{ vars.AZURE_CLIENT_ID }}",
                "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
            },
        },
        {"name": "Set up Python", "uses": ACTIONS["python"], "with": {"python-version": "3.12"}},
        {"name": "Install aksmcp", "run": f'python -m pip install "aksmcp=={__version__}"'},
        {"name": "Log in to the registry", "run": 'az acr login --name "${REGISTRY%%.*}"'},
        {"name": "Build the image", "run": 'docker build --pull --tag "$IMAGE:$GITHUB_SHA" .'},
        {"name": "Push to ACR", "run": 'docker push "$IMAGE:$GITHUB_SHA"'},
        {"name": "Set up kubelogin", "uses": ACTIONS["kubelogin"], "with": {"kubelogin-version": "v0.1.6"}},
        {
            "name": "AKS credentials",
            "uses": ACTIONS["aks"],
            "with": {
                "resource-group": "${{ vars.AKS_RESOURCE_GROUP }}",
                "cluster-name": "${{ vars.AKS_CLUSTER_NAME }}",
                "admin": "false",
                "use-kubelogin": "true",
            },
        },
        {
            "name": "Deploy with aksmcp",
            "run": 'aksmcp deploy . --namespace "$NAMESPACE" --image "$IMAGE:$GITHUB_SHA" --yes',
        },
        {
            "name": "Rollout check",
            "run": 'kubectl --namespace "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=5m',
        },
        {
            # The conformance gate runs against the deployed server through a port-forward.
            "name": "Gate: aksmcp test against the deployed server",
            "run": 'aksmcp test "deploy/$DEPLOYMENT" --namespace "$NAMESPACE"',
        },
    ]
    return {
        "name": f"Deploy {project.name} to AKS",
        "on": {
            "push": {"branches": ["main"]},
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read", "id-token": "write"},
        "concurrency": {"group": f"aksmcp-deploy-{project.name}", "cancel-in-progress": False},
        "env": {
            "REGISTRY": registry,
            "IMAGE": image,
            "NAMESPACE": project.namespace,
            "DEPLOYMENT": project.name,
        },
        "jobs": {
            "deploy": {
                "name": "Build, push, deploy, test",
                "runs-on": "ubuntu-latest",
                "environment": ENVIRONMENT,
                "timeout-minutes": 30,
                "defaults": {"run": run_defaults},
                "steps": steps,
            }
        },
    }


def az_commands(project: Project, registry: str, repository: str | None) -> list[str]:
    repo = repository or "$GITHUB_REPOSITORY"
    subject = f"repo:{repo}:environment:{ENVIRONMENT}"
    credential = (
        '{"name": "github-' + project.name + "-" + ENVIRONMENT + '", '
        '"issuer": "https://token.actions.githubusercontent.com", '
        f'"subject": "{subject}", "audiences": ["api://AzureADTokenExchange"]}}'
    )
    lines = []
    if repository is None:
        lines.append("GITHUB_REPOSITORY=OWNER/REPO   # the repository that runs the workflow")
    lines += [
        "RESOURCE_GROUP=my-resource-group AKS_CLUSTER=my-aks-cluster   # where the server runs",
        f'APP_ID=$(az ad app create --display-name "github-{project.name}-deploy" --query appId -o tsv)',
        'az ad sp create --id "$APP_ID"',
        f"az ad app federated-credential create --id \"$APP_ID\" --parameters '{credential}'",
        f'az role assignment create --assignee "$APP_ID" --role AcrPush '
        f'--scope "$(az acr show --name {registry.split(".")[0]} --query id -o tsv)"',
        'AKS_ID=$(az aks show -g "$RESOURCE_GROUP" -n "$AKS_CLUSTER" --query id -o tsv)',
        'az role assignment create --assignee "$APP_ID" --role "Azure Kubernetes Service Cluster User Role" '
        '--scope "$AKS_ID"',
        'az role assignment create --assignee "$APP_ID" --role "Azure Kubernetes Service RBAC Writer" '
        f'--scope "$AKS_ID/namespaces/{project.namespace}"',
        'gh variable set AZURE_CLIENT_ID --repo "$GITHUB_REPOSITORY" --body "$APP_ID"'
        if repository is None
        else f'gh variable set AZURE_CLIENT_ID --repo {repo} --body "$APP_ID"',
    ]
    target = '"$GITHUB_REPOSITORY"' if repository is None else repo
    lines += [
        f'gh variable set AZURE_TENANT_ID --repo {target} --body "$(az account show --query tenantId -o tsv)"',
        f'gh variable set AZURE_SUBSCRIPTION_ID --repo {target} --body "$(az account show --query id -o tsv)"',
        f'gh variable set AKS_RESOURCE_GROUP --repo {target} --body "$RESOURCE_GROUP"',
        f'gh variable set AKS_CLUSTER_NAME --repo {target} --body "$AKS_CLUSTER"',
    ]
    return lines


def generate_github(project: Project, registry: str | None = None, repository: str | None = None) -> GeneratorResult:
    acr = registry_for(project, registry)
    if repository is not None and not _REPO.match(repository):
        raise ComponentError(f"--repo {repository!r} must be OWNER/REPO")
    git_root = _git_root(project.root) or project.root
    repository = repository or github_repository(git_root)
    working_directory = project.root.relative_to(git_root).as_posix() or "."
    changes = ChangeSet(git_root)
    command = "aksmcp ci generate github" + (f" --registry {registry}" if registry else "")
    result = GeneratorResult(command, changes)
    header = (
        f"# Written by `{command}`. Azure login uses OIDC federation: no secret is stored in GitHub.\n"
        "# Repository variables it needs: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID,\n"
        "# AKS_RESOURCE_GROUP, AKS_CLUSTER_NAME (the commands that create them are printed by the command).\n"
    )
    # `on` must stay a plain key: PyYAML would quote it, GitHub accepts both, but keep it readable.
    text = header + dump(workflow(project, acr, working_directory)).replace("'on':", "on:", 1)
    changes.write(Path(".github/workflows") / WORKFLOW_FILE, text)
    result.notes.append("Create the federated credential, its roles and the repository variables (run once):")
    result.notes += ["  " + line for line in az_commands(project, acr, repository)]
    result.notes.append(
        f"The GitHub environment `{ENVIRONMENT}` scopes the federated credential: add protection rules to it "
        "(required reviewers) in the repository settings."
    )
    return result
