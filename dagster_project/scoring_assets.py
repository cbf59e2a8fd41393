"""After the champion: its batch predictions and the drift of the data it scores.

    champion_model -> model_predictions   (job <model>_scoring: the score step)
                   -> drift_report        (job <model>_monitoring: the monitor step)

They depend on ``champion_model`` (they use whatever version the alias points to)
but belong to their own jobs: the publish job stops at the champion, scoring and
monitoring run on their own schedules, and a drift decision starts a publish run
through the retraining sensor.
"""

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MetadataValue, Output, asset

from mlpublish.results import MonitorResult, ScoreResult
from mlpublish.workflows.report import contract_lines
from mlpublish_dagster import metadata as md
from mlpublish_dagster.io_manager import RESULTS
from mlpublish_dagster.runtime import STEP_RESOURCES, bound, release, resource_keys, run_step, step_context
from mlpublish_dagster.specs import SpecRef


def downstream_assets(ref: SpecRef, champion_key: AssetKey) -> list[AssetsDefinition]:
    """The assets after the champion: ``model_predictions`` and ``drift_report``, each in its own job."""
    return [model_predictions_asset(ref, champion_key), drift_report_asset(ref, champion_key)]


def model_predictions_asset(ref: SpecRef, champion_key: AssetKey) -> AssetsDefinition:
    from mlpublish.steps import score_batch

    @asset(
        key=ref.asset_key("model_predictions"),
        deps=[champion_key],
        kinds={"mlflow", "sql"},
        description=f"{ref.name}: the champion's batch predictions, one scoring run per Dagster run.",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES, "spark"),
    )
    def model_predictions(
        context: AssetExecutionContext,
    ) -> Output[ScoreResult]:
        mlflow, warehouse, catalog, spark = bound(context, ref, *STEP_RESOURCES, "spark")
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                # the root run id is the scoring run id: a re-executed run replaces its own rows
                scoring_run = context.dagster_run.root_run_id or context.run_id
                result: ScoreResult = run_step(
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
                "data_contract": _contract_md(result),
                **md.version_links(ctx.registry.tracking_uri, ctx.name, result.version),
            },
        )

    return model_predictions


def drift_report_asset(ref: SpecRef, champion_key: AssetKey) -> AssetsDefinition:
    from mlpublish.steps import monitor_drift

    @asset(
        key=ref.asset_key("drift_report"),
        deps=[champion_key],
        kinds={"mlflow"},
        description=f"{ref.name}: drift of the scoring data against the champion's training reference, "
        "and the retraining decision (N of M windows, cooldown).",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES, "spark"),
    )
    def drift_report(
        context: AssetExecutionContext,
    ) -> Output[MonitorResult]:
        mlflow, warehouse, catalog, spark = bound(context, ref, *STEP_RESOURCES, "spark")
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                result: MonitorResult = run_step(lambda c: monitor_drift(c, spark=spark.session(c.spec)), ctx)
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
                "data_contract": _contract_md(result),
                **md.run_links(ctx.registry.tracking_uri, experiment, result.monitor_run_id),
            },
        )

    return drift_report


def _contract_md(result: ScoreResult | MonitorResult) -> MetadataValue:
    """The run's checks against the champion's data contract: counts and one line per violation."""
    return MetadataValue.md("```\n" + "\n".join(contract_lines(result.contract)) + "\n```")
