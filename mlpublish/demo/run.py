"""``mlpublish demo``: build the demo warehouse, publish twice, show what happened and where to look."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mlpublish import config
from mlpublish.demo.data import build_demo_warehouse
from mlpublish.deployment import for_spec
from mlpublish.errors import SpecError
from mlpublish.registry.session import scoped_environ
from mlpublish.spec import load_spec
from mlpublish.workflows.chain import run_chain
from mlpublish.workflows.report import chain_summary, model_status, status_text

PACKAGE = Path(__file__).resolve().parents[1]  # mlpublish/
# The repository's specs/churn.yaml is the one copy: the wheel carries it as package data in
# mlpublish/demo_specs/ (pyproject.toml maps that folder to specs/); a source checkout has only the original.
PACKAGED_SPEC = PACKAGE / "demo_specs" / "churn.yaml"
SOURCE_SPEC = PACKAGE.parent / "specs" / "churn.yaml"
# the demo's files are in its own folder, whatever the caller's environment says
DEMO_OWNED_VARIABLES = ("MLFLOW_TRACKING_URI", "MLPUBLISH_CATALOG", "WAREHOUSE_URL")


def bundled_spec() -> Path:
    """The demo spec shipped with the package (installed), else the repository's (source checkout)."""
    return PACKAGED_SPEC if PACKAGED_SPEC.is_file() else SOURCE_SPEC


def _rule(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 66 - len(title)))


def run_demo(workdir: Path, spec_path: str | None = None, customers: int = 4000) -> int:
    spec_file = Path(spec_path).resolve() if spec_path else bundled_spec()
    if not spec_file.exists():
        raise SpecError(str(spec_file), [("<file>", "demo spec not found; pass --spec PATH")])
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # The demo owns its folder: start from a clean slate so the story is the same every time.
    for name in ("warehouse.db", config.DEFAULT_TRACKING_DB, config.DEFAULT_CATALOG_FILE):
        for suffix in ("", "-wal", "-shm", "-journal"):
            (workdir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(workdir / config.DEFAULT_ARTIFACT_DIR, ignore_errors=True)
    os.chdir(workdir)
    with scoped_environ(dict.fromkeys(DEMO_OWNED_VARIABLES)):
        return _tell_the_story(workdir, spec_file, customers)


def _tell_the_story(workdir: Path, spec_file: Path, customers: int) -> int:
    warehouse = "sqlite:///warehouse.db"
    _rule("1. demo warehouse")
    counts = build_demo_warehouse(warehouse, customers=customers, seed=7)
    print(f"built {workdir / 'warehouse.db'}: " + ", ".join(f"{t}={n}" for t, n in counts.items()))
    spec = load_spec(spec_file)
    deployment = for_spec(spec)

    _rule("2. first publish (no champion yet)")
    with deployment.mlflow_session():
        first = run_chain(spec, pipeline={"name": "mlpublish-demo", "runId": "demo-1"})
    print(chain_summary(first))

    _rule("3. fresh data arrives, second publish (challenger vs champion)")
    counts = build_demo_warehouse(warehouse, customers=customers // 2, seed=11, append=True)
    print("grew the warehouse: " + ", ".join(f"{t}={n}" for t, n in counts.items()))
    with deployment.mlflow_session():
        second = run_chain(spec, pipeline={"name": "mlpublish-demo", "runId": "demo-2"})
    print(chain_summary(second))

    _rule("4. registry status")
    print(status_text(model_status(deployment.open_registry(), spec.name)))

    _rule("5. catalog entry (OpenMetadata MlModel shape)")
    catalog = deployment.open_catalog()
    entity = catalog.find_model(spec.fqn)
    compact = {
        k: entity[k]
        for k in ("fullyQualifiedName", "version", "algorithm", "target", "mlStore", "tags", "extension")
        if k in entity
    }
    compact["mlFeatures"] = [
        f"{f['name']} <- "
        + ", ".join(
            s["dataSource"]["fullyQualifiedName"] + "." + s["name"] for s in f["featureSources"] if "dataSource" in s
        )
        for f in entity["mlFeatures"]
    ]
    print(json.dumps(compact, indent=2))
    lineage = catalog.lineage(spec.fqn)
    print("lineage:")
    for e in lineage["upstreamEdges"]:
        print(
            f"  {e['fromEntity']['fqn']} -> {e['toEntity']['fqn']} ({len(e['lineageDetails']['columnsLineage'])} column edges)"
        )

    _rule("where to look")
    print(f"MLflow UI:      mlflow ui --backend-store-uri sqlite:///{workdir / config.DEFAULT_TRACKING_DB}")
    print(f"                (experiment {spec.experiment_name}, registered model {spec.name})")
    print(f"status:         cd {workdir} && mlpublish status {spec.name}")
    print(f"catalog:        cd {workdir} && mlpublish catalog show {spec.name}")
    print(f"lineage:        cd {workdir} && mlpublish catalog lineage {spec.name}")
    print(f"roll back:      cd {workdir} && mlpublish rollback {spec.name}")
    return 0
