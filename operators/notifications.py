"""Task callbacks that notify: the gate outcome (``validate``) and the promotion (``promote``).

Airflow runs a task's ``on_success_callback`` / ``on_failure_callback`` / ``on_skipped_callback``
once, when the try ends in that state (a try that will be retried runs ``on_retry_callback``
instead): so each event is notified once per DAG run, and the core steps never notify themselves.
The callbacks read the results from XCom:

* validate succeeded: its ``ValidateResult`` -> gate PASSED;
* validate failed or was skipped by a FAILED gate: XCom key ``rejected`` -> gate FAILED
  (a validate that failed on an error has no ``rejected`` result: that is no gate outcome);
* promote succeeded: its ``PromoteResult`` -> PROMOTED; promote skipped because the champion
  moved and the candidate no longer beats it: XCom key ``refused`` -> NOT_PROMOTED (skipped as a shadow
  challenger: nothing);
* promote_on_live_labels (monitor DAG, promotion.mode: shadow) succeeded: its ``LivePromotionResult`` ->
  PROMOTED, or NOT_PROMOTED waiting for an approver; a decision that moved nothing notifies nothing.

Settings: the ``MLPUBLISH_NOTIFY_*`` environment of the task process. Nothing here raises: Airflow
would only log it, and the task's state is already decided. Imports are lazy (DAG parsing stays cheap).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("mlpublish.notify")


def _run_url(ti: Any) -> tuple[str, str] | None:
    try:  # the task's log URL is <[api] base_url>/dags/<dag>/runs/<run>/tasks/<task>...
        return ("Airflow DAG run", ti.log_url.split("/tasks/", 1)[0])
    except Exception:
        return None


def _pull(ti: Any, task_id: str, model: type, key: str | None = None) -> Any:
    value = ti.xcom_pull(task_ids=task_id, key=key) if key else ti.xcom_pull(task_ids=task_id)
    return model.model_validate(value) if value else None


def _send(context: Any, build: Any) -> None:
    from mlpublish.redact import scrub

    try:
        from mlpublish.notify import NotifySettings, Source, notify

        settings = NotifySettings.from_env()
        if not settings.sinks():
            return
        task, ti = context["task"], context["ti"]
        spec = task.load_spec()
        from mlpublish import config
        from mlpublish_airflow.hooks import OpenMetadataHook

        om = OpenMetadataHook(task.openmetadata_conn_id).settings()
        links = dict(
            model=spec.name,
            tracking_uri=config.tracking_uri(spec.mlflow.trackingUri),
            catalog_fqn=spec.fqn,
            openmetadata_host_port=om.host_port if om else None,
            orchestrator_run=_run_url(ti),
        )
        source = Source(orchestrator="airflow", name=ti.dag_id, run_id=ti.run_id)
        notification = build(task, ti, source, links)
        if notification is not None:
            notify(notification, settings)
    except Exception as exc:
        log.warning("notification not sent: %s", scrub(f"{type(exc).__name__}: {exc}"))


def notify_gate(context: Any) -> None:
    """Callback of ``validate`` (success, failure and skip)."""

    def build(task: Any, ti: Any, source: Any, links: dict[str, Any]) -> Any:
        from mlpublish.notify import gate_notification, links_for
        from mlpublish.results import EvaluateResult, TrainResult, ValidateResult

        validation = _pull(ti, ti.task_id, ValidateResult) or _pull(ti, ti.task_id, ValidateResult, key="rejected")
        if validation is None or validation.nothing_new:
            return None  # validate failed on an error, not on a gate; or the champion again: nothing to tell
        evaluation = _pull(ti, task.task_ids["evaluate"], EvaluateResult)
        train = _pull(ti, task.task_ids["train"], TrainResult)
        return gate_notification(
            evaluation,
            validation,
            source=source,
            links=links_for(**links, run_id=validation.run_id, experiment_id=train.experiment_id if train else None),
        )

    _send(context, build)


def notify_promotion(context: Any) -> None:
    """Callback of ``promote`` (success and skip)."""

    def build(task: Any, ti: Any, source: Any, links: dict[str, Any]) -> Any:
        from mlpublish.notify import links_for, promotion_notification
        from mlpublish.results import EvaluateResult, PromoteResult, TrainResult

        promotion = _pull(ti, ti.task_id, PromoteResult) or _pull(ti, ti.task_id, PromoteResult, key="refused")
        if promotion is None:
            return None  # skipped without a result (not approved): no promotion happened
        evaluation = _pull(ti, task.task_ids["evaluate"], EvaluateResult)
        train = _pull(ti, task.task_ids["train"], TrainResult)
        run_id = evaluation.run_id if evaluation else None
        return promotion_notification(
            promotion,
            source=source,
            run_id=run_id,
            candidate_metrics=evaluation.metrics if evaluation else None,
            champion_metrics=evaluation.champion_metrics if evaluation else None,
            compared_version=evaluation.champion_version if evaluation else None,
            links=links_for(
                **links, run_id=run_id, version=promotion.version, experiment_id=train.experiment_id if train else None
            ),
        )

    _send(context, build)


def notify_live_promotion(context: Any) -> None:
    """Callback of ``promote_on_live_labels`` (monitor DAG, promotion.mode: shadow): a promotion on live labels,
    or a win waiting for an approver, with the live evidence; nothing for a decision that moved nothing."""

    def build(task: Any, ti: Any, source: Any, links: dict[str, Any]) -> Any:
        from mlpublish.notify import live_promotion_notification
        from mlpublish.results import LivePromotionResult

        result = _pull(ti, ti.task_id, LivePromotionResult)
        if result is None:
            return None
        return live_promotion_notification(
            result,
            source=source,
            tracking_uri=links["tracking_uri"],
            catalog_fqn=links["catalog_fqn"],
            openmetadata_host_port=links["openmetadata_host_port"],
            orchestrator_run=links["orchestrator_run"],
        )

    _send(context, build)
