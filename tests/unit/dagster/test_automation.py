"""Schedules from the spec's crons: Dagster's own rules decide what a cron is, a refusal names the spec's field."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DefaultScheduleStatus

from mlpublish.errors import SpecError
from mlpublish_dagster.automation import cron_schedule, publish_job, retraining_schedule
from mlpublish_dagster.specs import discover

ACCEPTED = ("0 3 * * 1", "@daily", "@hourly", "*/5 * * * *", "0 3 * * MON", "0 0 29 2 *")
REFUSED = ("* * * * * *", "61 * * * *", "0 0 30 2 *", "@reboot", "0 3 * *", "not cron", "0 0 1 1 * 2020")


@pytest.fixture
def ref(specs: Path):
    (ref,) = discover(specs)
    return ref


@pytest.mark.parametrize("cron", ACCEPTED)
def test_a_cron_dagster_accepts_is_a_utc_schedule(ref, cron: str) -> None:
    schedule = cron_schedule(ref, publish_job(ref), cron, "scoring", "scoring.schedule", running=False)
    assert schedule is not None and schedule.name == f"{ref.key}_scoring_schedule"
    assert (schedule.cron_schedule, schedule.execution_timezone) == (cron, "UTC")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize("cron", REFUSED)
def test_a_cron_dagster_refuses_is_a_spec_error_naming_the_field(ref, cron: str) -> None:
    with pytest.raises(SpecError) as refused:
        cron_schedule(ref, publish_job(ref), cron, "monitoring", "monitoring.schedule", running=True)
    assert "monitoring.schedule" in str(refused.value) and repr(cron) in str(refused.value)


def test_no_cron_is_no_schedule_and_prod_starts_running(ref) -> None:
    assert cron_schedule(ref, publish_job(ref), None, "scoring", "scoring.schedule", running=True) is None
    schedule = retraining_schedule(ref, publish_job(ref), running=True)
    assert schedule is not None and schedule.cron_schedule == ref.schedule
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
