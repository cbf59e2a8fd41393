"""The records of a scoring run: its MLflow run (one per scoring run id) and its catalog entries."""

from __future__ import annotations

from typing import Any

from mlpublish import config
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.registry import escape_filter_value
from mlpublish.registry.contract import (
    CHAMPION_VERSION_TAG,
    MODEL_TAG,
    PREDICTIONS_FQN_TAG,
    SCORING_RUN_TAG,
    STEP_TAG,
)
from mlpublish.results import ScoreResult
from mlpublish.steps.bounds import end_status


def record_score(
    ctx: PublishContext, result: ScoreResult, columns: dict[str, str], source: Any, *, in_warehouse: bool = True
) -> None:
    """An MLflow run for the scoring (reused by a retry of the same scoring run) and the catalog entries.

    Predictions outside the warehouse (a Parquet dataset, a Spark table) have no catalog table: the model's
    properties still name where they are."""
    spec, reg = ctx.spec, ctx.registry
    exp = reg.ensure_experiment(spec.experiment_name, config.artifact_root(reg.tracking_uri))
    found = reg.search_runs(
        [exp],
        f"tags.`{SCORING_RUN_TAG}` = '{escape_filter_value(result.scoring_run_id)}'",
        what="scoring runs",
        max_results=1,
    )
    if found:
        mlflow_run = found[0].info.run_id
    else:
        tags = {
            STEP_TAG: "score",
            MODEL_TAG: spec.name,
            SCORING_RUN_TAG: result.scoring_run_id,
            CHAMPION_VERSION_TAG: result.version,
            PREDICTIONS_FQN_TAG: result.table_fqn,
        }
        tags.update(pipeline_tags(ctx.pipeline))
        mlflow_run = reg.create_run(exp, f"{spec.name}-score", tags, what="create scoring run")
    try:
        reg.log_metric(mlflow_run, "rows_scored", result.rows, what="log scoring metrics")
        reg.log_metric(
            mlflow_run,
            "rows_per_second",
            result.rows / result.seconds if result.seconds else 0.0,
            what="log scoring metrics",
        )
    except BaseException as exc:  # never left RUNNING
        try:
            reg.end_run(mlflow_run, end_status(exc), what="end scoring run")
        except Exception:  # the store is down: the original error matters more
            pass
        raise
    reg.end_run(mlflow_run, what="end scoring run")

    fqn, model_fqn = result.table_fqn, spec.fqn
    from_model = [f"{model_fqn}.{f}" for f in spec.feature_names]
    model_cols = [
        ColumnLineage(fromColumns=from_model, toColumn=f"{fqn}.{c}")
        for c in ("prediction", "probability")
        if c in columns
    ]
    events: list[Any] = (
        []
        if not in_warehouse
        else [
            table_event(fqn, columns, f"batch predictions of {spec.name} (champion), one set per scoring run"),
            AddLineage(
                from_fqn=model_fqn,
                from_type="mlmodel",
                to_fqn=fqn,
                to_type="table",
                columns=model_cols,
                pipeline=ctx.pipeline,
                description=f"batch scoring by {spec.name}",
            ),
        ]
    )
    if in_warehouse and source.table and source.table != spec.data.trainingTable:
        # the train step registered the training table; another scoring table must exist before an edge
        events.insert(0, table_event(source.fqn, source.types(), f"rows scored by {spec.name}"))
    if in_warehouse and source.fqn:
        events.append(
            AddLineage(
                from_fqn=source.fqn,
                from_type="table",
                to_fqn=fqn,
                to_type="table",
                columns=[
                    ColumnLineage(fromColumns=[f"{source.fqn}.{k}"], toColumn=f"{fqn}.{k}")
                    for k in spec.data.keyColumns
                ],
                pipeline=ctx.pipeline,
                description=f"keys of the rows scored by {spec.name}",
            )
        )
    if ctx.catalog.get(model_fqn) is not None:
        events.append(
            SetModelProperties(
                fqn=model_fqn,
                properties={
                    "predictionsTable": fqn,
                    "lastScoredAt": now_iso(),
                    "lastScoringRunId": result.scoring_run_id,
                    "lastScoredRows": result.rows,
                    "lastScoredVersion": result.version,
                },
            )
        )
    ctx.emit(*events)
