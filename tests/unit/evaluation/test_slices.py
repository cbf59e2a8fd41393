"""Slices as pure functions (mlpublish.evaluation.slices): bins, per-slice gates, one prediction per model,
slice sets of too many values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlpublish.evaluation.metrics import Predictions
from mlpublish.evaluation.slices import (
    MAX_SLICE_VALUES,
    compute_slice_metrics,
    evaluate_slice_gate,
    slice_labels,
    too_many_values,
)
from mlpublish.spec import Gate, Slice
from tests.support.slice_metrics import plan_slices


def test_numerical_slices_are_cut_into_the_named_bins():
    spec = Slice(column="tenure", bins=[{"name": "new", "below": 90}, {"name": "mid", "below": 365}, {"name": "loyal"}])
    labels = slice_labels(spec, pd.Series([0, 89.9, 90, 364, 365, 5000, None]))
    assert list(labels) == ["new", "new", "mid", "mid", "loyal", "loyal", "(missing)"]
    assert list(slice_labels(Slice(column="plan"), pd.Series(["a", None]))) == ["a", "(missing)"]


def test_each_slice_is_gated_against_the_champion_on_its_rows_and_small_slices_are_reported():
    gate = Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")
    checks = evaluate_slice_gate(1, gate, plan_slices(), 30, "3", True, True)
    assert [(c.slice, c.outcome) for c in checks] == [("plan=a", "pass"), ("plan=c", "fail"), ("plan=z", "skipped")]
    failed = checks[1]
    assert failed.name == "recall maxDropVsChampion 0.02 [plan=c]" and failed.gate == 1 and failed.rows == 100
    assert failed.value == 0.60 and failed.champion_value == 0.70
    assert "drop 0.1000 exceeds maxDrop 0.02" in failed.detail and "champion v3" in failed.detail
    assert "fewer than minRows 30" in checks[2].detail

    wider = Gate(metric="recall", maxDropVsChampion=0.2, perSlice="plan")
    assert all(c.passed for c in evaluate_slice_gate(1, wider, plan_slices(), 30, "3", True, True))
    floor = Gate(metric="recall", min=0.7, perSlice="plan")  # the worst slice decides
    assert [c.outcome for c in evaluate_slice_gate(0, floor, plan_slices(), 30, None, False, True)] == [
        "pass",
        "fail",
        "skipped",
    ]


def test_slice_metrics_come_from_one_prediction_per_model():
    y = np.array([1, 0, 1, 1, 0, 1])
    groups = pd.DataFrame({"plan": ["a", "a", "a", "c", "c", "c"]})
    cand = Predictions("classification", np.array([1, 0, 1, 0, 0, 0]))
    champ = Predictions("classification", np.array([1, 0, 1, 1, 0, 1]))
    out = compute_slice_metrics([Slice(column="plan", minRows=3)], groups, y, cand, champ)
    assert [(s.label, s.rows, s.candidate["recall"], s.champion["recall"]) for s in out] == [
        ("plan=a", 3, 1.0, 1.0),
        ("plan=c", 3, 0.0, 1.0),
    ]


def test_a_slice_set_of_too_many_values_needs_bins():
    frame = pd.DataFrame(
        {"id": range(MAX_SLICE_VALUES + 1), "plan": ["a", "b"] * ((MAX_SLICE_VALUES + 1) // 2) + ["a"]}
    )
    binned = Slice(column="id", bins=[{"name": "low", "below": 10}, {"name": "high"}])
    slices = [Slice(column="plan"), binned, Slice(column="id")]
    [(field, problem)] = too_many_values(slices, frame)
    assert field == "validation.slices[2].column" and f"{MAX_SLICE_VALUES + 1} distinct values" in problem
    assert too_many_values(slices[:2], frame) == []
