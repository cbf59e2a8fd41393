"""What a scoring or monitoring run reads: the engine that runs, the rows of the scoring source, the champion.

The score and monitor steps share them: both score the champion (``models:/<name>@champion``) on the rows
the spec names, locally or on Spark, and check them against the champion's data contract (:func:`load_contract`).
"""

from __future__ import annotations

import logging
from typing import Any

from mlpublish.contracts.model import CONTRACT_ARTIFACT, DataContract
from mlpublish.deployment.context import PublishContext
from mlpublish.errors import NoChampion, StepError
from mlpublish.promotion.champion_entity import run_contract
from mlpublish.registry.contract import CHALLENGER, CHAMPION
from mlpublish.warehouse.scoring import ScoringSource

log = logging.getLogger("mlpublish.score")


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


def scoring_source(ctx: PublishContext, columns: list[str]) -> ScoringSource:
    """The rows the spec scores (and monitors): ``scoring.query``, else ``scoring.sourceTable`` or the training table."""
    spec = ctx.spec
    return ScoringSource(
        ctx.preflight.warehouse,
        columns,
        table=spec.scoring.sourceTable or spec.data.trainingTable,
        query=spec.scoring.query,
    )


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


def load_champion(ctx: PublishContext) -> tuple[str, str, Any]:
    """(version, run id, fitted model) of ``models:/<name>@champion``; NoChampion names the model."""
    name = ctx.name
    version = ctx.registry.alias_version(name, CHAMPION)
    if version is None:
        raise NoChampion(
            f"model {name!r} has no champion yet: publish it first (mlpublish run SPEC), then score or monitor"
        )
    return load_version(ctx, version)


def load_challenger(ctx: PublishContext, champion_version: str) -> tuple[str, str, Any] | None:
    """scoring.shadow: (version, run id, fitted model) of ``models:/<name>@challenger``, or None (logged) when
    there is no challenger apart from the champion: the champion then scores alone."""
    name = ctx.name
    version = ctx.registry.alias_version(name, CHALLENGER)
    if version is None or str(version) == str(champion_version):
        log.info(
            "%s: scoring.shadow is on but the model has no %s apart from the champion (v%s): the champion scores alone",
            name,
            CHALLENGER,
            champion_version,
        )
        return None
    return load_version(ctx, version)


def load_version(ctx: PublishContext, version: str) -> tuple[str, str, Any]:
    """(version, run id, fitted model) of version ``version`` (cached on the context), its signature checked."""
    from mlpublish.modelling.flavors import load_model

    name = ctx.name
    mv = ctx.registry.get_version(name, version)
    key = ("version_model", version)
    model = ctx.cache.get(key)
    if model is None:
        # the version, not the alias: the alias may move while we load
        model = ctx.cache[key] = load_model(f"models:/{name}/{version}")
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
            f"version {version} of model {ctx.name!r} expects features {expected}, "
            f"but the spec lists {ctx.spec.feature_names}: publish a model for this spec first"
        )


def load_contract(ctx: PublishContext, version: str, run_id: str) -> DataContract | None:
    """The data contract logged with the champion's training run (cached like the model); None for a champion
    published before contracts (one log line says so: its rows are not checked)."""
    key = ("version_contract", version)
    if key not in ctx.cache:
        try:
            contract = run_contract(ctx.registry, run_id)
        except ValueError as exc:
            raise StepError(
                f"champion version {version} of model {ctx.name!r}: {CONTRACT_ARTIFACT} of run {run_id} "
                f"is not a data contract: {str(exc).splitlines()[0]}"
            ) from None
        if contract is None:
            log.info(
                "%s: champion version %s has no data contract (%s in run %s): its rows are not checked",
                ctx.name,
                version,
                CONTRACT_ARTIFACT,
                run_id,
            )
        ctx.cache[key] = contract
    return ctx.cache[key]
