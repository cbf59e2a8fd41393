"""The model's Assets (mlpublish_airflow.assets): named by catalog FQN like the feature table's, declared as
outlets by the DAG factory, and filled with the event's extra by promote (a champion move) and score."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlpublish.results import PromoteResult, ScoreResult
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

pytest.importorskip("airflow.sdk")


class FakeTI:
    dag_id, run_id = "mlpublish__m", "manual__1"

    def __init__(self, xcoms):
        self.xcoms, self.pushed = xcoms, {}

    def xcom_pull(self, task_ids):
        return self.xcoms.get(task_ids)

    def xcom_push(self, key, value):
        self.pushed[key] = value


def spec_of(tmp_path, **fields):
    return load_spec(write_spec(tmp_path / "s.yaml", churn_dict(**fields)))


def test_assets_are_named_by_catalog_fqn(tmp_path):
    from mlpublish_airflow.assets import feature_table_asset, model_asset, predictions_asset

    spec = spec_of(tmp_path, name="churn manual")
    assert feature_table_asset(spec).name == "warehouse.main.main.customer_features"
    assert feature_table_asset(spec).uri == "mlpublish-table://warehouse/main/main/customer_features"
    assert (model_asset(spec).name, model_asset(spec).uri) == (
        f"{spec.serviceName}.churn manual",
        f"mlpublish-model://{spec.serviceName}/churn%20manual",
    )
    predictions = predictions_asset(spec)
    assert predictions.name == f"warehouse.main.main.{spec.data.predictionsTable}"
    assert predictions.uri.startswith("mlpublish-table://warehouse/main/main/")
    no_table = spec.model_copy(update={"data": spec.data.model_copy(update={"predictionsTable": None})})
    assert predictions_asset(no_table) is None


def test_dag_factory_declares_the_model_and_predictions_as_outlets(tmp_path):
    from mlpublish_airflow.assets import model_asset, predictions_asset
    from mlpublish_airflow.dag_factory import build_dag, score_dag

    path = write_spec(tmp_path / "s.yaml", churn_dict())
    spec = load_spec(path)
    publish = build_dag(spec, str(path))
    assert publish.get_task("promote").outlets == [model_asset(spec)]
    assert all(not publish.get_task(t).outlets for t in ("train", "evaluate", "validate", "register"))
    assert score_dag(spec, str(path)).get_task("score").outlets == [predictions_asset(spec)]


def test_a_champion_move_puts_version_and_held_out_metrics_on_the_model_event(tmp_path, monkeypatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.assets import model_asset
    from mlpublish_airflow.publish import PublishStepOperator

    monkeypatch.setattr(PublishStepOperator, "upstream", lambda self, context, step, model: None)
    moved = PromoteResult(
        model_name="m", version="4", promoted=True, mode="auto", champion_before="3", champion_after="4", reason="wins"
    )
    monkeypatch.setattr(mlpublish.steps, "promote_challenger", lambda ctx, e, v, r: moved)
    spec = spec_of(tmp_path)
    events = OutletEventAccessors()
    ti = FakeTI({"evaluate": {"metrics": {"roc_auc": 0.91, "f1": 0.7}}})
    ctx = SimpleNamespace(spec=spec)
    PromoteModelOperator(task_id="promote", spec_path="unused").run_step(ctx, {"ti": ti, "outlet_events": events})
    assert events[model_asset(spec)].extra == {
        "model": spec.name,
        "version": "4",
        "metrics": {"roc_auc": 0.91, "f1": 0.7},
        "champion_before": "3",
    }


def test_a_refused_promotion_emits_no_event(tmp_path, monkeypatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.exceptions import PromotionRefused
    from mlpublish_airflow.publish import PublishStepOperator

    monkeypatch.setattr(PublishStepOperator, "upstream", lambda self, context, step, model: None)
    refused = PromoteResult(
        model_name="m", version="4", promoted=False, mode="auto", champion_before="3", champion_after="3", reason="no"
    )
    monkeypatch.setattr(mlpublish.steps, "promote_challenger", lambda ctx, e, v, r: refused)
    events = OutletEventAccessors()
    with pytest.raises(PromotionRefused):  # a skipped task: Airflow emits no outlet event for it
        PromoteModelOperator(task_id="promote", spec_path="unused").run_step(
            SimpleNamespace(spec=spec_of(tmp_path)), {"ti": FakeTI({}), "outlet_events": events}
        )
    assert len(events) == 0


def test_each_scoring_run_puts_its_run_id_and_rows_on_the_predictions_event(tmp_path, monkeypatch):
    from airflow.sdk.execution_time.context import OutletEventAccessors

    import mlpublish.steps
    from mlpublish_airflow.assets import predictions_asset
    from mlpublish_airflow.batch import ScoreModelOperator

    seen = {}

    def score(ctx, scoring_run_id, spark):
        seen["scoring_run_id"] = scoring_run_id
        return ScoreResult.model_construct(version="2", model_run_id="r", scoring_run_id=scoring_run_id, rows=1234)

    monkeypatch.setattr(mlpublish.steps, "score_batch", score)
    monkeypatch.setattr(ScoreResult, "to_json", lambda self: {"rows": self.rows})
    spec = spec_of(tmp_path)
    events = OutletEventAccessors()
    ScoreModelOperator(task_id="score", spec_path="unused").run_step(
        SimpleNamespace(spec=spec), {"ti": FakeTI({}), "outlet_events": events}
    )
    assert seen["scoring_run_id"] == "mlpublish__m__manual__1"
    assert events[predictions_asset(spec)].extra == {
        "scoring_run_id": "mlpublish__m__manual__1",
        "rows": 1234,
        "model": spec.name,
        "version": "2",
    }
