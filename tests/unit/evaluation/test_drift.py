"""PSI, KS and the retraining rule on numbers we control."""

from __future__ import annotations

import numpy as np
import pytest

from mlpublish.evaluation.drift import FeatureProfile, bin_edges, decide_retraining, ks_test, numeric_counts, psi

HOUR = 3600.0


def test_psi_small_for_a_resample_large_for_a_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 5000)
    same = rng.choice(ref, 5000, replace=True)
    shifted = ref + 0.8
    prof = FeatureProfile("x", False, ref, 10)
    prof.add(same[:2000])
    prof.add(same[2000:])  # counts add up over chunks
    assert prof.psi < 0.02
    assert prof.psi == pytest.approx(psi(prof.ref_counts, numeric_counts(same, prof.edges)))
    moved = FeatureProfile("x", False, ref, 10)
    moved.add(shifted)
    assert moved.psi > 0.5
    stat, p = ks_test(ref, shifted)
    assert stat > 0.25 and p < 1e-10
    stat, p = ks_test(ref, same)
    assert stat < 0.05 and p > 0.01


def test_discrete_feature_gets_fewer_bins_and_missing_values_their_own():
    ref = np.array([0, 0, 0, 1, 1, 2, 5, np.nan] * 50, dtype=float)
    edges = bin_edges(ref, 10)
    assert len(edges) == len(np.unique(edges)) <= 4
    counts = numeric_counts(ref, edges)
    assert counts[-1] == 50 and counts.sum() == len(ref)
    # a wave of missing values is drift even if the present values look the same
    prof = FeatureProfile("t", False, ref, 10)
    prof.add(np.where(np.arange(400) % 2 == 0, np.nan, ref[:400]))
    assert prof.psi > 0.2


def test_categorical_psi_counts_unseen_categories():
    ref = ["basic"] * 500 + ["premium"] * 500
    prof = FeatureProfile("plan", True, ref, 10)
    prof.add(["basic"] * 490 + ["premium"] * 510)
    assert prof.psi < 0.01
    moved = FeatureProfile("plan", True, ref, 10)
    moved.add(["gold"] * 400 + ["basic"] * 600)  # a category the reference never saw
    assert moved.psi > 1.0


def decide(windows, **kw):
    args = {"n": 2, "m": 3, "now": 100 * HOUR, "last_trained_at": 0.0, "cooldown_hours": 24.0}
    return decide_retraining(windows, **{**args, **kw})


@pytest.mark.parametrize(
    "windows, retrain",
    [
        ([True], False),  # one window is not enough for 2 of 3
        ([False, True], False),
        ([True, True], True),
        ([True, False, True], True),  # 2 of the last 3, latest drifted
        ([True, True, False], False),  # the latest window recovered
        ([True, False, False, True], False),  # older hits slid out of the last 3
        ([False, True, True, True, True], True),
    ],
)
def test_n_of_m_windows_and_latest(windows, retrain):
    assert decide(windows)[0] is retrain


def test_n_of_m_with_n_equal_m_needs_every_window():
    assert decide([True, False, True], n=3, m=3)[0] is False
    assert decide([True, True, True], n=3, m=3)[0] is True


def test_cooldown_after_training_blocks_then_expires():
    ok, why = decide([True, True], now=10 * HOUR, last_trained_at=0.0, cooldown_hours=24)
    assert not ok and "cooldown" in why[0] and "10.00 h ago" in why[0]
    assert decide([True, True], now=24 * HOUR + 1, last_trained_at=0.0, cooldown_hours=24)[0] is True
    assert decide([True, True], now=1.0, last_trained_at=None, cooldown_hours=24)[0] is True  # never trained


def test_in_flight_and_pending_requests_block():
    ok, why = decide([True, True], in_flight="training run abc is RUNNING")
    assert not ok and "in flight: training run abc" in why[0]
    ok, why = decide([True, True], pending="monitor run r1, no training since")
    assert not ok and "already requested" in why[0]


def test_reasons_carry_the_feature_detail():
    ok, why = decide([True, True], drift_reasons=["plan: PSI 0.410 >= 0.2"])
    assert ok and why == ["drift in 2 of the last 2 window(s) (needs 2 of 3)", "plan: PSI 0.410 >= 0.2"]
