"""promotion.mode: shadow on Dagster: ``live_promotion``, after ``drift_report`` in the monitoring job.

    drift_report -> live_promotion   (job <model>_monitoring: the decision on live labels, and the move)

The asset calls the core step :func:`mlpublish.steps.promote_live.promote_on_live_labels` on the live windows the
monitor just recorded and shows what it decided (outcome, reason, every window won or lost and why). A move, or a
win waiting for an approver, is notified here: the monitoring job has no run status sensor. Under
``promotion.approval: required`` the step only asks for the approval; the approval sensor (approval.py) then
promotes what an approver recorded (``mlpublish approve MODEL VERSION --record-only``). Only specs in shadow mode
have this asset.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MetadataValue, Output, asset

from mlpublish.results import LivePromotionResult
from mlpublish_dagster import metadata as md
from mlpublish_dagster.io_manager import RESULTS
from mlpublish_dagster.runtime import STEP_RESOURCES, bound, release, resource_keys, run_step, step_context
from mlpublish_dagster.specs import SpecRef


def live_promotion_asset(ref: SpecRef, drift_key: AssetKey) -> AssetsDefinition:
    from mlpublish.steps.promote_live import promote_on_live_labels

    @asset(
        key=ref.asset_key("live_promotion"),
        deps=[drift_key],
        kinds={"mlflow"},
        description=f"{ref.name}: the challenger promoted once it beats the champion on live labels "
        "(promotion.mode: shadow; N of the last M labelled windows, the spec's gates on live metrics).",
        group_name=ref.group,
        owners=list(ref.placement.owners),
        io_manager_key=ref.resource_key(RESULTS),
        required_resource_keys=resource_keys(ref, *STEP_RESOURCES),
    )
    def live_promotion(context: AssetExecutionContext) -> Output[LivePromotionResult]:
        mlflow, warehouse, catalog = bound(context, ref, *STEP_RESOURCES)
        with step_context(context, ref, mlflow, warehouse, catalog) as ctx:
            try:
                result: LivePromotionResult = run_step(promote_on_live_labels, ctx)
            finally:
                release(context, ref)
            tracking_uri = ctx.registry.tracking_uri
        context.log.info("%s: %s: %s", ref.name, result.outcome, result.reason)
        notify_live(context, result, tracking_uri, ctx.spec.fqn)
        return Output(result, metadata=live_metadata(result, tracking_uri, ref.name))

    return live_promotion


def live_metadata(result: LivePromotionResult, tracking_uri: str, name: str) -> dict[str, Any]:
    """What the asset page shows: the outcome, the versions, why, and every window looked at."""
    from mlpublish.promotion.live_evidence import window_checks

    decision = result.decision
    meta: dict[str, Any] = {
        "outcome": MetadataValue.text(result.outcome),
        "promoted": MetadataValue.bool(result.promoted),
        "champion_version": MetadataValue.text(result.champion_after or "none"),
        "challenger_version": MetadataValue.text(result.challenger or "none"),
        "reason": MetadataValue.text(result.reason),
        **md.version_links(tracking_uri, name, result.champion_after),
    }
    if decision is not None:
        meta["windows_won"] = MetadataValue.text(f"{decision.wins} of {len(decision.windows)}")
        meta["rule"] = MetadataValue.text(
            f"{decision.window_n} of the last {decision.window_m} on live {decision.metric}"
        )
        meta["windows"] = md.checks_table(window_checks(decision))
    return meta


def notify_live(context: Any, result: LivePromotionResult, tracking_uri: str, fqn: str) -> None:
    """The promotion's notification (or the win waiting for approval); a failure to notify is only logged."""
    from mlpublish.notify import NotifySettings, Source, live_promotion_notification, notify
    from mlpublish.redact import scrub

    try:
        settings = NotifySettings.from_env()
        n = live_promotion_notification(
            result,
            source=Source(orchestrator="dagster", name=context.job_name, run_id=context.run_id),
            tracking_uri=tracking_uri,
            catalog_fqn=fqn,
        )
        if n is not None and settings.sinks():
            notify(n, settings)
    except Exception as exc:  # the decision stands
        context.log.warning("notifications not sent: %s", scrub(f"{type(exc).__name__}: {exc}"))
