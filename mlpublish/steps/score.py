"""score: the champion's batch predictions, streamed from the warehouse into the predictions table.

The warehouse writes them in one transaction per scoring run
(:func:`mlpublish.warehouse.scoring.write_predictions`): a failed run leaves no partial
rows and a retried run replaces its own rows. This step loads the champion,
predicts each chunk, and records the scoring run in MLflow and the catalog.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlpublish import config
from mlpublish.catalog.entity import table_event
from mlpublish.catalog.events import AddLineage, ColumnLineage, SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.errors import NoChampion, StepError
from mlpublish.evaluation.metrics import positive_class
from mlpublish.modelling import prepare_features
from mlpublish.registry import escape_filter_value
from mlpublish.registry.contract import (
    CHAMPION,
    CHAMPION_VERSION_TAG,
    MODEL_TAG,
    PREDICTIONS_FQN_TAG,
    SCORING_RUN_TAG,
    STEP_TAG,
)
from mlpublish.results import ScoreResult
from mlpublish.warehouse.scoring import ScoringRun, ScoringSource, write_predictions

log = logging.getLogger("mlpublish.score")


def load_champion(ctx: PublishContext) -> tuple[str, str, Any]:
    """(version, run id, fitted model) of ``models:/<name>@champion``; NoChampion names the model."""
    import mlflow.sklearn

    name = ctx.name
    version = ctx.registry.alias_version(name, CHAMPION)
    if version is None:
        raise NoChampion(
            f"model {name!r} has no champion yet: publish it first (mlpublish run SPEC), then score or monitor"
        )
    mv = ctx.registry.get_version(name, version)
    key = ("version_model", version)
    model = ctx.cache.get(key)
    if model is None:
        # the version, not the alias: the alias may move while we load
        model = ctx.cache[key] = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    _check_signature(ctx, version)
    return str(version), mv.run_id, model


def _check_signature(ctx: PublishContext, version: str) -> None:
    from mlflow.models import get_model_info

    try:
        sig = get_model_info(f"models:/{ctx.name}/{version}").signature
        expected = list(sig.inputs.input_names()) if sig is not None else None
    except Exception:  # no signature recorded: the features of the spec are all we know
        return
    if expected and expected != ctx.spec.feature_names:
        raise StepError(
            f"champion version {version} of model {ctx.name!r} expects features {expected}, "
            f"but the spec lists {ctx.spec.feature_names}: publish a model for this spec first"
        )


class MostProbableClass:
    """The labels ``model.predict`` gives, read off ``predict_proba``: one ensemble pass per chunk instead of two.

    A classifier's ``predict`` is the most probable of its ``classes_``, except in two cases, both caught:
    a (near) tie between the two most probable classes, which a model may break its own way (a logistic
    regression says the positive class where its decision function is exactly 0, argmax the first class),
    goes to ``predict`` for those rows; and a model whose ``predict`` is not the most probable class at
    all (a tuned decision threshold) is found on the first rows scored, and then ``predict`` labels every row.
    """

    TIE = 1e-9  # far above float rounding of probabilities, far below any real difference between classes
    CHECKED_ROWS = 2000

    def __init__(self, model: Any):
        import numpy as np

        self.model = model
        self.classes = np.asarray(model.classes_)
        self.checked = False
        self.agrees = True
        # chunks are labelled in several threads: the first to come checks, the others wait for its verdict
        self.check_lock = threading.Lock()

    def of(self, X: Any, proba: Any) -> Any:
        """The labels of the rows of ``X``, whose probabilities ``proba`` are."""
        import numpy as np

        if not self.checked:
            with self.check_lock:
                if not self.checked:
                    labels = self._most_probable(X, proba)
                    head = min(len(labels), self.CHECKED_ROWS)
                    self.agrees = bool(np.array_equal(labels[:head], self.model.predict(X.iloc[:head])))
                    self.checked = True
                    if self.agrees:
                        return labels
                    log.info("the champion's predict is not its most probable class: labels come from predict")
        if not self.agrees:
            return self.model.predict(X)
        return self._most_probable(X, proba)

    def __getstate__(self) -> dict[str, Any]:  # the Spark engine pickles it: a lock does not travel
        return {k: v for k, v in self.__dict__.items() if k != "check_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, check_lock=threading.Lock())

    def _most_probable(self, X: Any, proba: Any) -> Any:
        import numpy as np

        labels = self.classes.take(proba.argmax(axis=1))
        if proba.shape[1] > 1:
            top_two = np.partition(proba, -2, axis=1)[:, -2:]
            tied = np.flatnonzero(top_two[:, 1] - top_two[:, 0] <= self.TIE)
            if len(tied):
                labels[tied] = self.model.predict(X.iloc[tied])
        return labels


class ChampionPredictor:
    """A chunk of source rows -> its keys, ``prediction`` and (classifiers) ``probability``; both engines use it.

    Picklable: the Spark engine ships it to the executors with the model and calls it on each Arrow batch.
    ``pos_index``: the positive class's column of ``predict_proba`` (-1: the top probability of a multi-class
    model), None when the model gives no probabilities.
    """

    def __init__(self, model: Any, features: list[str], categorical: list[str], keys: list[str], pos_index: Any):
        self.model, self.features, self.categorical, self.keys = model, features, categorical, keys
        self.pos_index = pos_index
        self.labels = MostProbableClass(model) if pos_index is not None else None

    def fresh(self) -> ChampionPredictor:
        """A copy with its own label check (one per Spark task: the state of another task never leaks in)."""
        return ChampionPredictor(self.model, self.features, self.categorical, self.keys, self.pos_index)

    def __call__(self, frame: Any) -> Any:
        X = prepare_features(frame, self.features, self.categorical)
        out = frame[self.keys].copy()
        if self.labels is None:
            out["prediction"] = self.model.predict(X)
        else:
            proba = self.model.predict_proba(X)
            out["prediction"] = self.labels.of(X, proba)
            out["probability"] = proba[:, self.pos_index] if self.pos_index >= 0 else proba.max(axis=1)
        return out


def positive_index(ctx: PublishContext, model: Any) -> int | None:
    """The column of ``predict_proba`` the probability comes from (-1: the top one of a multi-class model);
    None when the model gives no probabilities (regression)."""
    classes = list(getattr(model, "classes_", []))
    if ctx.preflight.task != "classification" or not hasattr(model, "predict_proba") or not classes:
        return None
    return classes.index(positive_class(classes, ctx.spec.training.positiveLabel)) if len(classes) == 2 else -1


def scoring_source(ctx: PublishContext, columns: list[str]) -> ScoringSource:
    """The rows the spec scores (and monitors): ``scoring.query``, else ``scoring.sourceTable`` or the training table."""
    spec = ctx.spec
    return ScoringSource(
        ctx.preflight.warehouse,
        columns,
        table=spec.scoring.sourceTable or spec.data.trainingTable,
        query=spec.scoring.query,
    )


def engine_of(ctx: PublishContext, engine: str | None) -> str:
    """The engine that runs: the command line's (or adapter's) choice, else ``scoring.engine``."""
    chosen = engine or ctx.spec.scoring.engine
    if chosen not in ("local", "spark"):
        raise StepError(f"{ctx.spec.source_path}: unknown scoring engine {chosen!r} (expected local or spark)")
    only = ctx.spec.scoring.spark_only
    if chosen == "local" and only:
        raise StepError(
            f"{ctx.spec.source_path}: {', '.join(only)} need(s) the Spark engine: set scoring.engine: spark "
            "or pass --engine spark"
        )
    return chosen


def score_batch(
    ctx: PublishContext,
    *,
    scoring_run_id: str | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    engine: str | None = None,
    spark: Any = None,
) -> ScoreResult:
    """Write the champion's predictions for every row of the scoring source.

    ``scoring_run_id`` names this scoring run (an Airflow or Dagster run id);
    running again with the same id replaces that run's rows. ``on_chunk(chunk
    number, rows so far)`` is called after each chunk is written (progress, local engine).
    ``engine`` overrides ``scoring.engine``; ``spark`` is the Spark session an adapter holds
    (default: :func:`mlpublish.spark_engine.spark_session` from the environment).
    """
    if engine_of(ctx, engine) == "spark":
        return score_on_spark(ctx, scoring_run_id=scoring_run_id, spark=spark)
    spec, wh = ctx.spec, ctx.preflight.warehouse
    t0 = time.perf_counter()
    keys = spec.data.keyColumns
    if not keys:
        raise StepError(f"{spec.source_path}: data.keyColumns is empty: predictions need key columns to join back to")
    table_name = spec.scoring.predictionsTable or spec.data.predictionsTable
    if not table_name:
        raise StepError(
            f"{spec.source_path}: no predictions table: set data.predictionsTable or scoring.predictionsTable"
        )
    features, categorical = spec.feature_names, spec.categorical_features
    source = scoring_source(ctx, list(dict.fromkeys(keys + features)))
    source.check(features, categorical)
    version, model_run_id, model = load_champion(ctx)
    run_id = scoring_run_id or uuid.uuid4().hex
    pos_index = positive_index(ctx, model)
    predict = ChampionPredictor(model, features, categorical, keys, pos_index)
    run = ScoringRun(
        model_name=spec.name,
        model_version=version,
        model_run_id=model_run_id,
        scoring_run_id=run_id,
        scored_at=datetime.now(UTC),
    )
    written = write_predictions(
        wh,
        source,
        predict,
        table_name=table_name,
        keys=keys,
        probability=pos_index is not None,
        run=run,
        chunk_size=spec.scoring.chunkSize,
        on_chunk=on_chunk,
    )
    seconds = time.perf_counter() - t0
    table_fqn = wh.table_fqn(table_name)
    result = ScoreResult(
        model_name=spec.name,
        version=version,
        model_run_id=model_run_id,
        scoring_run_id=run_id,
        rows=written.rows,
        table_fqn=table_fqn,
        source=source.label,
        seconds=round(seconds, 3),
    )
    _record(ctx, result, written.columns, source)
    log.info(
        "%s: scored %d rows of %s with version %s into %s in %.1fs (%d chunks)",
        spec.name,
        written.rows,
        source.label,
        version,
        table_fqn,
        seconds,
        written.chunks,
    )
    return result


def spark_source(ctx: PublishContext, spark: Any, columns: list[str]) -> Any:
    """The scoring source as the Spark engine reads it (``scoring.sourceParquet`` / ``sourceSparkTable`` /
    the warehouse's ``sourceTable``, ``query`` or training table over JDBC)."""
    from mlpublish.spark_engine.sources import SparkSource

    spec = ctx.spec
    return SparkSource(
        spark,
        spec.scoring,
        ctx.preflight.warehouse,
        columns,
        table=spec.scoring.sourceTable or spec.data.trainingTable,
    )


def score_on_spark(ctx: PublishContext, *, scoring_run_id: str | None = None, spark: Any = None) -> ScoreResult:
    """score_batch on Spark: the same champion, columns and records; the rows go where
    :mod:`mlpublish.spark_engine.scoring` says, and a retry replaces its own rows there too."""
    spec, wh, scoring = ctx.spec, ctx.preflight.warehouse, ctx.spec.scoring
    t0 = time.perf_counter()
    keys = spec.data.keyColumns
    if not keys:
        raise StepError(f"{spec.source_path}: data.keyColumns is empty: predictions need key columns to join back to")
    table_name = scoring.predictionsTable or spec.data.predictionsTable
    to_files = scoring.predictionsParquet or scoring.predictionsSparkTable
    if not table_name and not to_files:
        raise StepError(
            f"{spec.source_path}: no predictions table: set data.predictionsTable, scoring.predictionsTable, "
            "scoring.predictionsParquet or scoring.predictionsSparkTable"
        )
    features, categorical = spec.feature_names, spec.categorical_features
    version, model_run_id, model = load_champion(ctx)  # before the session: no champion, no cluster
    from mlpublish.spark_engine import spark_session
    from mlpublish.spark_engine.scoring import predicted_frame, write_files, write_warehouse

    spark = spark or spark_session()
    source = spark_source(ctx, spark, list(dict.fromkeys(keys + features)))
    source.check(features, categorical)
    run = ScoringRun(
        model_name=spec.name,
        model_version=version,
        model_run_id=model_run_id,
        scoring_run_id=scoring_run_id or uuid.uuid4().hex,
        scored_at=datetime.now(UTC),
    )
    predicted = predicted_frame(
        spark, source, ChampionPredictor(model, features, categorical, keys, positive_index(ctx, model))
    )
    if to_files:
        written = write_files(
            spark, predicted, run, parquet=scoring.predictionsParquet, table=scoring.predictionsSparkTable
        )
    else:
        written = write_warehouse(wh, predicted, run, table_name=table_name, keys=keys)
    seconds = time.perf_counter() - t0
    result = ScoreResult(
        model_name=spec.name,
        version=version,
        model_run_id=model_run_id,
        scoring_run_id=run.scoring_run_id,
        rows=written.rows,
        table_fqn=written.target,
        source=source.label,
        seconds=round(seconds, 3),
    )
    # the catalog records the warehouse's source table as the local engine does (its declared types)
    recorded = source if source.table is None else scoring_source(ctx, source.columns)
    _record(ctx, result, written.columns, recorded, in_warehouse=written.in_warehouse)
    log.info(
        "%s: scored %d rows of %s with version %s into %s on Spark (%s) in %.1fs",
        spec.name,
        written.rows,
        source.label,
        version,
        written.target,
        spark.sparkContext.master,
        seconds,
    )
    return result


def _record(
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
    reg.log_metric(mlflow_run, "rows_scored", result.rows, what="log scoring metrics")
    reg.log_metric(
        mlflow_run,
        "rows_per_second",
        result.rows / result.seconds if result.seconds else 0.0,
        what="log scoring metrics",
    )
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
