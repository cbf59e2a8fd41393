"""The Airflow notification callbacks: which task states notify what (the real run: tests/integration/airflow)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.evaluation.gates import CheckResult
from mlpublish.results import EvaluateResult, PromoteResult, TrainResult, ValidateResult
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec
from tests.support.notify_receivers import HttpReceiver

pytest.importorskip("airflow.sdk")


class TI:
    dag_id, run_id, task_id = "mlpublish__m", "manual__1", "promote"
    log_url = "http://airflow.local:8080/dags/mlpublish__m/runs/manual__1/tasks/promote?try_number=1"

    def __init__(self, task_id: str, xcoms: dict[tuple[str, str | None], Any]):
        self.task_id, self.xcoms = task_id, xcoms

    def xcom_pull(self, task_ids: str, key: str | None = None) -> Any:
        return self.xcoms.get((task_ids, key))


def upstream() -> dict[tuple[str, str | None], Any]:
    train = TrainResult(
        model_name="m",
        run_id="r1",
        experiment_id="7",
        model_uri="runs:/r1/model",
        model_id=None,
        task="classification",
        select_by="roc_auc",
        params={},
        candidates=[],
        train_rows=10,
        test_rows=5,
        dataset_digest="d",
        training_fqn="t",
        fit_seconds=0.1,
    )
    evaluation = EvaluateResult(
        model_name="m",
        run_id="r1",
        metrics={"roc_auc": 0.8, "f1": 0.6},
        champion_version="2",
        champion_metrics={"roc_auc": 0.82, "f1": 0.55},
    )
    return {("train", None): train.to_json(), ("evaluate", None): evaluation.to_json()}


@pytest.fixture
def callback_env(tmp_path, monkeypatch):
    from mlpublish_airflow import PromoteModelOperator, ValidateModelOperator
    from mlpublish_airflow.hooks import OpenMetadataHook

    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict()))
    # the hooks read Airflow connections (only inside a task); the real run covers them
    monkeypatch.setattr(PromoteModelOperator, "load_spec", lambda self: spec)
    monkeypatch.setattr(ValidateModelOperator, "load_spec", lambda self: spec)
    monkeypatch.setattr(OpenMetadataHook, "settings", lambda self: None)
    with HttpReceiver() as http:
        monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", http.url("/hook"))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.local:5000")
        yield http


def test_refused_promotion_notifies_not_promoted(callback_env):
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.notifications import notify_promotion

    refused = PromoteResult(
        model_name="m",
        version="3",
        promoted=False,
        mode="auto",
        champion_before="4",
        champion_after="4",
        reason="champion moved from v2 to v4 after validation: refused",
    )
    ti = TI("promote", {**upstream(), ("promote", "refused"): refused.to_json()})
    notify_promotion({"task": PromoteModelOperator(task_id="promote", spec_path="unused"), "ti": ti})
    [hook] = [r["json"] for r in callback_env.received("/hook")]
    assert (hook["event"], hook["outcome"], hook["version"]) == ("promotion", "NOT_PROMOTED", "3")
    assert hook["champion_label"] == "v2 (champion at evaluation)"  # the metrics are v2's, not v4's
    links = {link["label"]: link["url"] or link["command"] for link in hook["links"]}
    assert links["MLflow run"] == "http://mlflow.local:5000/#/experiments/7/runs/r1"
    assert links["Airflow DAG run"] == "http://airflow.local:8080/dags/mlpublish__m/runs/manual__1"


def test_only_a_gate_outcome_notifies_from_validate(callback_env):
    from mlpublish_airflow import PromoteModelOperator, ValidateModelOperator
    from mlpublish_airflow.notifications import notify_gate, notify_promotion

    task = ValidateModelOperator(task_id="validate", spec_path="unused")
    notify_gate({"task": task, "ti": TI("validate", upstream())})  # failed on an error: no result, no gate outcome
    notify_promotion(
        {"task": PromoteModelOperator(task_id="promote", spec_path="unused"), "ti": TI("promote", upstream())}
    )  # skipped without a result (not approved)
    assert callback_env.requests == []
    rejected = ValidateResult(
        model_name="m",
        run_id="r1",
        status="FAILED",
        champion_version="2",
        checks=[CheckResult(check="gate", name="roc_auc min 0.9", outcome="fail", detail="roc_auc=0.8000 < min 0.9")],
    )
    notify_gate({"task": task, "ti": TI("validate", {**upstream(), ("validate", "rejected"): rejected.to_json()})})
    [hook] = [r["json"] for r in callback_env.received("/hook")]
    assert (hook["event"], hook["outcome"]) == ("gate", "FAILED")


def test_callback_failure_is_only_a_warning(callback_env, caplog, monkeypatch):
    from mlpublish_airflow import ValidateModelOperator
    from mlpublish_airflow.notifications import notify_gate

    monkeypatch.setattr(ValidateModelOperator, "load_spec", lambda self: 1 / 0)
    notify_gate({"task": ValidateModelOperator(task_id="validate", spec_path="unused"), "ti": TI("validate", {})})
    assert "notification not sent: ZeroDivisionError" in caplog.text


def test_nothing_new_validation_is_not_notified(monkeypatch):
    from mlpublish_airflow import notifications

    same = ValidateResult(
        model_name="m", run_id="r2", status="PASSED", checks=[], champion_version="1", same_as_champion="1"
    )
    built = []
    monkeypatch.setattr(
        notifications,
        "_send",
        lambda context, build: built.append(build(None, SimpleNamespace(task_id="validate"), None, {})),
    )
    monkeypatch.setattr(notifications, "_pull", lambda ti, task_id, model, key=None: same)
    notifications.notify_gate({})
    assert built == [None]
