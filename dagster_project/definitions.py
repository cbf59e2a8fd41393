"""The code location: ``dagster dev -m mlpublish_dagster.definitions``.

Specs come from ``MLPUBLISH_SPECS_DIR`` (default: the project's ``specs/``), the
resource set from ``MLPUBLISH_DEPLOYMENT`` (``local`` or ``prod``). Schedules and
sensors start stopped in ``local`` and running in ``prod``.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from mlpublish_dagster.assets import spec_assets
from mlpublish_dagster.automation import (
    cron_schedule,
    monitoring_job,
    publish_job,
    retraining_schedule,
    retraining_sensor,
    scoring_job,
)
from mlpublish_dagster.notifications import notification_sensors
from mlpublish_dagster.resources import deployment, resources_for
from mlpublish_dagster.specs import discover


def build_definitions(folder: Path | None = None, deployment_name: str | None = None) -> Definitions:
    name = deployment_name or deployment()
    running = name == "prod"
    assets, jobs, schedules, sensors, publish_jobs = [], [], [], [], []
    for ref in discover(folder):
        assets += spec_assets(ref)
        job = publish_job(ref)
        jobs.append(job)
        publish_jobs.append((ref, job))
        schedule = retraining_schedule(ref, job, running)
        if schedule is not None:
            schedules.append(schedule)
        sensors.append(retraining_sensor(ref, job, running))
        scoring, monitoring = scoring_job(ref), monitoring_job(ref)
        jobs += [scoring, monitoring]
        schedules += [
            s
            for s in (
                cron_schedule(ref, scoring, ref.scoring_schedule, "scoring", "scoring.schedule", running),
                cron_schedule(ref, monitoring, ref.monitoring_schedule, "monitoring", "monitoring.schedule", running),
            )
            if s is not None
        ]
    sensors += notification_sensors(publish_jobs, running)
    return Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensors, resources=resources_for(name))


defs = build_definitions()
