"""Helpers for the Dagster tests: a spec folder, registry and catalog state comparable across runs, and the
Dagster environment's executables for the tests of .venv that run Dagster in a process of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from tests.conftest import ROOT, churn_dict, deep_merge, write_spec

# `make venv` builds it from uv.lock (dev + dagster, no OpenMetadata SDK: docs/install.md)
DAGSTER_VENV = ROOT / ".venv-dagster"

# Differ between two runs of the same spec on the same data by construction: ids and clocks.
VOLATILE_VERSION_TAGS = {"mlpublish.run_id", "mlpublish.champion_since"}
VOLATILE_EXTENSION = {"championRunId", "latestRunId", "validatedRunId", "lastTrainedAt", "lastPublishedAt"}
VOLATILE_ENTITY = {"id", "updatedAt", "changeDescription", "href"}


def dagster_bin(name: str = "python") -> str:
    """An executable of the Dagster environment (``python``, ``dagster``, ...), for a test running in .venv."""
    path = DAGSTER_VENV / "bin" / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: `make venv` builds the Dagster environment from uv.lock")
    return str(path)


def materialize_argv(dagster: str, key: str = "customer_churn_predictor") -> list[str]:
    """``dagster asset materialize`` of the publish chain as a user would select it (the champion and what it
    is made from), with the steps in the run's own process: the default starts one process per step, each
    importing MLflow and scikit-learn again (minutes on a loaded machine), and the catalog sees the same events."""
    return [
        dagster,
        "asset",
        "materialize",
        "-m",
        "mlpublish_dagster.definitions",
        "--select",
        f'+key:"{key}/champion_model"',
        "--config-json",
        '{"execution": {"config": {"in_process": {}}}}',
    ]


def spec_folder(root: Path, **overrides: Any) -> Path:
    """A folder holding one spec: the demo spec made cheap, with ``overrides`` deep-merged."""
    folder = root / "specs"
    folder.mkdir(parents=True, exist_ok=True)
    write_spec(folder / "churn.yaml", churn_dict(**overrides))
    return folder


def cli_copy(root: Path, warehouse: Path, mlflow_template: Path, spec_dict: dict[str, Any]) -> Path:
    """The same spec against a copy of the warehouse and an empty MLflow store, with explicit URIs."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(warehouse, root / "warehouse.db")
    shutil.copy(mlflow_template, root / "mlflow.db")
    spec = deep_merge(
        spec_dict,
        {
            "data": {"connection": f"sqlite:///{root / 'warehouse.db'}"},
            "mlflow": {"trackingUri": f"sqlite:///{root / 'mlflow.db'}"},
            "catalog": {"url": str(root / "catalog.db")},
        },
    )
    return write_spec(root / "spec.yaml", spec)


def registry_state(tracking_uri: str, name: str) -> dict[str, Any]:
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    models = client.search_registered_models(f"name = '{name}'")
    if not models:
        return {"registered": False}
    model = models[0]
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    tags = dict(model.tags)
    history = [
        {k: e.get(k) for k in ("to", "from", "action")}
        for e in json.loads(tags.pop("mlpublish.champion_history", "[]"))
    ]
    out_versions = []
    for v in versions:
        run = client.get_run(v.run_id)
        out_versions.append(
            {
                "version": v.version,
                "tags": {k: val for k, val in v.tags.items() if k not in VOLATILE_VERSION_TAGS},
                "run_validation": run.data.tags.get("model_validation_status"),
                "test_metrics": {
                    k: round(m, 9) for k, m in run.data.metrics.items() if k.startswith(("test_", "champion_test_"))
                },
            }
        )
    return {
        "registered": True,
        "aliases": {k: str(v) for k, v in model.aliases.items()},
        "model_tags": tags,
        "history": history,
        "versions": out_versions,
    }


def catalog_state(catalog: Any, fqn: str) -> dict[str, Any]:
    entity = dict(catalog.get(fqn) or {})
    for k in VOLATILE_ENTITY:
        entity.pop(k, None)
    entity["extension"] = {k: v for k, v in entity.get("extension", {}).items() if k not in VOLATILE_EXTENSION}
    # the description is the champion's model card, which names its run: compare its title line
    entity["description"] = (entity.get("description") or "").split("\n", 1)[0]
    if entity.get("mlStore"):
        entity["mlStore"] = {k: v for k, v in entity["mlStore"].items() if k != "storage"}
    edges = {(e["fromEntity"]["fqn"], e["toEntity"]["fqn"]): e for e in catalog.lineage(fqn)["upstreamEdges"]}
    return {
        "entity": entity,
        "edges": sorted(edges),
        "aliases": [
            {k: h.get(k) for k in ("alias", "version", "previous", "action")} for h in catalog.alias_history(fqn)
        ],
    }


def lineage_pipelines(catalog: Any, fqn: str) -> list[Any]:
    return [e.get("lineageDetails", {}).get("pipeline") for e in catalog.lineage(fqn)["upstreamEdges"]]
