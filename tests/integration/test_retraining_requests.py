"""The retrain-request contract between the monitor step and the schedulers (Airflow, Dagster)."""

from __future__ import annotations

import time

from mlpublish.registry import Registry
from mlpublish.registry.retraining import decision_tags, retrain_requests


def test_requests_after_cursor_oldest_first(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = Registry(uri)
    exp = reg.ensure_experiment("mlpublish/m", (tmp_path / "art").as_uri())
    assert retrain_requests(reg, "mlpublish/m", "m") == []
    ids = []
    # explicit start times one second apart: requests are ordered by start time (ms), and runs created
    # within one millisecond would fall back to the random run id
    t0 = int(time.time() * 1000) - 10_000
    for i, (retrain, reasons) in enumerate(((True, ["psi(plan)=0.4"]), (False, []), (True, ["ks(monetary)"]))):
        run = reg.client.create_run(
            exp, start_time=t0 + 1000 * i, tags=decision_tags("m", retrain=retrain, reasons=reasons)
        )
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


def test_open_requests_are_unserved_finished_and_young(tmp_path):
    import time

    from mlpublish.registry.retraining import open_requests

    reg = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = reg.ensure_experiment("mlpublish/m", (tmp_path / "art").as_uri())

    def request() -> str:
        run = reg.client.create_run(exp, tags=decision_tags("m", retrain=True, reasons=["drift"]))
        reg.client.set_terminated(run.info.run_id)
        time.sleep(0.01)
        return run.info.run_id

    served = request()
    time.sleep(0.01)
    reg.client.create_run(exp, tags={"mlpublish.model": "m", "mlpublish.select_by": "roc_auc"})  # a training run
    time.sleep(0.01)
    fresh = request()
    half = reg.client.create_run(exp, tags=decision_tags("m", retrain=True, reasons=["drift"]))  # still RUNNING
    reg.client.set_terminated(
        reg.client.create_run(exp, tags=decision_tags("m", retrain=True, reasons=["x"])).info.run_id, "FAILED"
    )

    assert served in {r.request_id for r in retrain_requests(reg, "mlpublish/m", "m")}
    assert [r.request_id for r in open_requests(reg, "mlpublish/m", "m", expire_hours=1)] == [fresh]
    assert half.info.run_id not in {r.request_id for r in retrain_requests(reg, "mlpublish/m", "m")}
    # a request older than expire_hours started a run that never trained: it is no longer open
    assert open_requests(reg, "mlpublish/m", "m", expire_hours=1, now=time.time() + 7200) == []
