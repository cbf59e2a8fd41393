"""promotion.mode: shadow on Airflow: after the monitor task, the monitor DAG decides on live labels and promotes.

    monitor -> retrain_requested -> trigger_retraining
            -> promote_on_live_labels                          (the decision, and the move when it won)
               [promotion.approval: required]
               -> live_approval_requested -> approve_live_promotion (human in the loop) -> promote_approved

``PromoteOnLiveLabelsOperator`` calls the core step :func:`mlpublish.steps.promote_live.promote_on_live_labels`
and succeeds whatever it decided (its XCom, a ``LivePromotionResult``, says promoted, waiting, or approval
requested); a move emits the model's asset event (through an asset alias: only a move emits one) and notifies. Under four eyes the step marks the winner WON and
asks for approval; the approval task offers it to ``promotion.approvers``, and ``promote_approved`` approves as the
responding Airflow user (checked by the core against the request: never who registered the version).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlpublish_airflow.exceptions import PromotionRefused
from mlpublish_airflow.links import CatalogEntityLink, ModelVersionLink
from mlpublish_airflow.publish import PromoteModelOperator, PublishStepOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

LIVE_TASK = "promote_on_live_labels"
LIVE_APPROVAL_TASK = "approve_live_promotion"


class PromoteOnLiveLabelsOperator(PublishStepOperator):
    """The decision on the live windows the monitor recorded, and the move when the challenger won.
    XCom: ``LivePromotionResult`` (``outcome``, ``reason``, the decision with every window's evidence)."""

    step = "promote_live"
    lineage_reads_tables = False
    operator_extra_links = (ModelVersionLink(), CatalogEntityLink())

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.steps.promote_live import promote_on_live_labels
        from mlpublish_airflow.assets import model_asset

        result = promote_on_live_labels(ctx)
        self.log.info("%s: %s: %s", ctx.spec.name, result.outcome, result.reason)
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if result.promoted and events is not None:  # the model's asset event, only when the champion moved
            latest = result.decision.windows[-1] if result.decision and result.decision.windows else None
            extra = {
                "model": ctx.spec.name,
                "version": result.champion_after,
                "champion_before": result.champion_before,
                "live_metrics": latest.challenger if latest else {},
            }
            events[live_alias(ctx.spec)].add(model_asset(ctx.spec), extra=extra)
        return result.to_json()


def live_alias(spec: Any) -> Any:
    """The alias the live task emits the model's asset event through: only a move emits one (a task that only
    decided succeeds too, and a declared outlet would emit an event on every success)."""
    from airflow.sdk import AssetAlias

    return AssetAlias(name=f"mlpublish-live-promotion/{spec.fqn}", group="ml_models")


def live_approval_requested(ti: Any, live_task_id: str = LIVE_TASK) -> bool:
    """ShortCircuit callable: True when the challenger won on live labels and waits for an approver."""
    return (ti.xcom_pull(task_ids=live_task_id) or {}).get("outcome") == "APPROVAL_REQUESTED"


class PromoteLiveWinnerOperator(PromoteModelOperator):
    """promote_approved: the live winner becomes champion on the approval given in ``approve_live_promotion``,
    as an approval by the responding Airflow user (the core checks it against the rule and the request).
    XCom: ``PromoteResult``."""

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.promotion.approval import approve_version

        ti = context["ti"]
        live = ti.xcom_pull(task_ids=LIVE_TASK) or {}
        version = live.get("challenger")
        answer = ti.xcom_pull(task_ids=LIVE_APPROVAL_TASK) or {}
        if not version or "Approve" not in (answer.get("chosen_options") or []):
            raise PromotionRefused(f"{ctx.spec.name}: v{version} was not approved in task {LIVE_APPROVAL_TASK!r}")
        user = answer.get("responded_by_user") or {}
        who = user.get("name") or user.get("id") or "an Airflow user"
        why = f"approved in Airflow ({ti.dag_id} run {ti.run_id}) after winning on live labels"
        result = approve_version(ctx.registry, ctx.catalog, ctx.spec.name, version, reason=why, approver=who)
        return self.champion_moved(ctx, context, result)


def live_promotion_tasks(spec: Any, spec_path: str, dag: Any) -> list[Any]:
    """The monitor DAG's tasks after ``monitor`` in shadow mode, in order (see the module)."""
    from airflow.providers.standard.operators.python import ShortCircuitOperator

    from mlpublish_airflow.assets import model_asset
    from mlpublish_airflow.notifications import notify_live_promotion, notify_promotion

    live = PromoteOnLiveLabelsOperator(
        task_id=LIVE_TASK,
        spec_path=spec_path,
        dag=dag,
        outlets=[live_alias(spec)],
        on_success_callback=notify_live_promotion,
    )
    if not spec.promotion.live_approval:
        return [live]
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    assigned = [{"id": user, "name": user} for user in spec.promotion.approvers] or None
    return [
        live,
        ShortCircuitOperator(task_id="live_approval_requested", python_callable=live_approval_requested, dag=dag),
        ApprovalOperator(
            task_id=LIVE_APPROVAL_TASK,
            dag=dag,
            assigned_users=assigned,
            subject=f"Promote {spec.name} v{{{{ ti.xcom_pull(task_ids='{LIVE_TASK}')['challenger'] }}}} "
            "(won on live labels) to champion?",
            body=f"{{{{ ti.xcom_pull(task_ids='{LIVE_TASK}')['reason'] }}}}. Approve to move the `champion` alias.",
        ),
        PromoteLiveWinnerOperator(
            task_id="promote_approved",
            spec_path=spec_path,
            dag=dag,
            outlets=[model_asset(spec)],
            on_success_callback=notify_promotion,
        ),
    ]
