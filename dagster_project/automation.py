"""Per spec: the publish, scoring and monitoring jobs, schedules from the spec's crons, and the retraining sensor.

The sensor reads the monitor step's retraining requests (tagged MLflow runs,
see ``mlpublish.registry.retraining``) after its cursor. All requests found in one tick
start one run (retraining twice on the same data helps nobody); the cursor moves
past them, and the run key is the newest request, so a drift decision never
starts a second run, even if the cursor were lost.
"""

import json
import os

from dagster import (
    AssetSelection,
    DagsterInvalidDefinitionError,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Field,
    InitExecutorContext,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    executor,
    multi_or_in_process_executor,
    sensor,
)

from mlpublish.errors import SpecError
from mlpublish_dagster.resources import MlflowResource
from mlpublish_dagster.specs import SpecRef

SENSOR_INTERVAL_VAR = "MLPUBLISH_SENSOR_INTERVAL"
REQUEST_TAG = "mlpublish/retrain_request"
REASONS_TAG = "mlpublish/retrain_reasons"
MODEL_RUN_TAG = "mlpublish/model"


# The chain is sequential: one process runs every step (as the CLI does), keeping the
# fitted model and held-out rows in memory instead of paying an interpreter start and
# an MLflow download per step. Launch with {"execution": {"config": {"multiprocess": {}}}}
# to run each step in its own process (the steps then read back from MLflow).
@executor(
    name="in_process_or_multiprocess",
    config_schema=Field(
        multi_or_in_process_executor.config_schema.as_field().config_type, default_value={"in_process": {}}
    ),
    requirements=multi_or_in_process_executor.get_requirements,
)
def chain_executor(init_context: InitExecutorContext):
    """Dagster's default executor (same config, same executors) with in-process as its default instead of
    multiprocess. A default executor config given as each job's ``config`` (a dict) made Dagster wrap the job's
    run config schema in a config mapping, built and serialized once more per job: at 200 specs (600 jobs) about
    1.5-2 of the 21-23 CPU seconds of ``dagster definitions validate`` (bench/fleet.py, bench/RESULTS.md)."""
    return multi_or_in_process_executor.executor_creation_fn(init_context)


# the publish job stops at the champion: model_predictions and drift_report are in their own jobs
CHAIN_ASSETS = ("trained_model", "model_evaluation", "validated_model", "registered_model_version", "champion_model")


def publish_job(ref: SpecRef):
    # by key, not by group: a translator may put several models, or other assets, in one group
    chain = AssetSelection.assets(*(ref.asset_key(name) for name in CHAIN_ASSETS))
    # the tag lets a run queue limit publish runs to one per model (see the README's dagster.yaml)
    return define_asset_job(
        f"{ref.key}_publish",
        selection=chain,
        executor_def=chain_executor,
        tags={MODEL_RUN_TAG: ref.key},
        description=f"Publish chain of {ref.name} ({ref.path.name}).",
    )


def scoring_job(ref: SpecRef):
    return define_asset_job(
        f"{ref.key}_scoring",
        selection=AssetSelection.assets(ref.asset_key("model_predictions")),
        executor_def=chain_executor,
        description=f"Batch predictions of {ref.name}'s champion.",
    )


def monitoring_job(ref: SpecRef):
    """Drift and the retraining decision; in shadow mode then the decision on live labels (live_promotion.py)."""
    nouns = ("drift_report", "live_promotion") if ref.shadow else ("drift_report",)
    return define_asset_job(
        f"{ref.key}_monitoring",
        selection=AssetSelection.assets(*(ref.asset_key(n) for n in nouns)),
        executor_def=chain_executor,
        description=f"Drift of {ref.name}'s scoring data; may request retraining"
        + ("; promotes the challenger on live labels." if ref.shadow else "."),
    )


def cron_schedule(
    ref: SpecRef, job, cron: str | None, what: str, field: str, running: bool
) -> ScheduleDefinition | None:
    """A schedule named ``<model>_<what>_schedule`` from one of the spec's crons (None: no schedule)."""
    if not cron:
        return None
    try:
        # Dagster checks the cron before anything else it is given (and the rest is ours, never the spec's):
        # a refusal here is the spec's cron, judged by Dagster's own rules
        return ScheduleDefinition(
            name=f"{ref.key}_{what}_schedule",
            job=job,
            cron_schedule=cron,
            execution_timezone="UTC",
            description=f"{what.capitalize()} of {ref.name} on {cron} (UTC).",
            default_status=DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED,
        )
    except DagsterInvalidDefinitionError as exc:
        raise SpecError(
            str(ref.path),
            [
                (
                    field,
                    f"{cron!r} is not a cron expression Dagster accepts "
                    "(five fields, or @hourly/@daily/@weekly/@monthly)",
                )
            ],
        ) from exc


def retraining_schedule(ref: SpecRef, job, running: bool) -> ScheduleDefinition | None:
    return cron_schedule(ref, job, ref.schedule, "retraining", "schedule", running)


def retraining_sensor(ref: SpecRef, job, running: bool) -> SensorDefinition:
    interval = int(os.environ.get(SENSOR_INTERVAL_VAR, "60"))

    @sensor(
        name=f"{ref.key}_retraining_sensor",
        job=job,
        minimum_interval_seconds=interval,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=f"Starts one publish run of {ref.name} per new drift decision of its monitor.",
        required_resource_keys={ref.resource_key("mlflow")},
    )
    def _sensor(context: SensorEvaluationContext):
        from mlpublish.registry.retraining import open_requests

        mlflow: MlflowResource = getattr(context.resources, ref.resource_key("mlflow"))
        spec = ref.load()
        # open only: a request some training already served (or that expired) never starts a run,
        # even on a first tick without a cursor
        with mlflow.session(spec):  # the deployment's token for this tick only: the daemon runs every sensor
            requests = open_requests(
                mlflow.registry(spec),
                spec.experiment_name,
                spec.name,
                after=context.cursor,
                expire_hours=spec.monitoring.inFlightHours,
            )
        if not requests:
            return SkipReason(f"no retraining request for {spec.name} after {context.cursor or 'the start'}")
        newest = requests[-1]
        context.update_cursor(newest.cursor)
        reasons = [r for req in requests for r in req.reasons]
        context.log.info(
            "%s: %d retraining request(s), newest %s: %s", spec.name, len(requests), newest.request_id, reasons
        )
        return RunRequest(
            run_key=f"retrain-{newest.request_id}",
            tags={
                REQUEST_TAG: newest.request_id,
                REASONS_TAG: json.dumps(reasons)[:1000],
            },
        )

    return _sensor
