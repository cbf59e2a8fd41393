"""The publish chain of one spec, one asset per core step:

    feature_table (observed) -> trained_model -> model_evaluation -> validated_model
        -> registered_model_version -> champion_model

Each asset calls one core step and hands its small result to the next through
the JSON IO manager. The gates are blocking asset checks of ``validated_model``
(see ``checks.py``): when one fails, registration and promotion do not run.
"""

import warnings
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    BetaWarning,
    DataVersion,
    MetadataValue,
    ObserveResult,
    Output,
    SourceAsset,
    asset,
    observable_source_asset,
)

from mlpublish.results import NOTHING_NEW, EvaluateResult, PromoteResult, RegisterResult, TrainResult, ValidateResult
from mlpublish.workflows.audit import register_for_audit
from mlpublish_dagster import metadata as md
from mlpublish_dagster.checks import check_results, check_specs
from mlpublish_dagster.io_manager import RESULTS
from mlpublish_dagster.observations import observe_table, read_plot, table_observation
from mlpublish_dagster.runtime import STEP_RESOURCES, bound, release, resource_keys, run_step, step_context
from mlpublish_dagster.specs import SpecRef


def chain_assets(ref: SpecRef) -> list[SourceAsset | AssetsDefinition]:
    """The chain's assets and checks; keys and group as the translator placed them (``<model>/<noun>`` in the
    group ``<model>`` by default). A feature table that is another integration's asset is not built here."""
    return [
        *([] if ref.placement.upstream_feature_table else [feature_table_asset(ref)]),
        trained_model_asset(ref),
        model_evaluation_asset(ref),
        validated_model_asset(ref),
        registered_model_version_asset(ref),
        champion_model_asset(ref),
    ]


def feature_table_asset(ref: SpecRef) -> SourceAsset:
    with warnings.catch_warnings():  # beta since 1.5 and still the documented way to observe a source
        warnings.simplefilter("ignore", BetaWarning)
        observed = observable_source_asset(
            key=ref.asset_key("feature_table"),
            group_name=ref.group,
            owners=list(ref.placement.owners),
            description=f"Training table {ref.training_table} of {ref.name} (observed: row count).",
            required_resource_keys=resource_keys(ref, "warehouse"),
        )

    @observed
    def feature_table(context: AssetExecutionContext) -> ObserveResult:
        (warehouse,) = bound(context, ref, "warehouse")
        version, meta = observe_table(ref, warehouse)
        return ObserveResult(data_version=DataVersion(version), metadata=meta)

    return feature_table


def trained_model_asset(ref: SpecRef) -> AssetsDefinition:
    from mlpublish.steps import train_model

    @asset(
        key=ref.asset_key("trained_model"),
        deps=[ref.asset_key("feature_table")],
        kinds={"mlflow", "sklearn"},
        description=f"{ref.name}: the best candidate fitted on the training part, logged to MLflow.",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def trained_model(context: AssetExecutionContext) -> Output[TrainResult]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        # "Materialize all" and the publish job do not observe a source asset: the table read here is observed here
        # (an upstream asset of another integration records its own versions)
        if not ref.placement.upstream_feature_table:
            context.log_event(table_observation(ref, warehouse))
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: TrainResult = run_step(train_model, ctx)
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

    return trained_model


def model_evaluation_asset(ref: SpecRef) -> AssetsDefinition:
    from mlpublish.steps import evaluate_model

    @asset(
        key=ref.asset_key("model_evaluation"),
        ins={"trained_model": AssetIn(ref.asset_key("trained_model"))},
        kinds={"mlflow"},
        description=f"{ref.name}: candidate and champion metrics on the candidate's held-out rows.",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def model_evaluation(
        context: AssetExecutionContext,
        trained_model: TrainResult,
    ) -> Output[EvaluateResult]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: EvaluateResult = run_step(evaluate_model, ctx, trained_model)
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

    return model_evaluation


def validated_model_asset(ref: SpecRef) -> AssetsDefinition:
    from mlpublish.steps import validate_candidate
    from mlpublish.steps.card import candidate_card

    @asset(
        key=ref.asset_key("validated_model"),
        check_specs=check_specs(ref),
        ins={
            "trained_model": AssetIn(ref.asset_key("trained_model")),
            "model_evaluation": AssetIn(ref.asset_key("model_evaluation")),
        },
        description=f"{ref.name}: gates, smoke test and metadata checks; PASSED or FAILED.",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def validated_model(
        context: AssetExecutionContext,
        trained_model: TrainResult,
        model_evaluation: EvaluateResult,
    ) -> Iterator[Any]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: ValidateResult = run_step(validate_candidate, ctx, trained_model, model_evaluation)
            meta: dict[str, Any] = {
                "validation_status": MetadataValue.text(result.status),
                "summary": MetadataValue.text(result.summary()[:2000]),
                "checks": md.checks_table(result.checks),
                "compared_champion": MetadataValue.text(result.champion_version or "none"),
                "outcome": MetadataValue.text(NOTHING_NEW if result.nothing_new else result.status),
                **md.run_links(ctx.registry.tracking_uri, trained_model.experiment_id, result.run_id),
            }
            # the failed checks below stop this run before registered_model_version: the spec may keep it for audit
            audit: RegisterResult | None = run_step(register_for_audit, ctx, trained_model, model_evaluation, result)
            if audit is not None:
                meta["audit_version"] = MetadataValue.text(audit.version or "none")
            if result.status != "PASSED":  # the run stops here: the rejected candidate's card is on this page
                meta.update(md.card_metadata(candidate_card(ctx, result.run_id)))
        yield Output(result, metadata=meta)
        yield from check_results(ref, result)

    return validated_model


def registered_model_version_asset(ref: SpecRef) -> AssetsDefinition:
    from mlpublish.steps import register_version
    from mlpublish.steps.card import candidate_card

    @asset(
        key=ref.asset_key("registered_model_version"),
        kinds={"mlflow"},
        ins={
            "trained_model": AssetIn(ref.asset_key("trained_model")),
            "model_evaluation": AssetIn(ref.asset_key("model_evaluation")),
            "validated_model": AssetIn(ref.asset_key("validated_model")),
        },
        description=f"{ref.name}: the registered MLflow model version of the validated run (alias challenger).",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def registered_model_version(
        context: AssetExecutionContext,
        trained_model: TrainResult,
        model_evaluation: EvaluateResult,
        validated_model: ValidateResult,
    ) -> Output[RegisterResult]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            result: RegisterResult = run_step(register_version, ctx, trained_model, model_evaluation, validated_model)
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

    return registered_model_version


def champion_model_asset(ref: SpecRef) -> AssetsDefinition:
    from mlpublish.promotion import champion_card
    from mlpublish.steps import promote_challenger

    @asset(
        key=ref.asset_key("champion_model"),
        kinds={"mlflow"},
        ins={
            "model_evaluation": AssetIn(ref.asset_key("model_evaluation")),
            "validated_model": AssetIn(ref.asset_key("validated_model")),
            "registered_model_version": AssetIn(ref.asset_key("registered_model_version")),
        },
        description=f"{ref.name}: the version behind the champion alias, and its catalog entry.",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def champion_model(
        context: AssetExecutionContext,
        model_evaluation: EvaluateResult,
        validated_model: ValidateResult,
        registered_model_version: RegisterResult,
    ) -> Output[PromoteResult]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                result = run_step(promote_challenger, ctx, model_evaluation, validated_model, registered_model_version)
                entity = ctx.catalog.get(ctx.spec.fqn) or {}
                card = (
                    run_step(champion_card, ctx.registry, ctx.registry.get_version(ctx.name, result.champion_after))
                    if result.champion_after
                    else None
                )
            finally:
                release(context, ref)
            aliases = ctx.registry.aliases(ctx.name)
        meta = champion_metadata(ctx, result, entity, aliases)
        link = catalog.link(ctx.spec.fqn)
        if link:
            meta["catalog_link"] = MetadataValue.url(link)
        meta.update(md.card_metadata(card))  # the champion's card: the catalog's description of the model
        return Output(result, metadata=meta)

    return champion_model


def champion_metadata(ctx: Any, result: PromoteResult, entity: dict[str, Any], aliases: Any) -> dict[str, Any]:
    """What ``champion_model``'s page shows of the promotion, the registry's aliases and the catalog entry."""
    return {
        "outcome": MetadataValue.text(
            NOTHING_NEW
            if result.same_as_champion
            else ("PROMOTED" if result.promoted else ("SHADOWING" if result.shadow else "NOT PROMOTED"))
        ),
        "promoted": MetadataValue.bool(result.promoted),
        # promotion.mode: shadow: challenger beside the champion until it wins on live labels (live_promotion)
        "shadow": MetadataValue.bool(result.shadow),
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
