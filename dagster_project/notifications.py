"""Run status sensors that notify on the publish jobs' outcomes (gate, promotion).

A run status sensor sees each finished run once (its cursor moves past it), so each event is
notified once; the assets (the core steps) never notify. The sensor reads what the run itself
recorded: the materializations of ``model_evaluation`` (the candidate-vs-champion metrics table),
``validated_model`` (status, summary, checks table, MLflow run link) and ``champion_model``
(promoted, reason, versions, links). A run that failed before validation has no gate outcome and
sends nothing.

Settings: the ``MLPUBLISH_NOTIFY_*`` environment of the daemon (sensors run there), plus
``MLPUBLISH_NOTIFY_DAGSTER_URL`` (the webserver's base URL, for a link to the run).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunStatusSensorContext,
    SensorDefinition,
    SkipReason,
    run_status_sensor,
)

from mlpublish.redact import scrub
from mlpublish.results import NOTHING_NEW
from mlpublish_dagster.automation import CHAIN_ASSETS
from mlpublish_dagster.specs import SpecRef

log = logging.getLogger("mlpublish.notify")
DAGSTER_URL_VAR = "MLPUBLISH_NOTIFY_DAGSTER_URL"
SUCCESS_SENSOR = "mlpublish_publish_notifications"
FAILURE_SENSOR = "mlpublish_publish_failure_notifications"
SENSOR_BUDGET_SECONDS = 40.0  # under Dagster's 60 s limit of a sensor call, with one sink timeout to spare
SENSOR_SINK_TIMEOUT = 10.0


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def run_materializations(instance: Any, run_id: str, ref: SpecRef) -> dict[str, dict[str, Any]]:
    """Metadata of the chain's assets materialized by this run, by asset name (values unwrapped)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    nouns = {ref.asset_key(noun): noun for noun in CHAIN_ASSETS}  # wherever the translator placed them
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        mat = record.event_log_entry.dagster_event.event_specific_data.materialization
        noun = nouns.get(mat.asset_key)
        if noun is not None:
            out[noun] = {k: _value(v) for k, v in mat.metadata.items()}
    return out


def _metrics(table: Any) -> tuple[dict[str, float], dict[str, float], str | None]:
    """Candidate and champion metrics from the ``metrics`` table (see metadata.metrics_table)."""
    candidate, champion, version = {}, {}, None
    for record in getattr(table, "records", None) or []:
        row = record.data
        candidate[row["metric"]] = row["candidate"]
        for key, value in row.items():
            if key.startswith("champion") and value is not None:
                champion[row["metric"]] = value
                version = key[len("champion v") :] if key.startswith("champion v") else version
    return candidate, champion, version


def _checks(table: Any) -> list[Any]:
    from mlpublish.evaluation.gates import CheckResult

    return [
        CheckResult(
            check="gate" if r.data.get("metric") else "check",
            name=r.data["check"],
            outcome=str(r.data["outcome"]).lower(),
            metric=r.data.get("metric"),
            value=r.data.get("value"),
            threshold=r.data.get("threshold"),
            detail=r.data.get("detail") or "",
        )
        for r in (getattr(table, "records", None) or [])
    ]


def _links(ref: SpecRef, fqn: str, run: Any, run_meta: dict[str, Any], champion_meta: dict[str, Any]) -> list[Any]:
    from mlpublish.notify import Link
    from mlpublish.notify.message import openmetadata_ui

    links = [
        Link(label="MLflow run", url=run_meta["mlflow_run"])
        if run_meta.get("mlflow_run")
        else Link(label="MLflow run", command=f"mlflow runs describe --run-id {run_meta.get('mlflow_run_id')}")
    ]
    if champion_meta.get("mlflow_model_version"):
        links.append(Link(label="MLflow model version", url=champion_meta["mlflow_model_version"]))
    ui = champion_meta.get("catalog_link") or openmetadata_ui(os.environ.get("OPENMETADATA_HOST_PORT"), fqn)
    links.append(
        Link(label="Catalog entity", url=ui)
        if ui
        else Link(label="Catalog entity", command=f"mlpublish catalog show {fqn}")
    )
    base = os.environ.get(DAGSTER_URL_VAR, "").strip().rstrip("/")
    if base:
        links.append(Link(label="Dagster run", url=f"{base}/runs/{run.run_id}"))
    return links


def run_notifications(instance: Any, run: Any, ref: SpecRef) -> list[Any]:
    """The notifications one finished publish run makes: gate (if validated), promotion (if it ran)."""
    from mlpublish.notify import Source, metric_rows
    from mlpublish.notify.message import Notification
    from mlpublish.results import PromoteResult

    mats = run_materializations(instance, run.run_id, ref)
    # A re-execution (e.g. from failure after a catalog outage) does not materialize the steps its
    # parent finished: take them from the ancestors. Their gate outcome was notified by the parent's
    # run; this run only adds what it did itself (the promotion).
    inherited, parent = False, run.parent_run_id
    while "validated_model" not in mats and parent:
        for name, meta in run_materializations(instance, parent, ref).items():
            mats.setdefault(name, meta)
        inherited = True
        parent_run = instance.get_run_by_id(parent)
        parent = parent_run.parent_run_id if parent_run is not None else None
    validated = mats.get("validated_model")
    if validated is None or validated.get("outcome") == NOTHING_NEW:  # the champion again: nothing happened
        return []
    evaluation = mats.get("model_evaluation", {})
    champion_meta = mats.get("champion_model", {})
    candidate, champion, compared = _metrics(evaluation.get("metrics"))
    spec = ref.load()
    source = Source(orchestrator="dagster", name=run.job_name, run_id=run.run_id)
    run_id = validated.get("mlflow_run_id")
    links = _links(ref, spec.fqn, run, validated, {})
    status = validated.get("validation_status")
    out = [
        Notification(
            event="gate",
            outcome="PASSED" if status == "PASSED" else "FAILED",
            model=spec.name,
            run_id=run_id,
            title=f"{spec.name}: candidate run {run_id} {status} validation",
            summary=str(validated.get("summary", status)),
            champion_label=f"champion v{compared}" if compared else "champion (none yet)",
            metrics=metric_rows(candidate, champion or None),
            checks=_checks(validated.get("checks")),
            champion_before=compared,
            links=links,
            source=source,
        )
    ]
    if inherited:
        out = []
    # a manual promotion is notified when approved, a shadow challenger's when it wins on live labels
    waiting = (spec.promotion.needs_approval or champion_meta.get("shadow")) and not champion_meta.get("promoted")
    if champion_meta and status == "PASSED" and not waiting:
        from mlpublish.notify import promotion_notification

        after, before = champion_meta.get("champion_version"), champion_meta.get("previous_champion")
        promotion = PromoteResult(
            model_name=spec.name,
            version=str(mats.get("registered_model_version", {}).get("model_version") or after),
            promoted=bool(champion_meta.get("promoted")),
            mode=spec.promotion.mode,
            champion_before=None if before in (None, "none") else before,
            champion_after=None if after in (None, "none") else after,
            reason=str(champion_meta.get("reason", "")),
        )
        out.append(
            promotion_notification(
                promotion,
                source=source,
                run_id=run_id,
                candidate_metrics=candidate,
                champion_metrics=champion or None,
                compared_version=compared,
                links=_links(ref, spec.fqn, run, validated, champion_meta),
            )
        )
    return out


def _sensor_body(refs: dict[str, SpecRef]) -> Any:
    def body(context: RunStatusSensorContext) -> Any:
        from mlpublish.notify import NotifySettings, notify

        run = context.dagster_run
        ref = refs.get(run.job_name)
        if ref is None:
            return SkipReason(f"{run.job_name} is not a publish job")
        try:
            settings = NotifySettings.from_env()
            if not settings.sinks():
                return SkipReason("no notification sink configured (MLPUBLISH_NOTIFY_*)")
            notifications = run_notifications(context.instance, run, ref)
            if not notifications:
                return SkipReason(f"run {run.run_id} has no gate outcome (it stopped before validation)")
            # Dagster gives a sensor call 60 s and moves the cursor only when it returns: a hanging sink
            # must not make the tick fail (the next tick would send the same run's notifications again).
            settings = dataclasses.replace(settings, timeout=min(settings.timeout, SENSOR_SINK_TIMEOUT))
            deliveries = notify(notifications, settings, budget_seconds=SENSOR_BUDGET_SECONDS)
        except Exception as exc:  # never retry a whole sensor tick: log and move the cursor on
            message = scrub(f"notifications of run {run.run_id} not sent: {type(exc).__name__}: {exc}")
            context.log.warning(message)
            return SkipReason(message)
        sent = sum(d.sent for d in deliveries)
        context.log.info("run %s: %d notification(s) sent, %d failed", run.run_id, sent, len(deliveries) - sent)
        return SkipReason(f"run {run.run_id}: {sent} of {len(deliveries)} notification(s) sent")

    return body


def notification_sensors(
    jobs: list[tuple[SpecRef, Any]], running: bool, name_prefix: str = ""
) -> list[SensorDefinition]:
    """Two sensors over every publish job: successful runs (gate PASSED, promotion) and failed runs
    (a FAILED gate fails the run through its blocking checks); named ``<name_prefix>mlpublish_publish_...``."""
    if not jobs:
        return []
    refs = {job.name: ref for ref, job in jobs}
    status = DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED
    common = dict(
        monitored_jobs=[job for _, job in jobs],
        default_status=status,
        minimum_interval_seconds=int(os.environ.get("MLPUBLISH_SENSOR_INTERVAL", "60")),
    )
    success = run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        name=name_prefix + SUCCESS_SENSOR,
        **common,
        description="Notifies the gate outcome and the promotion of each successful publish run.",
    )(_sensor_body(refs))
    failure = run_status_sensor(
        run_status=DagsterRunStatus.FAILURE,
        name=name_prefix + FAILURE_SENSOR,
        **common,
        description="Notifies the FAILED gate of each publish run its validation stopped.",
    )(_sensor_body(refs))
    return [success, failure]
