"""Gate semantics: absolute thresholds, comparison with the champion, and the first model.

Values are chosen to be exact in binary floating point (0.5, 0.25, 0.75 ...) so
"at the threshold" really is at the threshold; the decimal boundary cases are
in their own tests at the end.
"""

from __future__ import annotations

import pytest

from mlpublish.evaluation.gates import CheckResult, evaluate_gate, evaluate_gates
from mlpublish.spec import Gate


def check(
    gate: Gate,
    candidate: dict[str, float],
    champion: dict[str, float] | None = None,
    champion_version: str | None = None,
    allow_first: bool = True,
) -> CheckResult:
    return evaluate_gate(gate, candidate, champion, champion_version, allow_first)


# --------------------------------------------------------------------------
# Absolute gates


@pytest.mark.parametrize(("value", "outcome"), [(0.7499, "fail"), (0.75, "pass"), (0.7501, "pass"), (1.0, "pass")])
def test_min_gate_at_and_around_the_threshold(value: float, outcome: str) -> None:
    r = check(Gate(metric="roc_auc", min=0.75), {"roc_auc": value})
    assert r.outcome == outcome
    assert (r.check, r.metric, r.kind, r.threshold, r.value) == ("gate", "roc_auc", "min", 0.75, value)
    assert r.name == "roc_auc min 0.75"
    assert r.passed is (outcome == "pass")


def test_min_gate_details() -> None:
    assert check(Gate(metric="roc_auc", min=0.75), {"roc_auc": 0.8}).detail == "roc_auc=0.8000 >= min 0.75"
    assert check(Gate(metric="roc_auc", min=0.75), {"roc_auc": 0.7}).detail == "roc_auc=0.7000 < min 0.75"


@pytest.mark.parametrize(("value", "outcome"), [(0.4999, "pass"), (0.5, "pass"), (0.5001, "fail")])
def test_max_gate_at_and_around_the_threshold(value: float, outcome: str) -> None:
    r = check(Gate(metric="rmse", max=0.5), {"rmse": value})
    assert r.outcome == outcome
    assert r.kind == "max"
    assert r.detail == f"rmse={value:.4f} {'<=' if outcome == 'pass' else '>'} max 0.5"


def test_absolute_gates_ignore_the_champion() -> None:
    gate = Gate(metric="roc_auc", min=0.5)
    assert check(gate, {"roc_auc": 0.6}, {"roc_auc": 0.9}, "3", allow_first=False).outcome == "pass"
    assert check(gate, {"roc_auc": 0.4}, None, None, allow_first=True).outcome == "fail"


@pytest.mark.parametrize(
    "gate",
    [
        Gate(metric="f1", min=0.5),
        Gate(metric="f1", max=0.5),
        Gate(metric="f1", maxDropVsChampion=0.1),
        Gate(metric="f1", minGainVsChampion=0.0),
    ],
)
def test_a_metric_missing_from_the_candidate_fails(gate: Gate) -> None:
    r = check(gate, {"roc_auc": 0.9}, {"f1": 0.5}, "1")
    assert r.outcome == "fail"
    assert r.value is None
    assert r.detail == "f1 was not computed for this candidate"


# --------------------------------------------------------------------------
# maxDropVsChampion


@pytest.mark.parametrize(
    ("candidate", "outcome"),
    [
        (0.875, "pass"),  # better than the champion
        (0.75, "pass"),  # equal
        (0.5, "pass"),  # drop 0.25 == maxDrop
        (0.4999, "fail"),  # drop just over maxDrop
        (0.25, "fail"),
    ],
)
def test_max_drop_higher_is_better(candidate: float, outcome: str) -> None:
    r = check(Gate(metric="roc_auc", maxDropVsChampion=0.25), {"roc_auc": candidate}, {"roc_auc": 0.75}, "4")
    assert r.outcome == outcome
    assert r.champion_value == 0.75
    assert "vs champion v4 0.7500" in r.detail


@pytest.mark.parametrize("metric", ["rmse", "log_loss"])
@pytest.mark.parametrize(
    ("candidate", "outcome"),
    [
        (0.25, "pass"),  # lower than the champion: better
        (0.5, "pass"),  # equal
        (0.75, "pass"),  # worse by 0.25 == maxDrop
        (0.7501, "fail"),  # worse by just over maxDrop
        (1.0, "fail"),
    ],
)
def test_max_drop_lower_is_better(metric: str, candidate: float, outcome: str) -> None:
    r = check(Gate(metric=metric, maxDropVsChampion=0.25), {metric: candidate}, {metric: 0.5}, "2")
    assert r.outcome == outcome


def test_max_drop_direction_matters() -> None:
    """The same numbers pass for rmse (lower is better) and fail for r2 (higher is better)."""
    gate_rmse = Gate(metric="rmse", maxDropVsChampion=0.125)
    gate_r2 = Gate(metric="r2", maxDropVsChampion=0.125)
    assert check(gate_rmse, {"rmse": 0.5}, {"rmse": 1.0}, "1").outcome == "pass"
    assert check(gate_r2, {"r2": 0.5}, {"r2": 1.0}, "1").outcome == "fail"


def test_max_drop_details() -> None:
    gate = Gate(metric="roc_auc", maxDropVsChampion=0.25)
    assert check(gate, {"roc_auc": 0.625}, {"roc_auc": 0.75}, "7").detail == (
        "roc_auc=0.6250 vs champion v7 0.7500: drop 0.1250 within maxDrop 0.25"
    )
    assert check(gate, {"roc_auc": 0.25}, {"roc_auc": 0.75}, "7").detail == (
        "roc_auc=0.2500 vs champion v7 0.7500: drop 0.5000 exceeds maxDrop 0.25"
    )
    assert check(gate, {"roc_auc": 0.875}, {"roc_auc": 0.75}, "7").detail == (
        "roc_auc=0.8750 vs champion v7 0.7500: gain 0.1250 within maxDrop 0.25"
    )


# --------------------------------------------------------------------------
# minGainVsChampion


@pytest.mark.parametrize(
    ("candidate", "outcome"),
    [
        (0.75, "fail"),  # equal: no gain
        (0.8125, "fail"),  # gain 0.0625 < 0.125
        (0.875, "pass"),  # gain 0.125 == minGain
        (1.0, "pass"),
        (0.5, "fail"),  # worse
    ],
)
def test_min_gain_higher_is_better(candidate: float, outcome: str) -> None:
    r = check(Gate(metric="roc_auc", minGainVsChampion=0.125), {"roc_auc": candidate}, {"roc_auc": 0.75}, "1")
    assert r.outcome == outcome


@pytest.mark.parametrize(("candidate", "outcome"), [(0.375, "pass"), (0.4375, "fail"), (0.5, "fail"), (0.625, "fail")])
def test_min_gain_lower_is_better(candidate: float, outcome: str) -> None:
    r = check(Gate(metric="log_loss", minGainVsChampion=0.125), {"log_loss": candidate}, {"log_loss": 0.5}, "1")
    assert r.outcome == outcome


@pytest.mark.parametrize("metric", ["roc_auc", "rmse"])
def test_min_gain_zero_demands_a_strict_gain(metric: str) -> None:
    gate = Gate(metric=metric, minGainVsChampion=0.0)
    equal = check(gate, {metric: 0.5}, {metric: 0.5}, "1")
    assert equal.outcome == "fail"
    assert equal.detail == f"{metric}=0.5000 vs champion v1 0.5000: gain 0.0000 below minGain 0"
    better = 0.5 + 1e-6 if metric == "roc_auc" else 0.5 - 1e-6
    assert check(gate, {metric: better}, {metric: 0.5}, "1").outcome == "pass"


# --------------------------------------------------------------------------
# No champion, or a champion that could not be evaluated


RELATIVE = [Gate(metric="roc_auc", maxDropVsChampion=0.25), Gate(metric="roc_auc", minGainVsChampion=0.0)]


@pytest.mark.parametrize("gate", RELATIVE)
def test_no_champion_with_allow_first_is_skipped(gate: Gate) -> None:
    r = check(gate, {"roc_auc": 0.5}, None, None, allow_first=True)
    assert r.outcome == "skipped"
    assert r.passed
    assert "no champion yet" in r.detail and "allowFirstWithoutChampion" in r.detail


@pytest.mark.parametrize("gate", RELATIVE)
def test_no_champion_without_allow_first_fails(gate: Gate) -> None:
    r = check(gate, {"roc_auc": 0.5}, None, None, allow_first=False)
    assert r.outcome == "fail"
    assert r.detail == "no champion yet and validation.allowFirstWithoutChampion is false"


@pytest.mark.parametrize("allow_first", [True, False])
@pytest.mark.parametrize("gate", RELATIVE)
def test_champion_without_metrics_fails(gate: Gate, allow_first: bool) -> None:
    r = check(gate, {"roc_auc": 0.5}, None, "3", allow_first=allow_first)
    assert r.outcome == "fail"
    assert r.detail == "champion v3 could not be evaluated on the candidate's rows"


@pytest.mark.parametrize("gate", RELATIVE)
def test_champion_missing_the_metric_fails(gate: Gate) -> None:
    r = check(gate, {"roc_auc": 0.5}, {"f1": 0.5}, "3")
    assert r.outcome == "fail"
    assert r.detail == "champion v3 has no roc_auc"


# --------------------------------------------------------------------------
# evaluate_gates


def test_no_gates_is_a_single_failing_check() -> None:
    for champion, version in ((None, None), ({"roc_auc": 0.5}, "1")):
        [r] = evaluate_gates([], {"roc_auc": 1.0}, champion, version, True)
        assert r.outcome == "fail"
        assert not r.passed
        assert r.name == "gates configured"
        assert "validation.gates is empty" in r.detail


def test_evaluate_gates_keeps_order_and_reports_each() -> None:
    gates = [
        Gate(metric="roc_auc", min=0.75),
        Gate(metric="f1", min=0.5),
        Gate(metric="roc_auc", maxDropVsChampion=0.125),
    ]
    first = evaluate_gates(gates, {"roc_auc": 0.8, "f1": 0.25}, None, None, True)
    assert [(r.name, r.outcome) for r in first] == [
        ("roc_auc min 0.75", "pass"),
        ("f1 min 0.5", "fail"),
        ("roc_auc maxDropVsChampion 0.125", "skipped"),
    ]
    later = evaluate_gates(gates, {"roc_auc": 0.75, "f1": 0.5}, {"roc_auc": 1.0, "f1": 0.5}, "2", True)
    assert [r.outcome for r in later] == ["pass", "pass", "fail"]


# --------------------------------------------------------------------------
# Decimal thresholds exactly at the boundary: float noise must not flip the outcome


@pytest.mark.parametrize(
    ("metric", "candidate", "champion", "drop"),
    [
        ("roc_auc", 0.79, 0.80, 0.01),
        ("roc_auc", 0.85, 0.90, 0.05),
        ("rmse", 1.1, 1.0, 0.1),
    ],
)
def test_max_drop_exactly_at_a_decimal_threshold_passes(
    metric: str, candidate: float, champion: float, drop: float
) -> None:
    r = check(Gate(metric=metric, maxDropVsChampion=drop), {metric: candidate}, {metric: champion}, "1")
    assert r.outcome == "pass", r.detail


def test_min_gain_exactly_at_a_decimal_threshold_passes() -> None:
    r = check(Gate(metric="roc_auc", minGainVsChampion=0.1), {"roc_auc": 0.3}, {"roc_auc": 0.2}, "1")
    assert r.outcome == "pass", r.detail


def test_only_relative_gates_and_no_champion_is_failed_not_silently_passed():
    results = evaluate_gates([Gate(metric="roc_auc", maxDropVsChampion=0.01)], {"roc_auc": 0.51}, None, None, True)
    assert [r.outcome for r in results] == ["skipped", "fail"]
    assert "add an absolute gate" in results[-1].detail


def test_details_never_carry_credentials():
    c = CheckResult(check="smoke_test", name="x", outcome="fail", detail="GET http://bob:pw123@host/api failed")
    assert "pw123" not in c.detail and "bob:***@" in c.detail


def test_evaluate_gates_keeps_spec_order_and_a_missing_slice_measurement_fails():
    gates = [Gate(metric="recall", min=0.1), Gate(metric="recall", maxDropVsChampion=0.02, perSlice="plan")]
    checks = evaluate_gates(gates, {"recall": 0.7}, {"recall": 0.7}, "3", True)
    assert [c.gate for c in checks] == [0, 1] and checks[1].outcome == "fail"
    assert "no slice metrics of plan" in checks[1].detail
