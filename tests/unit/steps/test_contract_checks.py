"""The guarded predictor: rows checked first, held-back rows riding on the predicted chunk."""

from __future__ import annotations

import pickle

import pandas as pd

from mlpublish.contracts.enforce import QUARANTINED, ContractGuard
from mlpublish.contracts.model import ColumnContract, DataContract
from mlpublish.steps.contract_checks import GuardedPredictor, quarantine_name


class Doubling:
    keys, pos_index = ["id"], 0

    def __init__(self):
        self.seen = []

    def fresh(self):
        return Doubling()

    def __call__(self, frame):
        self.seen.append(len(frame))
        return frame[["id"]].assign(prediction=frame["x"] * 2, probability=0.5)


def guard(mode: str) -> ContractGuard:
    contract = DataContract(
        model="m",
        table="t",
        rows=1,
        learnedAt="2026-01-01T00:00:00+00:00",
        columns=[ColumnContract(name="x", type="number", kind="numerical", nullable=False, minimum=0)],
    )
    return ContractGuard(contract, mode, label="m v1")


def test_quarantined_rows_are_not_predicted_and_ride_along():
    inner = Doubling()
    out = GuardedPredictor(inner, guard("quarantine"))(pd.DataFrame({"id": [1, 2, 3], "x": [1.0, -1.0, 2.0]}))
    assert out["id"].tolist() == [1, 3] and out["prediction"].tolist() == [2.0, 4.0] and inner.seen == [2]
    assert out.attrs[QUARANTINED]["id"].tolist() == ["2"]


def test_a_chunk_held_back_whole_predicts_nothing():
    inner = Doubling()
    out = GuardedPredictor(inner, guard("quarantine"))(pd.DataFrame({"id": [1], "x": [-1.0]}))
    assert len(out) == 0 and list(out.columns) == ["id", "prediction", "probability"] and inner.seen == []


def test_it_travels_to_a_spark_task_with_a_fresh_tally():
    g = GuardedPredictor(Doubling(), guard("warn"))
    task = pickle.loads(pickle.dumps(g)).fresh()
    task(pd.DataFrame({"id": [1], "x": [-1.0]}))
    assert task.guard.counts()["violating"] == 1 and g.guard.counts()["violating"] == 0
    assert task.keys == ["id"]  # the predictor's attributes show through


def test_quarantine_table_name():
    class Spec:
        class scoring:
            quarantineTable = None

    assert quarantine_name(Spec, "preds") == "preds_quarantine"
    Spec.scoring.quarantineTable = "held"
    assert quarantine_name(Spec, "preds") == "held"


def test_quarantine_on_the_spark_engine_is_refused_by_the_spec():
    import pytest

    from mlpublish.spec.operations import ScoringSpec

    with pytest.raises(ValueError, match="quarantine is not available on the Spark engine"):
        ScoringSpec(engine="spark", onContractViolation="quarantine")
    assert ScoringSpec(engine="spark", onContractViolation="warn").onContractViolation == "warn"
    assert ScoringSpec(onContractViolation="quarantine").engine == "local"
