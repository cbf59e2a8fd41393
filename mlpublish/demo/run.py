"""``mlpublish demo``: build the demo warehouse, publish twice, score and monitor with the champion, show what
happened (lineage from the feature sources to the predictions table) and where to look, as commands that run
as printed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from mlpublish import config
from mlpublish.demo.data import build_demo_warehouse
from mlpublish.deployment import for_spec
from mlpublish.deployment.context import PublishContext
from mlpublish.errors import SpecError
from mlpublish.registry.session import scoped_environ
from mlpublish.spec import load_spec
from mlpublish.steps.monitor import monitor_drift, window_note
from mlpublish.steps.score import score_batch
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

    _rule("4. batch scoring with the champion, then drift monitoring")
    with deployment.mlflow_session():
        ctx = PublishContext.create(spec, pipeline={"name": "mlpublish-demo", "runId": "demo-score"})
        try:
            scored = score_batch(ctx, scoring_run_id="demo-score")
            print(
                f"scored {scored.rows} rows of {scored.source} with {scored.model_name} version {scored.version} "
                f"into {scored.table_fqn}"
            )
            watched = monitor_drift(ctx)
        finally:
            ctx.preflight.warehouse.dispose()
    drifted = ", ".join(watched.drifted_features) or "none"
    print(
        f"monitored {watched.rows} rows against version {watched.version}'s training reference: drifted features "
        f"{drifted}; " + ("RETRAIN requested: " if watched.retrain else "no retraining: ") + "; ".join(watched.reasons)
    )
    note = window_note(spec)
    if note:
        print(note)

    _rule("5. registry status")
    print(status_text(model_status(deployment.open_registry(), spec.name)))

    _rule("6. catalog entry (OpenMetadata MlModel shape)")
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

    _rule("7. lineage: feature sources -> training table -> model -> predictions table")
    for line in lineage_lines(catalog.lineage(scored.table_fqn)["upstreamEdges"], scored.table_fqn):
        print(line)

    _rule("where to look (each command runs as printed)")
    promotions = sum(1 for r in (first, second) if r.promotion.promoted)
    for label, command in where_to_look(workdir, spec.name, can_roll_back=promotions > 1):
        print(f"{label + ':':<10} {command}")
    print(f"           (MLflow: experiment {spec.experiment_name}, registered model {spec.name}; Ctrl-C stops the UI)")
    return 0


def lineage_lines(edges: list[dict[str, Any]], predictions: str) -> list[str]:
    """One line per edge, from the sources to the predictions table, with the column edges each carries."""

    def step(e: dict[str, Any]) -> int:
        if e["toEntity"]["fqn"] == predictions:
            return 3 if e["fromEntity"]["type"] == "table" else 2  # the model's columns, then the scored keys
        return 1 if e["toEntity"]["type"] == "mlmodel" else 0

    ordered = sorted(edges, key=step)
    out = []
    for e in ordered:
        columns = e["lineageDetails"].get("columnsLineage") or []
        out.append(
            f"  {e['fromEntity']['fqn']} ({e['fromEntity']['type']}) -> {e['toEntity']['fqn']} "
            f"({e['toEntity']['type']}): {len(columns)} column edges"
        )
        for c in columns:
            to_column = c["toColumn"].rsplit(".", 1)[1]
            from_columns = ", ".join(f.rsplit(".", 1)[1] for f in c["fromColumns"])
            out.append(f"      {to_column} <- {from_columns}")
    return out


def where_to_look(workdir: Path, model: str, *, can_roll_back: bool) -> list[tuple[str, str]]:
    """The commands to look further, with this installation's own executables (no venv to activate first);
    a rollback only when there is an earlier champion to go back to."""
    scripts = Path(sys.executable).parent
    mlpublish = shlex.quote(str(scripts / "mlpublish")) if (scripts / "mlpublish").exists() else "mlpublish"
    mlflow = shlex.quote(str(scripts / "mlflow")) if (scripts / "mlflow").exists() else "mlflow"
    here = f"cd {shlex.quote(str(workdir))} &&"
    store = shlex.quote(f"sqlite:///{workdir / config.DEFAULT_TRACKING_DB}")
    return [
        # one worker and no job runner: Ctrl-C stops it all (MLflow's huey job consumers outlive a Ctrl-C, busy)
        (
            "MLflow UI",
            f"{here} MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false {mlflow} ui --backend-store-uri {store} --workers 1",
        ),
        ("status", f"{here} {mlpublish} status {model}"),
        ("catalog", f"{here} {mlpublish} catalog show {model}"),
        ("lineage", f"{here} {mlpublish} catalog lineage {model}"),
    ] + ([("roll back", f"{here} {mlpublish} rollback {model}")] if can_roll_back else [])
