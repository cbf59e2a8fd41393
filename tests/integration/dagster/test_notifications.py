"""Dagster: the run status sensors notify what a real in-process publish run recorded, once; the run itself
(the assets, i.e. the core steps) sends nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context

from tests.conftest import churn_dict, write_spec
from tests.integration.test_notify_delivery import assert_no_secret, env_for
from tests.support.notify_receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.integration
KEY = NAME = "customer_churn_predictor"


def publish_run(folder: Path, instance: DagsterInstance):
    from mlpublish_dagster.definitions import build_definitions

    defs = build_definitions(folder, "local")
    result = defs.resolve_job_def(f"{KEY}_publish").execute_in_process(instance=instance, raise_on_error=False)
    return defs, result


def evaluate_sensor(defs, name: str, instance: DagsterInstance, result, event) -> object:
    sensor = defs.get_sensor_def(name)
    context = build_run_status_sensor_context(
        sensor_name=name, dagster_event=event, dagster_instance=instance, dagster_run=result.dagster_run
    )
    return sensor(context)


def stored_evaluation(workspace) -> dict:
    path = workspace.root / ".mlpublish-results" / KEY / "model_evaluation.json"
    return json.loads(path.read_text())["value"]


def test_run_status_sensors_notify_gate_and_promotion(workspace, monkeypatch, caplog):
    from mlpublish_dagster.notifications import FAILURE_SENSOR, SUCCESS_SENSOR

    instance = DagsterInstance.ephemeral()
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        for key, value in env_for(http, smtp, MLPUBLISH_NOTIFY_DAGSTER_URL="http://dagster.local:3000/").items():
            monkeypatch.setenv(key, value)
        folder = workspace.root / "specs"
        folder.mkdir()
        write_spec(folder / "churn.yaml", churn_dict())
        defs, result = publish_run(folder, instance)
        assert result.success
        assert http.requests == [] and smtp.messages == []  # the steps never notify

        evaluate_sensor(defs, SUCCESS_SENSOR, instance, result, result.get_run_success_event())
        gate, promotion = [r["json"] for r in http.received("/hook")]
        assert (gate["outcome"], promotion["outcome"], promotion["version"]) == ("PASSED", "PROMOTED", "1")
        run_id = result.dagster_run.run_id
        assert gate["source"] == {"orchestrator": "dagster", "name": f"{KEY}_publish", "run_id": run_id}
        evaluation = stored_evaluation(workspace)
        assert gate["run_id"] == evaluation["run_id"]
        assert {r["metric"] for r in gate["metrics"]} == set(evaluation["metrics"])  # every metric the run computed
        for row in gate["metrics"]:
            assert row["candidate"] == pytest.approx(evaluation["metrics"][row["metric"]], abs=1e-6)
        assert {c["name"] for c in gate["checks"]} >= {"roc_auc min 0.75", "f1 min 0.5"}
        links = {link["label"]: link["url"] or link["command"] for link in promotion["links"]}
        assert links["Dagster run"] == f"http://dagster.local:3000/runs/{run_id}"
        assert links["Catalog entity"] == f"mlpublish catalog show mlflow-local.{NAME}"
        assert len(http.received("/services/")) == 2 and len(smtp.wait_for(2)) == 2

        # a FAILED gate stops the run (blocking checks): the failure sensor notifies it, once
        strict = churn_dict()
        strict["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.999}]
        write_spec(folder / "churn.yaml", strict)
        defs, failed = publish_run(folder, instance)
        assert not failed.success
        evaluate_sensor(defs, FAILURE_SENSOR, instance, failed, failed.get_run_failure_event())
        [rejected] = [r["json"] for r in http.received("/hook")][2:]
        assert (rejected["event"], rejected["outcome"], rejected["champion_label"]) == ("gate", "FAILED", "champion v1")
        assert [c["outcome"] for c in rejected["checks"] if c["name"] == "roc_auc min 0.999"] == ["fail"]
        assert {r["metric"] for r in rejected["metrics"]} == set(stored_evaluation(workspace)["metrics"])
        assert all(r["champion"] is not None for r in rejected["metrics"])
        assert len(smtp.wait_for(3)) == 3
        every = [r["raw"] for r in http.requests] + [m["raw"] for m in smtp.messages]
    assert_no_secret(*every, caplog.text)
