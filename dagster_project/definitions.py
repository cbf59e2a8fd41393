"""The code location: ``dagster dev -m mlpublish_dagster.definitions``.

Specs come from ``MLPUBLISH_SPECS_DIR`` (default: the project's ``specs/``), the
resource set from ``MLPUBLISH_DEPLOYMENT`` (``local`` or ``prod``). Schedules and
sensors start stopped in ``local`` and running in ``prod``. An invalid spec never fails the location: it
is served as the asset ``invalid_spec/<file stem>`` carrying its error (invalid_specs.py).
"""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, Definitions

from mlpublish.errors import SpecError
from mlpublish_dagster.approval import approval_definitions
from mlpublish_dagster.assets import spec_assets
from mlpublish_dagster.automation import (
    cron_schedule,
    monitoring_job,
    publish_job,
    retraining_schedule,
    retraining_sensor,
    scoring_job,
)
from mlpublish_dagster.invalid_specs import invalid_spec_asset, invalid_spec_key
from mlpublish_dagster.notifications import notification_sensors
from mlpublish_dagster.resources import deployment, resources_for
from mlpublish_dagster.specs import InvalidSpec, SpecRef, survey


def build_definitions(folder: Path | None = None, deployment_name: str | None = None) -> Definitions:
    """Every valid spec's assets, jobs, schedules and sensors; an invalid spec is its own asset (invalid_specs.py)
    and never fails the code location."""
    name = deployment_name or deployment()
    running = name == "prod"
    refs, invalid = survey(folder)
    assets, jobs, schedules, sensors, publish_jobs = [], [], [], [], []
    for ref in refs:
        try:
            built = spec_definitions(ref, running)
        except SpecError as exc:  # a rule Dagster adds (a cron it refuses): this spec only
            invalid.append(InvalidSpec(ref.path, exc))
            continue
        assets += built["assets"]
        jobs += built["jobs"]
        schedules += built["schedules"]
        sensors += built["sensors"]
        publish_jobs.append((ref, built["jobs"][0]))
    keys: set[AssetKey] = set()
    for bad in invalid:
        key = invalid_spec_key(bad, keys)
        keys.add(key)
        assets.append(invalid_spec_asset(bad, key))
    sensors += notification_sensors(publish_jobs, running)
    return Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensors, resources=resources_for(name))


def spec_definitions(ref: SpecRef, running: bool) -> dict[str, list]:
    """One spec's assets, jobs (the publish job first), schedules and sensor."""
    job = publish_job(ref)
    scoring, monitoring = scoring_job(ref), monitoring_job(ref)
    schedules = [
        s
        for s in (
            retraining_schedule(ref, job, running),
            cron_schedule(ref, scoring, ref.scoring_schedule, "scoring", "scoring.schedule", running),
            cron_schedule(ref, monitoring, ref.monitoring_schedule, "monitoring", "monitoring.schedule", running),
        )
        if s is not None
    ]
    approval = approval_definitions(ref, running)  # promotion.approval: required (approval.py)
    return {
        "assets": spec_assets(ref),
        "jobs": [job, scoring, monitoring, *approval["jobs"]],
        "schedules": schedules,
        "sensors": [retraining_sensor(ref, job, running), *approval["sensors"]],
    }


defs = build_definitions()
