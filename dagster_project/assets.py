"""The asset graph of one spec, built from its file.

    feature_table (observed) -> trained_model -> model_evaluation -> validated_model
        -> registered_model_version -> champion_model
        -> model_predictions, drift_report   (their own jobs: see downstream_assets)

Each asset calls one core step and hands its small result to the next through
the JSON IO manager. The gates are blocking asset checks of ``validated_model``:
when one fails, registration and promotion do not run.
"""

import warnings
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetObservation,
    DataVersion,
    MetadataValue,
    ObserveResult,
    Output,
    asset,
    observable_source_asset,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._utils.warnings import BetaWarning

from mlpublish.errors import MlpublishError
from mlpublish.results import (
    NOTHING_NEW,
    EvaluateResult,
    MonitorResult,
    PromoteResult,
    RegisterResult,
    ScoreResult,
    TrainResult,
    ValidateResult,
)
from mlpublish.workflows.audit import register_for_audit
from mlpublish_dagster import metadata as md
from mlpublish_dagster.observations import observe_table, read_plot
from mlpublish_dagster.resources import CatalogResource, MlflowResource, SparkResource, WarehouseResource
from mlpublish_dagster.runtime import as_failure, release, step_context
from mlpublish_dagster.specs import SpecRef

RESULTS = "result_io_manager"
GATES_APPLIED = "gates_applied"
SMOKE_TEST = "smoke_test"
REQUIRED_METADATA = "required_metadata"


def check_specs(ref: SpecRef) -> list[AssetCheckSpec]:
    """One blocking check per gate, plus 'some gate applied', the smoke test and the required metadata."""
    asset_key = AssetKey([ref.key, "validated_model"])
    described = [(name, f"gate {name}: the candidate's metric against the spec's threshold") for name in ref.gates]
    described += [(name, f"{name}: the disparity between the sensitive column's groups") for name in ref.fairness]
    described += [
        (GATES_APPLIED, "at least one gate is configured and applied (relative gates skip a first model)"),
        (SMOKE_TEST, "the logged model loads through mlflow.pyfunc and scores sample rows"),
        (REQUIRED_METADATA, "description, owners and a source table for every feature"),
    ]
    return [AssetCheckSpec(name, asset=asset_key, blocking=True, description=desc) for name, desc in described]


def check_results(ref: SpecRef, validation: ValidateResult) -> Iterator[AssetCheckResult]:
    """The core's checks as Dagster check results, each naming its metric, value and threshold."""
    asset_key = AssetKey([ref.key, "validated_model"])
    # a per-slice gate has one check per slice: they are grouped by the gate they stand for
    per_gate = [
        [c for c in validation.checks if c.check in ("gate", "slice") and c.gate == i] for i in range(len(ref.gates))
    ]
    per_fairness = [
        [c for c in validation.checks if c.check == "fairness" and c.gate == i] for i in range(len(ref.fairness))
    ]
    general = [c for c in validation.checks if c.check == "gate" and c.kind is None]
    if not all(per_gate + per_fairness):  # SpecRef.load guards this; never map a result to the wrong gate
        counted = sum(1 for checks in per_gate if checks)
        raise MlpublishError(f"{ref.name}: {counted} gate results for {len(ref.gates)} gate checks")

    def result(name: str, checks: list[Any], default: str) -> AssetCheckResult:
        passed = all(c.passed for c in checks)
        meta: dict[str, Any] = {
            "outcome": MetadataValue.text(
                "FAIL"
                if not passed
                else ("SKIPPED" if checks and all(c.outcome == "skipped" for c in checks) else "PASS")
            )
        }
        if len(checks) == 1:
            c = checks[0]
            for field in ("metric", "kind"):
                if getattr(c, field) is not None:
                    meta[field] = MetadataValue.text(getattr(c, field))
            for field in ("value", "threshold", "champion_value"):
                if getattr(c, field) is not None:
                    meta[field] = MetadataValue.float(float(getattr(c, field)))
        # failures first: a per-slice gate's failing slice must survive the 2000-character cut
        detail = "; ".join(f"{c.name}: {c.detail}" for c in sorted(checks, key=lambda c: c.passed)) or default
        meta["detail"] = MetadataValue.text(detail[:2000])
        return AssetCheckResult(
            asset_key=asset_key,
            check_name=name,
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            metadata=meta,
            description=detail[:2000],
        )

    for name, checks in zip(ref.gates + ref.fairness, per_gate + per_fairness, strict=True):
        yield result(name, checks, "")
    yield result(GATES_APPLIED, general, f"{len(per_gate)} gate(s) configured, at least one applied")
    yield result(SMOKE_TEST, [c for c in validation.checks if c.check == "smoke_test"], "no smoke test ran")
    yield result(REQUIRED_METADATA, [c for c in validation.checks if c.check == "metadata"], "no metadata check ran")


def _step(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except MlpublishError as exc:
        raise as_failure(exc) from exc


def spec_assets(ref: SpecRef) -> list[Any]:
    """The assets and checks of one spec; keys are ``<model>/<noun>``, the group is the model."""
    from mlpublish.promotion import champion_card
    from mlpublish.steps import evaluate_model, promote_challenger, register_version, train_model, validate_candidate
    from mlpublish.steps.card import candidate_card

    def key(name: str) -> AssetKey:
        return AssetKey([ref.key, name])

    common = dict(group_name=ref.key, io_manager_key=RESULTS)

    with warnings.catch_warnings():  # beta since 1.5 and still the documented way to observe a source
        warnings.simplefilter("ignore", BetaWarning)
        observed = observable_source_asset(
            key=key("feature_table"),
            group_name=ref.key,
            description=f"Training table {ref.training_table} of {ref.name} (observed: row count).",
        )

    @observed
    def feature_table(warehouse: WarehouseResource) -> ObserveResult:
        version, meta = observe_table(ref, warehouse)
        return ObserveResult(data_version=DataVersion(version), metadata=meta)

    @asset(
        key=key("trained_model"),
        deps=[key("feature_table")],
        kinds={"mlflow", "sklearn"},
        description=f"{ref.name}: the best candidate fitted on the training part, logged to MLflow.",
        **common,
    )
    def trained_model(
        context: AssetExecutionContext, mlflow: MlflowResource, warehouse: WarehouseResource, catalog: CatalogResource
    ) -> Output[TrainResult]:
        # "Materialize all" and the publish job do not observe a source asset: the table read here is observed here
        version, observed_meta = observe_table(ref, warehouse)
        context.log_event(
            AssetObservation(asset_key=key("feature_table"), metadata=observed_meta, tags={DATA_VERSION_TAG: version})
        )
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: TrainResult = _step(train_model, ctx)
        return Output(
            result,
            metadata={
                **md.run_links(ctx.registry.tracking_uri, result.experiment_id, result.run_id),
                "training_fqn": MetadataValue.text(result.training_fqn),
                "train_rows": MetadataValue.int(result.train_rows),
                "held_out_rows": MetadataValue.int(result.test_rows),
                "selected_by": MetadataValue.text(result.select_by),
                "params": MetadataValue.json(result.params),
                "candidates": MetadataValue.int(len(result.candidates)),
                "dataset_digest": MetadataValue.text(result.dataset_digest),
                "fit_seconds": MetadataValue.float(result.fit_seconds),
            },
        )

    @asset(
        key=key("model_evaluation"),
        ins={"trained_model": AssetIn(key("trained_model"))},
        kinds={"mlflow"},
        description=f"{ref.name}: candidate and champion metrics on the candidate's held-out rows.",
        **common,
    )
    def model_evaluation(
        context: AssetExecutionContext,
        trained_model: TrainResult,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
    ) -> Output[EvaluateResult]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: EvaluateResult = _step(evaluate_model, ctx, trained_model)
            artifact_uri = ctx.registry.run(result.run_id).info.artifact_uri
            plot = md.plot_artifact(result.artifacts)
            image = None if plot is None or md.server_url(ctx.registry.tracking_uri) else read_plot(ctx, result, plot)
            plots = md.plot_metadata(ctx.registry.tracking_uri, result.run_id, plot, artifact_uri, image)
        meta: dict[str, Any] = {
            "metrics": md.metrics_table(result.metrics, result.champion_metrics, result.champion_version),
            "held_out_rows": MetadataValue.int(trained_model.test_rows),
            "champion_version": MetadataValue.text(result.champion_version or "none"),
            **md.run_links(ctx.registry.tracking_uri, trained_model.experiment_id, result.run_id),
            **plots,
        }
        if result.champion_error:
            meta["champion_error"] = MetadataValue.text(result.champion_error)
        return Output(result, metadata=meta)

    @asset(
        key=key("validated_model"),
        check_specs=check_specs(ref),
        ins={"trained_model": AssetIn(key("trained_model")), "model_evaluation": AssetIn(key("model_evaluation"))},
        description=f"{ref.name}: gates, smoke test and metadata checks; PASSED or FAILED.",
        **common,
    )
    def validated_model(
        context: AssetExecutionContext,
        trained_model: TrainResult,
        model_evaluation: EvaluateResult,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
    ) -> Iterator[Any]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: ValidateResult = _step(validate_candidate, ctx, trained_model, model_evaluation)
            meta: dict[str, Any] = {
                "validation_status": MetadataValue.text(result.status),
                "summary": MetadataValue.text(result.summary()[:2000]),
                "checks": md.checks_table(result.checks),
                "compared_champion": MetadataValue.text(result.champion_version or "none"),
                "outcome": MetadataValue.text(NOTHING_NEW if result.nothing_new else result.status),
                **md.run_links(ctx.registry.tracking_uri, trained_model.experiment_id, result.run_id),
            }
            # the failed checks below stop this run before registered_model_version: the spec may keep it for audit
            audit: RegisterResult | None = _step(register_for_audit, ctx, trained_model, model_evaluation, result)
            if audit is not None:
                meta["audit_version"] = MetadataValue.text(audit.version or "none")
            if result.status != "PASSED":  # the run stops here: the rejected candidate's card is on this page
                meta.update(md.card_metadata(candidate_card(ctx, result.run_id)))
        yield Output(result, metadata=meta)
        yield from check_results(ref, result)

    @asset(
        key=key("registered_model_version"),
        kinds={"mlflow"},
        ins={
            "trained_model": AssetIn(key("trained_model")),
            "model_evaluation": AssetIn(key("model_evaluation")),
            "validated_model": AssetIn(key("validated_model")),
        },
        description=f"{ref.name}: the registered MLflow model version of the validated run (alias challenger).",
        **common,
    )
    def registered_model_version(
        context: AssetExecutionContext,
        trained_model: TrainResult,
        model_evaluation: EvaluateResult,
        validated_model: ValidateResult,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
    ) -> Output[RegisterResult]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: RegisterResult = _step(register_version, ctx, trained_model, model_evaluation, validated_model)
            return Output(
                result,
                metadata={
                    "model_version": MetadataValue.text(result.version or "none"),
                    "validation_status": MetadataValue.text(result.status),
                    "created": MetadataValue.bool(result.created),
                    "aliases": MetadataValue.json(ctx.registry.aliases(ctx.name)),
                    **({"reason": MetadataValue.text(result.reason)} if result.reason else {}),
                    **({"outcome": MetadataValue.text(NOTHING_NEW)} if result.same_as_champion else {}),
                    **md.version_links(ctx.registry.tracking_uri, ctx.name, result.version),
                    **md.card_metadata(candidate_card(ctx, result.run_id), result.card_uri),
                },
            )

    @asset(
        key=key("champion_model"),
        kinds={"mlflow"},
        ins={
            "model_evaluation": AssetIn(key("model_evaluation")),
            "validated_model": AssetIn(key("validated_model")),
            "registered_model_version": AssetIn(key("registered_model_version")),
        },
        description=f"{ref.name}: the version behind the champion alias, and its catalog entry.",
        **common,
    )
    def champion_model(
        context: AssetExecutionContext,
        model_evaluation: EvaluateResult,
        validated_model: ValidateResult,
        registered_model_version: RegisterResult,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
    ) -> Output[PromoteResult]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                result = _step(promote_challenger, ctx, model_evaluation, validated_model, registered_model_version)
                entity = ctx.catalog.get(ctx.spec.fqn) or {}
                card = (
                    _step(champion_card, ctx.registry, ctx.registry.get_version(ctx.name, result.champion_after))
                    if result.champion_after
                    else None
                )
            finally:
                release(context, ref)
            aliases = ctx.registry.aliases(ctx.name)
        meta: dict[str, Any] = {
            "outcome": MetadataValue.text(
                NOTHING_NEW if result.same_as_champion else ("PROMOTED" if result.promoted else "NOT PROMOTED")
            ),
            "promoted": MetadataValue.bool(result.promoted),
            "champion_version": MetadataValue.text(result.champion_after or "none"),
            "previous_champion": MetadataValue.text(result.champion_before or "none"),
            "reason": MetadataValue.text(result.reason),
            "aliases": MetadataValue.json(aliases),
            "catalog_fqn": MetadataValue.text(ctx.spec.fqn),
            "catalog_entity_version": MetadataValue.text(str(entity.get("version", "none"))),
            "catalog_validation_tag": MetadataValue.text(
                ", ".join(t.get("tagFQN", "") for t in entity.get("tags", [])) or "none"
            ),
            **md.version_links(ctx.registry.tracking_uri, ctx.name, result.champion_after),
        }
        link = catalog.link(ctx.spec.fqn)
        if link:
            meta["catalog_link"] = MetadataValue.url(link)
        meta.update(md.card_metadata(card))  # the champion's card: the catalog's description of the model
        return Output(result, metadata=meta)

    return [
        feature_table,
        trained_model,
        model_evaluation,
        validated_model,
        registered_model_version,
        champion_model,
        *downstream_assets(ref, key("champion_model")),
    ]


def downstream_assets(ref: SpecRef, champion_key: AssetKey) -> list[Any]:
    """After the champion: its batch predictions and the drift of the data it scores.

    They depend on ``champion_model`` (they use whatever version the alias points to)
    but belong to their own jobs: the publish job stops at the champion, scoring and
    monitoring run on their own schedules, and a drift decision starts a publish run
    through the retraining sensor.
    """
    from mlpublish.steps import monitor_drift, score_batch

    def key(name: str) -> AssetKey:
        return AssetKey([ref.key, name])

    common = dict(group_name=ref.key, io_manager_key=RESULTS)

    @asset(
        key=key("model_predictions"),
        deps=[champion_key],
        kinds={"mlflow", "sql"},
        description=f"{ref.name}: the champion's batch predictions, one scoring run per Dagster run.",
        **common,
    )
    def model_predictions(
        context: AssetExecutionContext,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
        spark: SparkResource,
    ) -> Output[ScoreResult]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                # the root run id is the scoring run id: a re-executed run replaces its own rows
                scoring_run = context.dagster_run.root_run_id or context.run_id
                result: ScoreResult = _step(
                    lambda c: score_batch(c, scoring_run_id=scoring_run, spark=spark.session(c.spec)), ctx
                )
            finally:
                release(context, ref)
        return Output(
            result,
            metadata={
                "table_fqn": MetadataValue.text(result.table_fqn),
                "source": MetadataValue.text(result.source),
                "rows": MetadataValue.int(result.rows),
                "model_version": MetadataValue.text(result.version),
                "scoring_run_id": MetadataValue.text(result.scoring_run_id),
                "rows_per_second": MetadataValue.float(
                    round(result.rows / result.seconds, 1) if result.seconds else 0.0
                ),
                **md.version_links(ctx.registry.tracking_uri, ctx.name, result.version),
            },
        )

    @asset(
        key=key("drift_report"),
        deps=[champion_key],
        kinds={"mlflow"},
        description=f"{ref.name}: drift of the scoring data against the champion's training reference, "
        "and the retraining decision (N of M windows, cooldown).",
        **common,
    )
    def drift_report(
        context: AssetExecutionContext,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        catalog: CatalogResource,
        spark: SparkResource,
    ) -> Output[MonitorResult]:
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                result: MonitorResult = _step(lambda c: monitor_drift(c, spark=spark.session(c.spec)), ctx)
                experiment = ctx.registry.run(result.monitor_run_id).info.experiment_id
            finally:
                release(context, ref)
        return Output(
            result,
            metadata={
                "retrain": MetadataValue.bool(result.retrain),
                "reasons": MetadataValue.md("\n".join(f"* {r}" for r in result.reasons) or "none"),
                "window_drifted": MetadataValue.bool(result.window_drifted),
                "drifted_features": MetadataValue.text(", ".join(result.drifted_features) or "none"),
                "drift": md.drift_table(result.features),
                "rows": MetadataValue.int(result.rows),
                "reference_rows": MetadataValue.int(result.reference_rows),
                "champion_version": MetadataValue.text(result.version),
                **({"performance": MetadataValue.json(result.performance)} if result.performance else {}),
                **md.run_links(ctx.registry.tracking_uri, experiment, result.monitor_run_id),
            },
        )

    return [model_predictions, drift_report]


__all__ = ["spec_assets", "check_specs", "check_results", "downstream_assets"]
