"""What the cluster tree offers: kubeconfig contexts, the sandbox, the Azure placeholder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SANDBOX_CONTEXT = "aksmcp-sandbox"


@dataclass(frozen=True)
class ClusterTarget:
    """One context to watch. `kubeconfig` None means kubectl's own resolution ($KUBECONFIG, ~/.kube/config)."""

    context: str
    kubeconfig: str | None = None
    origin: str = "kubeconfig"  # "kubeconfig" | "sandbox"
    namespace: str | None = None  # the context's default namespace, shown as a hint only
    server: str | None = None
    is_current: bool = False

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.context, self.kubeconfig)


@dataclass(frozen=True)
class TargetList:
    kubeconfig_targets: tuple[ClusterTarget, ...]
    sandbox: ClusterTarget | None
    kubeconfig_problem: str | None  # a broken kubeconfig is shown in the tree, not raised
    kubeconfig: str | None = None  # what was read (None: $KUBECONFIG / ~/.kube/config); new contexts go there

    def all(self) -> list[ClusterTarget]:
        targets = list(self.kubeconfig_targets)
        if self.sandbox is not None:
            targets.append(self.sandbox)
        return targets

    def find(self, context: str) -> ClusterTarget | None:
        # the running sandbox's own kubeconfig wins over a copy of its context merged into ~/.kube/config,
        # which may name an old port
        if self.sandbox is not None and context == self.sandbox.context:
            return self.sandbox
        for target in self.all():
            if target.context == context:
                return target
        return None

    def initial(self) -> ClusterTarget | None:
        for target in self.kubeconfig_targets:
            if target.is_current:
                return target
        if self.sandbox is not None:
            return self.sandbox
        return self.kubeconfig_targets[0] if self.kubeconfig_targets else None


def discover_targets(kubeconfig: str | None = None, sandbox_kubeconfig: Path | None = None) -> TargetList:
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_contexts

    problem: str | None = None
    targets: list[ClusterTarget] = []
    try:
        contexts = load_contexts(kubeconfig)
    except KubeconfigError as error:
        contexts = []
        problem = str(error)
    except OSError as error:  # unreadable file or directory: shown in the tree, never a traceback
        contexts = []
        problem = f"cannot read the kubeconfig: {error.strerror or error}"
    for info in contexts:
        targets.append(
            ClusterTarget(
                context=info.name,
                kubeconfig=kubeconfig,
                origin="kubeconfig",
                namespace=info.namespace,
                server=info.server,
                is_current=info.is_current,
            )
        )
    sandbox = None
    if sandbox_kubeconfig is not None:
        sandbox = ClusterTarget(context=SANDBOX_CONTEXT, kubeconfig=str(sandbox_kubeconfig), origin="sandbox")
    return TargetList(tuple(targets), sandbox, problem, kubeconfig)
