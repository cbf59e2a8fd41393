"""The Definitions of a folder of specs, built when called, never at import (as dagster-dbt's and dagster-sling's
factories): a Dagster project merges them with its own.

    defs = Definitions.merge(
        my_project_defs,
        build_mlpublish_definitions("specs", resource_prefix="mlpublish_", translator=MyTranslator()),
    )

Each spec is validated as ``mlpublish check --no-warehouse`` validates it; a spec that fails is served as the asset
``invalid_spec/<file stem>`` carrying its error (invalid_specs.py), so the code location always loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
from mlpublish_dagster.resources import deployment as current_deployment
from mlpublish_dagster.resources import resources_for
from mlpublish_dagster.specs import InvalidSpec, SpecRef, survey
from mlpublish_dagster.translator import MlpublishTranslator, place


def build_mlpublish_definitions(
    specs_dir: str | os.PathLike[str] | None = None,
    *,
    resource_prefix: str = "",
    translator: MlpublishTranslator | None = None,
    deployment: str | None = None,
    environment: str | None = None,
    running: bool | None = None,
) -> Definitions:
    """Every spec of ``specs_dir`` (None: ``MLPUBLISH_SPECS_DIR``, else ``./specs``) as assets, checks, jobs,
    schedules and sensors.

    * ``resource_prefix``: mlpublish's resources (``mlflow``, ``warehouse``, ``catalog``, ``spark``,
      ``result_io_manager``) are bound as ``<prefix><key>``, so they never collide with the project's own;
    * ``translator``: asset keys, groups, owners and the upstream asset of each feature table (translator.py);
    * ``deployment``: the resource set, ``local`` or ``prod`` (None: ``MLPUBLISH_DEPLOYMENT``, else ``local``);
    * ``environment``: the specs' environment in their environments file (None: ``MLPUBLISH_ENV``, else the
      file's default);
    * ``running``: schedules and sensors start running (None: only in ``prod``).
    """
    refs, invalid = survey(Path(specs_dir) if specs_dir is not None else None, environment)
    return definitions_for(
        refs,
        invalid,
        resource_prefix=resource_prefix,
        translator=translator,
        deployment=deployment,
        running=running,
    )


def definitions_for(
    refs: Sequence[SpecRef],
    invalid: Sequence[InvalidSpec] = (),
    *,
    resource_prefix: str = "",
    translator: MlpublishTranslator | None = None,
    deployment: str | None = None,
    running: bool | None = None,
    sensors: bool = True,
    sensor_prefix: str | None = None,
) -> Definitions:
    """The Definitions of specs already read (the factory's and the component's common part). ``sensor_prefix``
    (default: ``resource_prefix``) names the notification sensors, which watch every publish job they are given."""
    name = deployment or current_deployment()
    resources = resources_for(name, resource_prefix)  # an unknown deployment fails before anything is built
    running = name == "prod" if running is None else running
    translator = translator or MlpublishTranslator()
    invalid = list(invalid)
    assets, jobs, schedules, sensor_defs, publish_jobs = [], [], [], [], []
    for ref in refs:
        ref = place(ref, translator, resource_prefix)
        try:
            built = spec_definitions(ref, running, sensors, resources)
        except SpecError as exc:  # a rule Dagster adds (a cron it refuses): this spec only
            invalid.append(InvalidSpec(ref.path, exc))
            continue
        assets += built["assets"]
        jobs += built["jobs"]
        schedules += built["schedules"]
        sensor_defs += built["sensors"]
        publish_jobs.append((ref, built["jobs"][0]))
    keys: set[AssetKey] = set()
    for bad in invalid:
        key = invalid_spec_key(bad, keys)
        keys.add(key)
        assets.append(invalid_spec_asset(bad, key))
    if sensors:
        sensor_defs += notification_sensors(
            publish_jobs, running, name_prefix=resource_prefix if sensor_prefix is None else sensor_prefix
        )
    return Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensor_defs, resources=resources)


def spec_definitions(
    ref: SpecRef, running: bool, sensors: bool = True, resources: Mapping[str, Any] | None = None
) -> dict[str, list]:
    """One spec's assets, jobs (the publish job first, each resolved against the spec's own assets: see
    :func:`resolved`), schedules and sensors."""
    assets = spec_assets(ref)
    job, scoring, monitoring = resolved(assets, [publish_job(ref), scoring_job(ref), monitoring_job(ref)], resources)
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
        "assets": assets,
        "jobs": [job, scoring, monitoring, *approval["jobs"]],
        "schedules": schedules,
        "sensors": [retraining_sensor(ref, job, running), *approval["sensors"]] if sensors else [],
    }


def resolved(assets: list, jobs: list, resources: Mapping[str, Any] | None) -> list:
    """``jobs`` (asset jobs of one spec) resolved against that spec's own ``assets``.

    Left to the code location's Definitions, every asset job is resolved against the whole asset graph: each of
    the 3 jobs a spec has visits every asset of every spec, N x N work that made 200 specs cost 5x one spec
    (bench/fleet.py). A spec's jobs select only its own assets, so its own graph resolves them to the same jobs;
    the code location then takes them as they are. Measured at 200 specs (CPU, one process): definitions built and
    snapshotted for the webserver 16.1 s before, 13.5 s now."""
    repo = Definitions(assets=assets, jobs=jobs, resources=resources).get_repository_def()
    return [repo.get_job(j.name) for j in jobs]
