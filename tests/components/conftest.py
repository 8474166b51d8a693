"""Every combination of components built once per session (aksmcp init + the generators, rendered with
`kubectl kustomize`): the offline checks and the sandbox apply share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.components.support import kubectl_kustomize
from tests.components.test_render import COMBINATIONS, Combination, _build


@pytest.fixture(scope="session")
def rendered_combinations(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Combination, tuple[Path, list[dict[str, Any]]]]:
    base = tmp_path_factory.mktemp("combinations")
    built = {}
    for index, combination in enumerate(COMBINATIONS):
        root = _build(base / f"c{index}", *combination, name="weather", namespace="tools")
        built[combination] = (root, kubectl_kustomize(root / "manifests"))
    return built
