"""Guided deploy: scaffold a project (`init`), build and push its image, render its manifests with
the deployment's parameters, server-side apply, watch the rollout, diagnose, roll back, smoke test.

- `scaffold.init_project` / `catalog.CATALOG`: `aksmcp init`
- `project.load_project`: a project's aksmcp.yaml
- `flow.deploy` (async iterator of typed events): `aksmcp deploy` and the dashboard's `d`
"""
