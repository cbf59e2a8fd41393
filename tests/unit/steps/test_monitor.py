"""The monitor step (mlpublish.steps.monitor): a RUNNING training run whose process is gone is not in flight."""

from __future__ import annotations

from types import SimpleNamespace

from mlpublish.steps.monitor import training_in_flight, window_note

NOW = 1_900_000_000.0


def _ctx(timeout_minutes: float, in_flight_hours: float = 6.0) -> SimpleNamespace:
    return SimpleNamespace(
        name="m",
        spec=SimpleNamespace(
            monitoring=SimpleNamespace(inFlightHours=in_flight_hours),
            training=SimpleNamespace(timeoutMinutes=timeout_minutes),
        ),
        registry=SimpleNamespace(has_registered_model=lambda name: False),
    )


def _run(status: str, age_minutes: float) -> SimpleNamespace:
    return SimpleNamespace(
        info=SimpleNamespace(run_id=f"r{age_minutes:g}", status=status, start_time=(NOW - age_minutes * 60) * 1000)
    )


def test_a_running_training_within_its_timeout_is_in_flight():
    assert training_in_flight(_ctx(60), [_run("RUNNING", 30)], NOW) == "training run r30 is RUNNING"


def test_a_running_training_past_its_timeout_is_dead_not_in_flight():
    # killed with SIGKILL: MLflow still says RUNNING, but a live run would have ended itself by now
    assert training_in_flight(_ctx(60), [_run("RUNNING", 90)], NOW) is None
    assert training_in_flight(_ctx(600, in_flight_hours=1), [_run("RUNNING", 90)], NOW) is None  # inFlightHours too


def test_finished_runs_are_never_in_flight():
    assert training_in_flight(_ctx(60), [_run("FINISHED", 1), _run("KILLED", 2)], NOW) is None


def monitored(window: str | None = None, **scoring: str) -> SimpleNamespace:
    fields = dict.fromkeys(("sourceTable", "query", "sourceParquet", "sourceSparkTable")) | scoring
    return SimpleNamespace(
        data=SimpleNamespace(trainingTable="customer_features"),
        scoring=SimpleNamespace(**fields),
        monitoring=SimpleNamespace(window=SimpleNamespace(column=window)),
    )


def test_monitoring_the_training_table_says_the_training_rows_are_in_the_current_window():
    note = window_note(monitored())
    assert note is not None and "customer_features" in note and "training rows included" in note
    assert window_note(monitored(sourceTable="customer_features")) == note


def test_new_rows_or_a_time_window_need_no_note():
    assert window_note(monitored(window="updated_at")) is None
    assert window_note(monitored(sourceTable="new_customers")) is None
    assert window_note(monitored(query="SELECT * FROM new_customers")) is None
    assert window_note(monitored(sourceParquet="/data/new")) is None
