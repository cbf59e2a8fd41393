"""Four eyes on Dagster (``promotion.approval: required``): the approval sensor and the job it starts.

The publish job ends with the candidate as ``challenger`` and an approval request in the registry. An
approver records the approval with their own MLflow identity (``mlpublish approve MODEL VERSION
--record-only``); this sensor sees it and starts ``<model>_promote_approved``, whose op makes the version
champion on the recorded approval, checked again against the rule (mlpublish.promotion.approval). The
sensor and the job only translate: no rule is decided here. Credentials come from the MlflowResource and
never reach tags or metadata; the run key names the model, version and approval time, so one approval
starts one run.
"""

import os
from typing import Any

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    OpExecutionContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)

from mlpublish_dagster.resources import CatalogResource, MlflowResource
from mlpublish_dagster.specs import SpecRef

VERSION_TAG = "mlpublish/approved_version"
SENSOR_INTERVAL_VAR = "MLPUBLISH_APPROVAL_SENSOR_SECONDS"


def approved_runs(reg: Any, name: str) -> list[RunRequest]:
    """One run request per version approved and not promoted yet (oldest first)."""
    from mlpublish.promotion.approval import approved_waiting
    from mlpublish.registry.contract import APPROVED_AT_TAG

    requests = []
    for version in approved_waiting(reg, name):
        approved_at = (reg.get_version(name, version).tags or {}).get(APPROVED_AT_TAG, "")
        requests.append(RunRequest(run_key=f"approved-{name}-v{version}-{approved_at}", tags={VERSION_TAG: version}))
    return requests


def promote_approved_job(ref: SpecRef) -> JobDefinition:
    """``<model>_promote_approved``: make the version in the run's tag champion on its recorded approval."""

    @op(
        name=f"{ref.key}_promote_approved_version",
        required_resource_keys={ref.resource_key("mlflow"), ref.resource_key("catalog")},
    )
    def promote_approved_version(context: OpExecutionContext):
        from mlpublish.promotion.approval import promote_approved

        mlflow: MlflowResource = getattr(context.resources, ref.resource_key("mlflow"))
        catalog: CatalogResource = getattr(context.resources, ref.resource_key("catalog"))
        spec = ref.load()
        version = context.run.tags[VERSION_TAG]
        with mlflow.session(spec):
            reg = mlflow.registry(spec)
            result = promote_approved(reg, catalog.open(spec), spec.name, version)
            if result.champion_before != result.champion_after:  # a re-run that moved nothing notifies nothing
                _notify_move(context, reg, result)
        context.log.info("%s", result.reason)
        return result.to_json()

    @job(name=f"{ref.key}_promote_approved", description=f"Make an approved version of {ref.name} champion.")
    def _job():
        promote_approved_version()

    return _job


def _notify_move(context: OpExecutionContext, reg: Any, result: Any) -> None:
    """The move's notification (its reason says who approved and why); a failure to notify is only logged."""
    from mlpublish.notify import NotifySettings, Source, move_notification, notify
    from mlpublish.redact import scrub
    from mlpublish.registry.contract import CATALOG_FQN_TAG

    try:
        settings = NotifySettings.from_env()
        if settings.sinks():
            source = Source(orchestrator="dagster", name=context.job_name, run_id=context.run_id)
            fqn = reg.model_tags(result.model_name).get(CATALOG_FQN_TAG)
            notify(move_notification(reg, result, source=source, catalog_fqn=fqn), settings)
    except Exception as exc:  # the champion moved: that outcome stands
        context.log.warning("notifications not sent: %s", scrub(f"{type(exc).__name__}: {exc}"))


def approval_sensor(ref: SpecRef, job_def: JobDefinition, running: bool) -> SensorDefinition:
    @sensor(
        name=f"{ref.key}_approval_sensor",
        job=job_def,
        minimum_interval_seconds=int(os.environ.get(SENSOR_INTERVAL_VAR, "60")),
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=f"Starts {job_def.name} for each recorded approval of a {ref.name} version.",
        required_resource_keys={ref.resource_key("mlflow")},
    )
    def _sensor(context: SensorEvaluationContext):
        mlflow: MlflowResource = getattr(context.resources, ref.resource_key("mlflow"))
        spec = ref.load()
        with mlflow.session(spec):
            requests = approved_runs(mlflow.registry(spec), spec.name)
        return requests or SkipReason(f"no approved version of {spec.name} waits for promotion")

    return _sensor


def approval_definitions(ref: SpecRef, running: bool) -> dict[str, list]:
    """The job and sensor of a spec that requires approval; nothing for one that does not."""
    if not ref.approval:  # read when the code location loaded the spec (specs.spec_ref): no second read
        return {"jobs": [], "sensors": []}
    job_def = promote_approved_job(ref)
    return {"jobs": [job_def], "sensors": [approval_sensor(ref, job_def, running)]}
