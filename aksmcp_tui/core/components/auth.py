"""`aksmcp auth enable`: API-key or Entra ID auth in a project's overlay (one mode at a time)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aksmcp_tui.core.components import annotations as ann
from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.overlay import add_component, remove_component, write_settings
from aksmcp_tui.core.components.project import BASE_NAME, BASE_NAMESPACE, ComponentError, Project
from aksmcp_tui.core.components.readme import set_readme_section
from aksmcp_tui.core.components.result import GeneratorResult

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TENANT_DOMAIN = re.compile(r"^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$")
_AUDIENCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s,]+$|^[0-9a-fA-F-]{36}$")
# Azure CLI's well-known client id: pre-authorizing it lets `az account get-access-token` (and
# azure-identity's AzureCliCredential) get a token for the server without a consent prompt.
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
SCOPE_NAME = "access_as_user"


def _configmap(data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE},
        "data": data,
    }


def _deployment_annotations(values: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE, "annotations": values},
    }


def enable_api_key(project: Project) -> GeneratorResult:
    changes = ChangeSet(project.root)
    result = GeneratorResult("aksmcp auth enable --api-key", changes)
    if remove_component(changes, "auth-entra"):
        result.warnings.append("Entra ID auth is replaced by API-key auth (one mode at a time).")
    add_component(changes, "auth-apikey")
    set_readme_section(changes, "auth", _API_KEY_README.format(name=project.name, namespace=project.namespace))
    result.notes += [
        f"The key lives in Secret {project.name}-api-key (item `api-key`), created with a random value by "
        "`aksmcp deploy` (or now, with --context/--kubeconfig); it is never written to a file.",
        f"Rotate it with zero failed calls: aksmcp auth rotate deploy/{project.name} -n {project.namespace}",
    ]
    return result


def validate_entra(tenant: str, client_id: str, audience: str | None) -> None:
    if not (_GUID.match(tenant) or _TENANT_DOMAIN.match(tenant)):
        raise ComponentError(
            f"--tenant {tenant!r} is neither a tenant ID (GUID) nor a domain (contoso.onmicrosoft.com)"
        )
    if not _GUID.match(client_id):
        raise ComponentError(f"--client-id {client_id!r} is not an application (client) ID GUID")
    if audience is not None and not _AUDIENCE.match(audience):
        raise ComponentError(f"--audience {audience!r} must be an application ID URI (api://...) or the client ID")


def enable_entra(project: Project, tenant: str, client_id: str, audience: str | None = None) -> GeneratorResult:
    validate_entra(tenant, client_id, audience)
    changes = ChangeSet(project.root)
    result = GeneratorResult(f"aksmcp auth enable --entra --tenant {tenant} --client-id {client_id}", changes)
    if remove_component(changes, "auth-apikey"):
        result.warnings.append(
            "API-key auth is replaced by Entra ID auth: clients that send the key get 401 once this is deployed."
        )
    add_component(changes, "auth-entra")
    app_uri = audience or f"api://{client_id}"
    # v2.0 tokens carry the client ID as `aud`, v1.0 tokens the application ID URI: accept both.
    audiences = [app_uri] if audience else [app_uri, client_id]
    scope = f"{app_uri}/{SCOPE_NAME}"
    write_settings(
        changes,
        "auth-entra",
        [
            _configmap(
                {
                    "AKSMCP_ENTRA_TENANT_ID": tenant,
                    "AKSMCP_ENTRA_AUDIENCE": ",".join(audiences),
                    "AKSMCP_ENTRA_SCOPES": scope,
                }
            ),
            _deployment_annotations(
                {
                    f"{ann.PREFIX}auth-entra": f"Entra ID tokens for {app_uri} (tenant {tenant})",
                    ann.ENTRA_TENANT: tenant,
                    ann.ENTRA_CLIENT_ID: client_id,
                    ann.ENTRA_SCOPE: scope,
                }
            ),
        ],
        f"Written by `{result.command}`: run it again to change these values.",
    )
    set_readme_section(
        changes,
        "auth",
        _ENTRA_README.format(
            name=project.name,
            namespace=project.namespace,
            tenant=tenant,
            client_id=client_id,
            app_uri=app_uri,
            scope_name=SCOPE_NAME,
            azure_cli=AZURE_CLI_APP_ID,
        ),
    )
    result.notes += [
        "The app-registration steps (with the az commands, in order) are in the project's README, section "
        '"Authentication: Microsoft Entra ID".',
        f"Clients ask for scope {scope}: `aksmcp console` and `aksmcp connect` get the token through azure-identity "
        f"(e.g. `az login --tenant {tenant}` first).",
    ]
    return result


def project_readme(root: Path) -> Path:
    return root / "README.md"


_API_KEY_README = """## Authentication: API key

Clients send the key as `Authorization: Bearer <key>` or `X-API-Key: <key>`. It lives in the Secret the
deployment mounts (key `api-key`), never in a ConfigMap or a file in this repository.

```bash
# read it (e.g. for a client that is not configured by `aksmcp connect`)
kubectl -n {namespace} get secret {name}-api-key -o jsonpath='{{.data.api-key}}' | base64 -d
# rotate with zero failed calls: old and new keys are both accepted until every pod has rolled
aksmcp auth rotate deploy/{name} -n {namespace}
# ...switch the clients to the new key, then retire the old one
aksmcp auth rotate deploy/{name} -n {namespace} --finish
```
"""

_ENTRA_README = """## Authentication: Microsoft Entra ID

The server accepts Entra ID access tokens for `{app_uri}` from tenant `{tenant}` (signature checked
against the tenant's keys, issuer, audience and expiry). The app registration, in order:

```bash
# 1. sign in to the tenant that owns the registration
az login --tenant {tenant}
# 2. the API's app registration (skip if it exists: its application (client) ID is {client_id})
APP_ID=$(az ad app create --display-name "{name}" --sign-in-audience AzureADMyOrg --query appId -o tsv)
APP_OBJECT_ID=$(az ad app show --id "$APP_ID" --query id -o tsv)
# 3. its application ID URI (the token audience)
az ad app update --id "$APP_ID" --identifier-uris "api://$APP_ID"
# 4. v2.0 access tokens and one delegated scope ({scope_name})
SCOPE_ID=$(python3 -c 'import uuid; print(uuid.uuid4())')
cat > scope.json <<JSON
{{"api": {{"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": [{{"id": "$SCOPE_ID",
  "value": "{scope_name}", "type": "User", "isEnabled": true,
  "adminConsentDisplayName": "Call {name}", "adminConsentDescription": "Call the tools of the {name} MCP server",
  "userConsentDisplayName": "Call {name}", "userConsentDescription": "Call the tools of the {name} MCP server"}}]}}}}
JSON
az rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications/$APP_OBJECT_ID" \\
  --headers Content-Type=application/json --body @scope.json
# 5. pre-authorize the Azure CLI for that scope, so `az account get-access-token` and azure-identity
#    get tokens without a consent prompt (the scope must exist first: a second request)
cat > preauth.json <<JSON
{{"api": {{"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": $(az ad app show --id "$APP_ID" \\
  --query api.oauth2PermissionScopes -o json), "preAuthorizedApplications": [{{"appId": "{azure_cli}",
  "delegatedPermissionIds": ["$SCOPE_ID"]}}]}}}}
JSON
az rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications/$APP_OBJECT_ID" \\
  --headers Content-Type=application/json --body @preauth.json
# 6. the service principal in the tenant (needed before anyone can get a token for it)
az ad sp create --id "$APP_ID"
# 7. optional: only users and groups you assign may get tokens
az ad sp update --id "$APP_ID" --set appRoleAssignmentRequired=true
# 8. configure this project (done if you are reading this after running it) and deploy
aksmcp auth enable --entra --tenant {tenant} --client-id "$APP_ID"
aksmcp deploy
# 9. check: a token for the scope, and a call with it
az account get-access-token --scope "api://$APP_ID/{scope_name}" --query accessToken -o tsv
```

`aksmcp console` and `aksmcp connect` read the tenant, client ID and scope from the deployment's
annotations and get tokens through azure-identity (Azure CLI login, or a browser sign-in).
"""
