"""The records of a scoring run: its MLflow run (one per scoring run id) and its catalog entries."""

from __future__ import annotations

from typing import Any, NamedTuple

from mlpublish import config
from mlpublish.catalog.entity import container_event, spark_table_fqn, table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.registry import escape_filter_value
from mlpublish.registry.contract import (
    CHALLENGER_VERSION_TAG,
    CHAMPION_VERSION_TAG,
    MODEL_TAG,
    PREDICTIONS_FQN_TAG,
    SCORING_RUN_TAG,
    STEP_TAG,
)
from mlpublish.results import ScoreResult
from mlpublish.steps.bounds import end_status


class PredictionsEntity(NamedTuple):
    """The catalog entity the predictions land in: its FQN, entity type and upsert event."""

    fqn: str
    type: str
    event: Any


def predictions_description(spec: Any) -> str:
    if spec.scoring.shadow:
        return (
            f"batch predictions of {spec.name}, one set per scoring run: the champion's and (scoring.shadow) the "
            "challenger's, told apart by model_role; consumers read the champion's (model_role = 'champion')"
        )
    return f"batch predictions of {spec.name} (champion), one set per scoring run"


def scoring_description(spec: Any, result: ScoreResult) -> str:
    """The model -> predictions edge: one MlModel entity per registered model, so with scoring.shadow this one
    edge stands for both of its versions that fed the table, and says which."""
    if result.challenger_version is None:
        return f"batch scoring by {spec.name}"
    return (
        f"batch scoring by {spec.name}: champion v{result.version} and challenger v{result.challenger_version} "
        "(scoring.shadow; rows told apart by model_role and model_version)"
    )


def files_entity(spec: Any, written: Any) -> PredictionsEntity:
    """Predictions Spark wrote outside the warehouse (``spark_engine.scoring.SparkWritten``): a Parquet dataset
    is a Container, a Spark table a Table of the Spark service (see ``catalog.entity``)."""
    description = predictions_description(spec)
    if written.parquet:
        ev = container_event(written.parquet, written.columns, ["scoring_run_id"], description)
        return PredictionsEntity(ev.fqn, "container", ev)
    fqn = spark_table_fqn(*written.spark_table)
    return PredictionsEntity(fqn, "table", table_event(fqn, written.columns, description))


def record_score(
    ctx: PublishContext, result: ScoreResult, columns: dict[str, str], source: Any, *, target: Any = None
) -> None:
    """An MLflow run for the scoring (reused by a retry of the same scoring run) and the catalog entries.

    ``target``: the predictions' entity when they are not the warehouse table ``result.table_fqn``
    (``files_entity``); the model -> predictions lineage ends there either way."""
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
        if result.challenger_version is not None:
            tags[CHALLENGER_VERSION_TAG] = result.challenger_version
        tags.update(pipeline_tags(ctx.pipeline))
        mlflow_run = reg.create_run(exp, f"{spec.name}-score", tags, what="create scoring run")
    try:
        reg.log_metric(mlflow_run, "rows_scored", result.rows, what="log scoring metrics")
        if result.challenger_version is not None:
            reg.log_metric(mlflow_run, "challenger_rows_scored", result.challenger_rows, what="log scoring metrics")
        reg.log_metric(
            mlflow_run,
            "rows_per_second",
            result.rows / result.seconds if result.seconds else 0.0,
            what="log scoring metrics",
        )
        if result.contract is not None:  # the data contract's counts, beside the row counts
            for key in ("rows_violating", "rows_quarantined"):
                reg.log_metric(mlflow_run, f"contract_{key}", getattr(result.contract, key), what="log scoring metrics")
    except BaseException as exc:  # never left RUNNING
        try:
            reg.end_run(mlflow_run, end_status(exc), what="end scoring run")
        except Exception:  # the store is down: the original error matters more
            pass
        raise
    reg.end_run(mlflow_run, what="end scoring run")

    model_fqn = spec.fqn
    if target is None:
        target = PredictionsEntity(
            result.table_fqn, "table", table_event(result.table_fqn, columns, predictions_description(spec))
        )
    fqn = target.fqn
    from_model = [f"{model_fqn}.{f}" for f in spec.feature_names]
    model_cols = [
        ColumnLineage(fromColumns=from_model, toColumn=f"{fqn}.{c}")
        for c in ("prediction", "probability")
        if c in columns
    ]
    events: list[Any] = [
        target.event,
        AddLineage(
            from_fqn=model_fqn,
            from_type="mlmodel",
            to_fqn=fqn,
            to_type=target.type,
            columns=model_cols,
            pipeline=ctx.pipeline,
            description=scoring_description(spec, result),
        ),
    ]
    if source.table and source.table != spec.data.trainingTable:
        # the train step registered the training table; another scoring table must exist before an edge
        events.insert(0, table_event(source.fqn, source.types(), f"rows scored by {spec.name}"))
    if source.fqn:
        events.append(
            AddLineage(
                from_fqn=source.fqn,
                from_type="table",
                to_fqn=fqn,
                to_type=target.type,
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
