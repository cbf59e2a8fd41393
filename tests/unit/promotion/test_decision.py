"""How a promotion explains itself: "beats" only for a strict gain, "within" a tolerance with the numbers."""

from __future__ import annotations

from mlpublish.evaluation.gates import evaluate_gates
from mlpublish.promotion import promotion_reason
from mlpublish.spec import Gate

GATES = [Gate(metric="roc_auc", min=0.7), Gate(metric="roc_auc", maxDropVsChampion=0.01)]


def checks(candidate: float, champion: float):
    return evaluate_gates(GATES, {"roc_auc": candidate}, {"roc_auc": champion}, "1", True)


def test_a_drop_within_the_tolerance_is_said_so_never_beats() -> None:
    reason = promotion_reason("2", "1", checks(0.8096, 0.8100))
    assert reason == "v2 promoted over champion v1 within tolerance: roc_auc -0.0004, within maxDropVsChampion 0.01"
    assert "beats" not in reason


def test_a_tie_is_within_the_tolerance() -> None:
    assert "roc_auc +0.0000, within maxDropVsChampion 0.01" in promotion_reason("2", "1", checks(0.81, 0.81))


def test_a_strict_gain_beats_the_champion_with_the_numbers() -> None:
    assert (
        promotion_reason("2", "1", checks(0.83, 0.81))
        == "v2 beats champion v1: roc_auc +0.0200 (maxDropVsChampion 0.01)"
    )


def test_lower_is_better_metrics_gain_when_they_fall() -> None:
    gates = [Gate(metric="rmse", maxDropVsChampion=0.5)]
    better = evaluate_gates(gates, {"rmse": 2.0}, {"rmse": 2.5}, "1", True)
    worse = evaluate_gates(gates, {"rmse": 2.6}, {"rmse": 2.5}, "1", True)
    assert promotion_reason("2", "1", better).startswith("v2 beats champion v1: rmse -0.5000")
    assert "rmse +0.1000, within maxDropVsChampion 0.5" in promotion_reason("2", "1", worse)


def test_no_relative_gate_says_what_decided() -> None:
    absolute = evaluate_gates([Gate(metric="roc_auc", min=0.7)], {"roc_auc": 0.8}, {"roc_auc": 0.9}, "1", True)
    assert promotion_reason("2", "1", absolute) == (
        "v2 replaces champion v1: the spec has no relative gate (absolute gates passed)"
    )


def test_a_per_slice_gate_names_its_slice() -> None:
    per_slice = [c.model_copy(update={"check": "slice", "slice": "plan=basic"}) for c in checks(0.8096, 0.8100)]
    reason = promotion_reason("2", "1", per_slice)
    assert "roc_auc [plan=basic] -0.0004, within maxDropVsChampion 0.01" in reason
