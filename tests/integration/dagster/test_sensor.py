"""The retraining sensor: one drift decision of the monitor starts exactly one run."""

from __future__ import annotations

import time

from dagster import DagsterInstance, build_sensor_context

from mlpublish.registry.retraining import decision_tags
from tests.support.dagster_support import spec_folder

NAME = "customer_churn_predictor"
SENSOR = "customer_churn_predictor_retraining_sensor"


def monitor_decision(registry, retrain: bool, reasons: list[str]) -> str:
    """What the monitor step leaves behind: a finished MLflow run tagged with its decision."""
    exp = registry.ensure_experiment(f"mlpublish/{NAME}", None)
    run = registry.client.create_run(exp, tags=decision_tags(NAME, retrain=retrain, reasons=reasons))
    registry.client.set_terminated(run.info.run_id)
    time.sleep(0.01)  # distinct start times: requests are ordered by them
    return run.info.run_id


def test_one_drift_decision_makes_one_run_request(workspace):
    from mlpublish_dagster.definitions import build_definitions

    defs = build_definitions(spec_folder(workspace.root / "dagster"), "local")
    sensor = defs.get_sensor_def(SENSOR)
    resources = {"mlflow": defs.resources["mlflow"]}
    instance = DagsterInstance.ephemeral()

    def tick(cursor):
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as ctx:
            return sensor.evaluate_tick(ctx)

    nothing = tick(None)  # no experiment yet: nothing to do, and no error
    assert nothing.run_requests == [] and "no retraining request" in nothing.skip_message

    registry = workspace.registry()
    monitor_decision(registry, False, [])  # a monitor run that saw no drift asks for nothing
    assert tick(None).run_requests == []
    drift = monitor_decision(registry, True, ["psi(plan)=0.41 > 0.2"])

    first = tick(None)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.run_key == f"retrain-{drift}"
    assert request.tags["mlpublish/retrain_request"] == drift
    assert "psi(plan)=0.41" in request.tags["mlpublish/retrain_reasons"]
    assert first.cursor is not None

    again = tick(first.cursor)  # no new drift: no run
    assert again.run_requests == [] and again.cursor in (None, first.cursor)

    # two decisions between ticks: one run covers both, the cursor passes both
    monitor_decision(registry, True, ["ks(monetary)=0.3"])
    newest = monitor_decision(registry, True, ["psi(plan)=0.5"])
    both = tick(first.cursor)
    assert [r.run_key for r in both.run_requests] == [f"retrain-{newest}"]
    assert "ks(monetary)" in both.run_requests[0].tags["mlpublish/retrain_reasons"]
    assert tick(both.cursor).run_requests == []
