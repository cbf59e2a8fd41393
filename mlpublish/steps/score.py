"""score: the champion's batch predictions, streamed from the warehouse into the predictions table.

With ``scoring.shadow`` the challenger scores the same rows in the same run: every row carries
``model_role`` and its model's version (see :mod:`mlpublish.warehouse.predictions`).

The warehouse writes them in one transaction per scoring run
(:func:`mlpublish.warehouse.scoring.write_predictions`): a failed run leaves no partial
rows and a retried run replaces its own rows. This step loads the champion
(:mod:`mlpublish.steps.scoring_inputs`, with the source and the engine), predicts each chunk
(:mod:`mlpublish.steps.predictor`), and records the scoring run in MLflow and the catalog
(:mod:`mlpublish.steps.score_record`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlpublish.deployment.context import PublishContext
from mlpublish.errors import StepError
from mlpublish.results import ScoreResult
from mlpublish.steps.bounds import Deadline, bounded
from mlpublish.steps.contract_checks import (
    GuardedPredictor,
    contract_failure,
    contract_guard,
    quarantine_name,
    record_contract,
)
from mlpublish.steps.predictor import ChampionPredictor, MostProbableClass, ShadowPredictor, positive_index
from mlpublish.steps.score_record import files_entity, record_score
from mlpublish.steps.scoring_inputs import engine_of, load_challenger, load_champion, scoring_source, spark_source
from mlpublish.warehouse.quarantine import QuarantineWriter
from mlpublish.warehouse.scoring import ScoringRun, write_predictions

__all__ = [
    "ChampionPredictor",
    "MostProbableClass",
    "engine_of",
    "load_champion",
    "positive_index",
    "score_batch",
    "score_on_spark",
    "scoring_source",
    "spark_source",
]

log = logging.getLogger("mlpublish.score")


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
    # scoring.shadow: the challenger predicts the same chunks beside the champion (ShadowPredictor)
    predict: Any
    predict, challenger = with_challenger(
        ctx, version, ChampionPredictor(model, features, categorical, keys, pos_index)
    )
    run = ScoringRun(
        model_name=spec.name,
        model_version=version,
        model_run_id=model_run_id,
        scoring_run_id=run_id,
        scored_at=datetime.now(UTC),
        challenger_version=challenger[0] if challenger else None,
        challenger_run_id=challenger[1] if challenger else None,
        shadow=spec.scoring.shadow,
    )
    # the champion's data contract: each chunk checked before it is predicted (scoring.onContractViolation)
    held_in = quarantine_name(spec, table_name)
    guard = contract_guard(ctx, version, model_run_id, quarantine_table=wh.table_fqn(held_in))
    quarantine = None
    if guard is not None:
        predict = GuardedPredictor(predict, guard)
        if guard.mode == "quarantine":
            quarantine = QuarantineWriter(wh, held_in, list(dict.fromkeys(keys + features)), run)
    with (
        bounded(f"{spec.name}: scoring", spec.training.timeoutMinutes) as deadline,
        contract_failure(ctx, guard, run_id),
    ):
        written = write_predictions(
            wh,
            source,
            predict,
            table_name=table_name,
            keys=keys,
            probability=pos_index is not None,
            run=run,
            chunk_size=spec.scoring.chunkSize,
            on_chunk=checked(on_chunk, deadline),
            quarantine=quarantine,
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
        contract=record_contract(ctx, guard, run_id, name=f"{spec.name} v{version}"),
        challenger_version=run.challenger_version,
        challenger_rows=written.shadow_rows,
    )
    record_score(ctx, result, written.columns, source)
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


def with_challenger(
    ctx: PublishContext, champion_version: str, champion: ChampionPredictor
) -> tuple[ChampionPredictor | ShadowPredictor, tuple[str, str] | None]:
    """The predictor of the run and the challenger's (version, run id): with ``scoring.shadow`` and a challenger,
    a ShadowPredictor (both roles' rows per chunk); else the champion's own predictor and None."""
    if not ctx.spec.scoring.shadow:
        return champion, None
    loaded = load_challenger(ctx, champion_version)
    if loaded is None:
        return champion, None
    version, run_id, model = loaded
    spec = ctx.spec
    challenger = ChampionPredictor(
        model, spec.feature_names, spec.categorical_features, spec.data.keyColumns, positive_index(ctx, model)
    )
    log.info("%s: shadow scoring: challenger v%s scores beside champion v%s", spec.name, version, champion_version)
    return ShadowPredictor(champion, challenger), (version, run_id)


def checked(on_chunk: Callable[[int, int], None] | None, deadline: Deadline) -> Callable[[int, int], None]:
    """``on_chunk``, then the deadline checked: a step off the main thread stops between chunks."""

    def after_chunk(chunk: int, rows: int) -> None:
        if on_chunk is not None:
            on_chunk(chunk, rows)
        deadline.check()

    return after_chunk


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
    if scoring.onContractViolation == "quarantine":
        raise StepError(
            f"{spec.source_path}: scoring.onContractViolation: quarantine is not available on the Spark engine "
            "(fail and warn are): use the local engine or another mode"
        )
    features, categorical = spec.feature_names, spec.categorical_features
    version, model_run_id, model = load_champion(ctx)  # before the session: no champion, no cluster
    guard = contract_guard(ctx, version, model_run_id)
    from mlpublish.spark_engine import spark_session
    from mlpublish.spark_engine.scoring import contract_tally, predicted_frame, write_files, write_warehouse

    spark = spark or spark_session()
    source = spark_source(ctx, spark, list(dict.fromkeys(keys + features)))
    source.check(features, categorical)
    champion = ChampionPredictor(model, features, categorical, keys, positive_index(ctx, model))
    predictor, challenger = with_challenger(ctx, version, champion)  # scoring.shadow, as score_batch
    run = ScoringRun(
        model_name=spec.name,
        model_version=version,
        model_run_id=model_run_id,
        scoring_run_id=scoring_run_id or uuid.uuid4().hex,
        scored_at=datetime.now(UTC),
        challenger_version=challenger[0] if challenger else None,
        challenger_run_id=challenger[1] if challenger else None,
        shadow=spec.scoring.shadow,
    )
    tally = None
    if guard is not None:  # each Arrow batch checked against the champion's data contract in its task
        predictor, tally = GuardedPredictor(predictor, guard), contract_tally(spark)
    predicted = predicted_frame(spark, source, predictor, tally)
    with (
        bounded(f"{spec.name}: scoring", spec.training.timeoutMinutes),
        contract_failure(ctx, guard, run.scoring_run_id),
    ):
        if to_files:
            written = write_files(
                spark, predicted, run, parquet=scoring.predictionsParquet, table=scoring.predictionsSparkTable
            )
        else:
            written = write_warehouse(wh, predicted, run, table_name=table_name, keys=keys)
    seconds = time.perf_counter() - t0
    if guard is not None:
        guard.merge(tally.value)
    result = ScoreResult(
        model_name=spec.name,
        version=version,
        model_run_id=model_run_id,
        scoring_run_id=run.scoring_run_id,
        rows=written.rows,
        table_fqn=written.target,
        source=source.label,
        seconds=round(seconds, 3),
        contract=record_contract(ctx, guard, run.scoring_run_id, name=f"{spec.name} v{version}"),
        challenger_version=run.challenger_version,
        challenger_rows=written.shadow_rows,
    )
    # the catalog records the warehouse's source table as the local engine does (its declared types)
    recorded = source if source.table is None else scoring_source(ctx, source.columns)
    target = None if written.in_warehouse else files_entity(spec, written)
    record_score(ctx, result, written.columns, recorded, target=target)
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
