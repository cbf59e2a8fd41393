"""The retrain-request contract between the monitor step and the schedulers (Airflow, Dagster)."""

from __future__ import annotations

from mlpublish.registry import Registry
from mlpublish.retraining import decision_tags, retrain_requests


def test_requests_after_cursor_oldest_first(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = Registry(uri)
    exp = reg.ensure_experiment("mlpublish/m", (tmp_path / "art").as_uri())
    assert retrain_requests(reg, "mlpublish/m", "m") == []
    ids = []
    for retrain, reasons in ((True, ["psi(plan)=0.4"]), (False, []), (True, ["ks(monetary)"])):
        run = reg.client.create_run(exp, tags=decision_tags("m", retrain=retrain, reasons=reasons))
        reg.client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    other = reg.client.create_run(exp, tags=decision_tags("other", retrain=True, reasons=["x"]))
    assert other.info.run_id not in {r.request_id for r in retrain_requests(reg, "mlpublish/m", "m")}

    first = retrain_requests(reg, "mlpublish/m", "m")
    assert [r.request_id for r in first] == [ids[0], ids[2]]
    assert first[0].reasons == ["psi(plan)=0.4"]
    later = retrain_requests(reg, "mlpublish/m", "m", after=first[0].cursor)
    assert [r.request_id for r in later] == [ids[2]]
    assert retrain_requests(reg, "mlpublish/m", "m", after=first[-1].cursor) == []
    assert retrain_requests(reg, "no/such", "m") == []
