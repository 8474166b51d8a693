"""`aksmcp tls enable`: the ingress-tls component with the project's host, issuer and ingress class."""

from __future__ import annotations

import re
from typing import Any

from aksmcp_tui.core.components import annotations as ann
from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.overlay import add_component, enabled_components, write_settings
from aksmcp_tui.core.components.project import BASE_NAME, BASE_NAMESPACE, ComponentError, Project
from aksmcp_tui.core.components.readme import set_readme_section
from aksmcp_tui.core.components.result import GeneratorResult

ISSUERS = ("letsencrypt-staging", "letsencrypt-prod")
INGRESS_CLASSES = {"webapprouting": "webapprouting.kubernetes.azure.com", "nginx": "nginx"}
DEFAULT_INGRESS_CLASS = "webapprouting"  # AKS's application routing add-on
# A stateful session lives on one pod: NGINX hashes the session header to pick the same upstream.
SESSION_HASH_ANNOTATION = "nginx.ingress.kubernetes.io/upstream-hash-by"
SESSION_HASH_VALUE = "$http_mcp_session_id"

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_tls(host: str, issuer: str, email: str | None, ingress_class: str) -> None:
    if not _HOST.match(host):
        raise ComponentError(f"--host {host!r} must be a fully qualified DNS name in lowercase, e.g. mcp.contoso.com")
    if issuer not in ISSUERS:
        raise ComponentError(f"--issuer must be one of {', '.join(ISSUERS)}, not {issuer!r}")
    if email is not None and not _EMAIL.match(email):
        raise ComponentError(f"--email {email!r} is not an e-mail address")
    if ingress_class not in INGRESS_CLASSES:
        raise ComponentError(f"--ingress-class must be one of {', '.join(INGRESS_CLASSES)}, not {ingress_class!r}")


def _path(prefix: str) -> dict[str, Any]:
    return {
        "path": prefix,
        "pathType": "Prefix",
        "backend": {"service": {"name": BASE_NAME, "port": {"name": "mcp"}}},
    }


def enable_tls(
    project: Project, host: str, issuer: str, email: str | None = None, ingress_class: str = DEFAULT_INGRESS_CLASS
) -> GeneratorResult:
    validate_tls(host, issuer, email, ingress_class)
    class_name = INGRESS_CLASSES[ingress_class]
    changes = ChangeSet(project.root)
    command = f"aksmcp tls enable --host {host} --issuer {issuer}"
    if email:
        command += f" --email {email}"
    result = GeneratorResult(command + f" --ingress-class {ingress_class}", changes)
    add_component(changes, "ingress-tls")
    ingress_annotations = {"cert-manager.io/cluster-issuer": issuer}
    if project.stateful:
        ingress_annotations[SESSION_HASH_ANNOTATION] = SESSION_HASH_VALUE
    acme: dict[str, Any] = {"solvers": [{"http01": {"ingress": {"ingressClassName": class_name}}}]}
    if email:
        acme = {"email": email, **acme}
    resource_url = f"https://{host}/mcp"
    patches: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE, "annotations": ingress_annotations},
            "spec": {
                "ingressClassName": class_name,
                "tls": [{"hosts": [host], "secretName": f"{project.name}-tls"}],
                "rules": [
                    {
                        "host": host,
                        "http": {"paths": [_path("/mcp"), _path("/.well-known/oauth-protected-resource")]},
                    }
                ],
            },
        },
        *(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": name},
                "spec": {"acme": acme},
            }
            for name in ISSUERS
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": BASE_NAME, "namespace": BASE_NAMESPACE},
            "data": {
                # The Service names stay: port-forwards and in-cluster clients use them.
                "AKSMCP_ALLOWED_HOSTS": ",".join([*project.service_hosts, host]),
                "AKSMCP_RESOURCE_URL": resource_url,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": BASE_NAME,
                "namespace": BASE_NAMESPACE,
                "annotations": {f"{ann.PREFIX}ingress-tls": resource_url},
            },
        },
    ]
    write_settings(changes, "ingress-tls", patches, f"Written by `{result.command}`: run it again to change these.")
    if not email:
        result.warnings.append("No --email: Let's Encrypt cannot warn you before a certificate expires.")
    if issuer == "letsencrypt-staging":
        result.notes.append(
            "Staging certificates are not trusted by clients: once issuance works, re-run with "
            "--issuer letsencrypt-prod."
        )
    if ingress_class == "webapprouting":
        result.notes.append(
            "Needs AKS's application routing add-on: az aks approuting enable -g RESOURCE_GROUP -n CLUSTER"
        )
    else:
        result.notes.append("Needs ingress-nginx with IngressClass `nginx` in the cluster.")
    result.notes += [
        "Needs cert-manager: helm install cert-manager oci://quay.io/jetstack/charts/cert-manager "
        "--namespace cert-manager --create-namespace --set crds.enabled=true",
        f"Point DNS for {host} at the ingress controller's public IP; the server is then at {resource_url}",
    ]
    set_readme_section(
        changes,
        "tls",
        _README.format(
            host=host,
            url=resource_url,
            issuer=issuer,
            cls=class_name,
            namespace=project.namespace,
            name=project.name,
            addon=_ADDON if ingress_class == "webapprouting" else _NGINX,
        ),
    )
    if "auth-apikey" not in enabled_components(changes) and "auth-entra" not in enabled_components(changes):
        result.notes.append("The base's API-key auth stays on; `aksmcp auth enable` adds key rotation or Entra ID.")
    return result


_ADDON = """# AKS application routing (managed NGINX), once per cluster
az aks approuting enable --resource-group RESOURCE_GROUP --name CLUSTER
# its public IP, for the DNS record
kubectl -n app-routing-system get service nginx -o jsonpath='{.status.loadBalancer.ingress[0].ip}'"""

_NGINX = """# ingress-nginx, once per cluster
helm upgrade --install ingress-nginx ingress-nginx --repo https://kubernetes.github.io/ingress-nginx \\
  --namespace ingress-nginx --create-namespace
kubectl -n ingress-nginx get service ingress-nginx-controller -o jsonpath='{.status.loadBalancer.ingress[0].ip}'"""

_README = """## HTTPS: {url}

An Ingress (class `{cls}`) publishes `/mcp` (and the OAuth metadata) on `{host}` with a certificate
from cert-manager's `{issuer}` ClusterIssuer; `/metrics` and the health routes stay inside the cluster.

```bash
{addon}
# cert-manager, once per cluster
helm install cert-manager oci://quay.io/jetstack/charts/cert-manager --namespace cert-manager \\
  --create-namespace --set crds.enabled=true
# point an A record for {host} at that IP, deploy, then watch the certificate
aksmcp deploy
kubectl -n {namespace} get certificate {name}-tls -w
```
"""
