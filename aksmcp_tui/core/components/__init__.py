"""Production components for a project's overlay, one generator each: auth (API key with rotation, or
Entra ID), TLS ingress, monitoring, autoscaling (HPA or KEDA) and a CI workflow. A generator stages
file edits in a ChangeSet (diff for --dry-run, atomic write otherwise; re-running stages no change);
`rotate_api_key` is the one cluster operation. `deployed_components` reads a Deployment's components
back for the dashboard; `bearer_for_deployment` gets a client an Entra ID token for one that needs it."""

from aksmcp_tui.core.components.annotations import (
    GENERATORS,
    DeployedComponent,
    deployed_components,
    entra_client_settings,
)
from aksmcp_tui.core.components.auth import enable_api_key, enable_entra
from aksmcp_tui.core.components.changes import ChangeSet, FileChange
from aksmcp_tui.core.components.ci import generate_github
from aksmcp_tui.core.components.entra import EntraTokenError, bearer_for_deployment, entra_access_token
from aksmcp_tui.core.components.monitor import setup_monitoring
from aksmcp_tui.core.components.overlay import COMPONENT_NAMES, enabled_components
from aksmcp_tui.core.components.project import ComponentError, Project, load_project
from aksmcp_tui.core.components.result import GeneratorResult
from aksmcp_tui.core.components.rotate import rotate_api_key
from aksmcp_tui.core.components.scale import configure_scale
from aksmcp_tui.core.components.tls import enable_tls

__all__ = [
    "COMPONENT_NAMES",
    "GENERATORS",
    "ChangeSet",
    "ComponentError",
    "DeployedComponent",
    "EntraTokenError",
    "FileChange",
    "GeneratorResult",
    "Project",
    "bearer_for_deployment",
    "configure_scale",
    "deployed_components",
    "enable_api_key",
    "enable_entra",
    "enable_tls",
    "enabled_components",
    "entra_access_token",
    "entra_client_settings",
    "generate_github",
    "load_project",
    "rotate_api_key",
    "setup_monitoring",
]
