"""Slices, fairness and calibration as pure functions: ECE, bins, per-slice gates, disparities, spec rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlpublish.evaluation.fairness import compute_disparity, fairness_checks
from mlpublish.evaluation.gates import evaluate_gates
from mlpublish.evaluation.metrics import Predictions, expected_calibration_error, metrics_from_predictions
from mlpublish.evaluation.slices import (
    MAX_SLICE_VALUES,
    SliceMetrics,
    compute_slice_metrics,
    evaluate_slice_gate,
    slice_labels,
    too_many_values,
)
from mlpublish.notify.message import slice_rows
from mlpublish.results import ValidateResult
from mlpublish.spec import Fairness, Gate, Slice, Validation


def test_ece_equals_the_hand_computed_value():
    # 10 equal-width bins: one row in each of bins 0, 1, 5, 8, 9
    # |0-.05| + |0-.15| + |1-.55| + |1-.85| + |1-.95| = .85, over 5 rows
    assert expected_calibration_error([0, 0, 1, 1, 1], [0.05, 0.15, 0.55, 0.85, 0.95]) == pytest.approx(0.17)
    # two rows share bin 1 (share .5, mean .15) and two bin 9, 1.0 included (share .5, mean .975):
    # (2 * .35 + 2 * .475) / 4
    assert expected_calibration_error([0, 1, 1, 0], [0.12, 0.18, 0.95, 1.0]) == pytest.approx(0.4125)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0


def test_ece_is_a_lower_is_better_metric_of_binary_classifiers():
    p = Predictions(
        "classification", np.array([0, 1, 1, 0]), np.array([[0.88, 0.12], [0.82, 0.18], [0.05, 0.95], [0, 1.0]]), (0, 1)
    )
    metrics = metrics_from_predictions(p, [0, 1, 1, 0])
    assert metrics["ece"] == pytest.approx(0.4125)
    result = evaluate_gates([Gate(metric="ece", max=0.1)], metrics, None, None, True)[0]
    assert result.outcome == "fail" and "ece=0.4125 > max 0.1" in result.detail


def test_numerical_slices_are_cut_into_the_named_bins():
    spec = Slice(column="tenure", bins=[{"name": "new", "below": 90}, {"name": "mid", "below": 365}, {"name": "loyal"}])
    labels = slice_labels(spec, pd.Series([0, 89.9, 90, 364, 365, 5000, None]))
    assert list(labels) == ["new", "new", "mid", "mid", "loyal", "loyal", "(missing)"]
    assert list(slice_labels(Slice(column="plan"), pd.Series(["a", None]))) == ["a", "(missing)"]


@pytest.mark.parametrize(
    "bins",
    [
        [{"name": "only"}],
        [{"name": "a", "below": 5}, {"name": "b", "below": 9}],
        [{"name": "a", "below": 5}, {"name": "b", "below": 5}, {"name": "c"}],
        [{"name": "a", "below": 5}, {"name": "a"}],
    ],
)
def test_bad_bins_are_refused(bins):
    with pytest.raises(ValidationError):
        Slice(column="tenure", bins=bins)


def test_a_gate_per_slice_must_name_a_slice_set():
    with pytest.raises(ValidationError, match="perSlice 'region' names no slice"):
        Validation(
            gates=[Gate(metric="recall", maxDropVsChampion=0.02, perSlice="region")], slices=[Slice(column="plan")]
        )
    v = Validation(
        gates=[Gate(metric="recall", maxDropVsChampion=0.02, perSlice="tier")],
        slices=[Slice(column="plan", name="tier")],
        fairness=[Fairness(sensitiveColumn="gender", metric="selection_rate", bound=0.1)],
    )
    assert v.group_columns == ["plan", "gender"] and v.slice_set("tier").column == "plan"


def _slices() -> list[SliceMetrics]:
    return [
        SliceMetrics(
            slice_set="plan", value="a", rows=400, gated=True, candidate={"recall": 0.80}, champion={"recall": 0.79}
        ),
        SliceMetrics(
            slice_set="plan", value="c", rows=100, gated=True, candidate={"recall": 0.60}, champion={"recall": 0.70}
        ),
        SliceMetrics(
            slice_set="plan", value="z", rows=5, gated=False, candidate={"recall": 0.0}, champion={"recall": 1.0}
        ),
    ]


def test_each_slice_is_gated_against_the_champion_on_its_rows_and_small_slices_are_reported():
    gate = Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")
    checks = evaluate_slice_gate(1, gate, _slices(), 30, "3", True, True)
    assert [(c.slice, c.outcome) for c in checks] == [("plan=a", "pass"), ("plan=c", "fail"), ("plan=z", "skipped")]
    failed = checks[1]
    assert failed.name == "recall maxDropVsChampion 0.02 [plan=c]" and failed.gate == 1 and failed.rows == 100
    assert failed.value == 0.60 and failed.champion_value == 0.70
    assert "drop 0.1000 exceeds maxDrop 0.02" in failed.detail and "champion v3" in failed.detail
    assert "fewer than minRows 30" in checks[2].detail

    wider = Gate(metric="recall", maxDropVsChampion=0.2, perSlice="plan")
    assert all(c.passed for c in evaluate_slice_gate(1, wider, _slices(), 30, "3", True, True))
    floor = Gate(metric="recall", min=0.7, perSlice="plan")  # the worst slice decides
    assert [c.outcome for c in evaluate_slice_gate(0, floor, _slices(), 30, None, False, True)] == [
        "pass",
        "fail",
        "skipped",
    ]


def test_evaluate_gates_keeps_spec_order_and_a_missing_slice_measurement_fails():
    gates = [Gate(metric="recall", min=0.1), Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")]
    checks = evaluate_gates(gates, {"recall": 0.7}, {"recall": 0.7}, "3", True)
    assert [c.gate for c in checks] == [0, 1] and checks[1].outcome == "fail"
    assert "no slice metrics of plan" in checks[1].detail


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


def test_disparity_is_fairlearns_and_is_bounded_and_compared_with_the_champion():
    sensitive = np.array(["g0"] * 4 + ["g1"] * 4 + ["tiny"])
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1])
    candidate = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1])  # selection rate g0 .75, g1 0
    champion = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1])  # g0 .5, g1 .25
    spec = Fairness(sensitiveColumn="grp", metric="selection_rate", bound=0.3, maxWorseVsChampion=0.1, minRows=2)
    d = compute_disparity(spec, sensitive, y, candidate, champion, 1)
    assert d.candidate == pytest.approx(0.75) and d.champion == pytest.approx(0.25)
    assert d.groups == {"g0": 0.75, "g1": 0.0} and d.left_out == ["tiny"] and d.rows["tiny"] == 1
    bound, versus = fairness_checks(0, spec, d, "2", True)
    assert bound.outcome == "fail" and bound.check == "fairness" and "0.7500 > 0.3" in bound.detail
    assert versus.outcome == "fail" and "worse by 0.5000 exceeds 0.1" in versus.detail
    ratio = Fairness(sensitiveColumn="grp", metric="true_positive_rate", measure="ratio", bound=0.8, minRows=2)
    d = compute_disparity(ratio, sensitive, y, champion, None, 1)  # tpr g0 1.0, g1 .5
    assert d.candidate == pytest.approx(0.5)
    assert fairness_checks(0, ratio, d, None, True)[0].outcome == "fail"


def test_a_disparity_needs_two_groups_with_enough_rows():
    spec = Fairness(sensitiveColumn="grp", metric="selection_rate", bound=0.3, minRows=30)
    d = compute_disparity(spec, np.array(["g0", "g1"]), np.array([1, 0]), np.array([1, 0]), None, 1)
    (check,) = fairness_checks(0, spec, d, None, True)
    assert check.outcome == "fail" and "a disparity needs two" in check.detail


def test_the_notification_table_has_a_row_per_gated_slice_and_disparity():
    gate = Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")
    checks = evaluate_slice_gate(0, gate, _slices(), 30, "3", True, True)
    rows = slice_rows(ValidateResult(model_name="m", run_id="r", status="FAILED", checks=checks, champion_version="3"))
    assert [(r.metric, r.candidate_better) for r in rows] == [("recall [plan=a]", True), ("recall [plan=c]", False)]


def test_permutation_importance_ranks_the_feature_the_model_relies_on_first():
    from sklearn.linear_model import LogisticRegression

    from mlpublish.evaluation.explain import compare_importances

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    y = (X["signal"] + rng.normal(scale=0.3, size=400) > 0).astype(int)
    candidate = LogisticRegression().fit(X, y)
    champion = LogisticRegression().fit(X[["noise"]], y)
    rows = compare_importances("classification", "roc_auc", candidate, champion, X, y)
    assert [r.feature for r in rows] == ["signal", "noise"] and rows[0].candidate > 0.2
    assert rows[0].champion is None and rows[1].champion is not None and rows[1].moved is not None


def test_a_slice_set_of_too_many_values_needs_bins():
    frame = pd.DataFrame(
        {"id": range(MAX_SLICE_VALUES + 1), "plan": ["a", "b"] * ((MAX_SLICE_VALUES + 1) // 2) + ["a"]}
    )
    binned = Slice(column="id", bins=[{"name": "low", "below": 10}, {"name": "high"}])
    slices = [Slice(column="plan"), binned, Slice(column="id")]
    [(field, problem)] = too_many_values(slices, frame)
    assert field == "validation.slices[2].column" and f"{MAX_SLICE_VALUES + 1} distinct values" in problem
    assert too_many_values(slices[:2], frame) == []


def test_permutation_importance_scores_at_most_max_rows_per_shuffle():
    from sklearn.linear_model import LogisticRegression

    from mlpublish.evaluation.explain import compare_importances

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"signal": rng.normal(size=3000), "noise": rng.normal(size=3000)})
    y = (X["signal"] + rng.normal(scale=0.3, size=3000) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    seen: list[int] = []
    original = model.predict_proba

    def counting(rows):
        seen.append(len(rows))
        return original(rows)

    model.predict_proba = counting
    rows = compare_importances("classification", "roc_auc", model, None, X, y, repeats=2, max_rows=500)
    # sklearn scores the baseline once on all rows, then every shuffle (2 features x 2 repeats) on 500 of them
    assert seen == [3000, 500, 500, 500, 500] and rows[0].feature == "signal"


def test_importances_settings_in_the_spec():
    v = Validation(gates=[{"metric": "roc_auc", "min": 0.5}], importances={"enabled": False})
    assert not v.importances.enabled and v.importances.repeats == 5 and v.importances.maxRows == 10000
    with pytest.raises(ValidationError, match="maxRows"):
        Validation(importances={"maxRows": 10})
