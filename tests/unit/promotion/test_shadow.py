"""The decision on live labels (mlpublish.promotion.shadow): N of the last M counted windows won, a win being
strictly better on selectBy AND the spec's gates passed on the challenger's live metrics."""

from __future__ import annotations

from datetime import timedelta

from mlpublish.promotion.shadow import decide_on_live_labels
from mlpublish.spec import Gate
from tests.support.live_windows import DAY0
from tests.support.live_windows import live_duel as duel
from tests.support.live_windows import live_window as window


def decide(champ, chall, gates=(), n=2, m=3, min_rows=100, metric="roc_auc"):
    return decide_on_live_labels(
        champ,
        chall,
        champion_version="1",
        challenger_version="2",
        metric=metric,
        gates=list(gates),
        window_n=n,
        window_m=m,
        min_labelled_rows=min_rows,
    )


def test_two_of_the_last_three_won_promotes_with_the_evidence():
    champ, chall = duel([(0.80, 0.70), (0.80, 0.85), (0.80, 0.78), (0.80, 0.84)])
    d = decide(champ, chall, gates=[Gate(metric="roc_auc", min=0.75)])
    assert d.promote and d.wins == 2
    assert [w.won for w in d.windows] == [True, False, True]  # the last three, oldest first
    assert d.windows[0].window_start == (DAY0 + timedelta(days=1)).isoformat()
    assert d.windows[1].why == "roc_auc 0.7800 vs 0.8000: does not beat the champion"
    assert "won 2 of the last 3 labelled window(s) (needs 2 of the last 3)" in d.reason
    assert d.windows[0].champion["roc_auc"] == 0.80 and d.windows[0].challenger["roc_auc"] == 0.85


def test_one_of_three_is_not_yet():
    champ, chall = duel([(0.80, 0.85), (0.80, 0.70), (0.80, 0.79)])
    d = decide(champ, chall)
    assert not d.promote and d.wins == 1 and d.reason.endswith(": not yet")


def test_better_but_failing_a_gate_on_live_metrics_loses_the_window():
    champ, chall = duel([(0.70, 0.74), (0.70, 0.76), (0.70, 0.74)])
    d = decide(champ, chall, gates=[Gate(metric="roc_auc", min=0.75)])
    assert [w.won for w in d.windows] == [False, True, False] and not d.promote
    assert "beats the champion; gates failed: roc_auc min 0.75: roc_auc=0.7400 < min 0.75" in d.windows[0].why


def test_relative_gates_compare_with_the_champion_of_the_same_window():
    champ = [window(i, "champion", "1", roc_auc=0.80, f1=0.70) for i in range(2)]
    chall = [window(i, "challenger", "2", roc_auc=0.82, f1=f1) for i, f1 in enumerate((0.60, 0.69))]
    d = decide(champ, chall, gates=[Gate(metric="f1", maxDropVsChampion=0.05)], n=1, m=2)
    assert [w.won for w in d.windows] == [False, True]
    assert "f1=0.6000 vs champion v1 0.7000: drop 0.1000 exceeds maxDrop 0.05" in d.windows[0].why


def test_per_slice_gates_are_reported_skipped():
    champ, chall = duel([(0.80, 0.85)])
    d = decide(champ, chall, gates=[Gate(metric="recall", maxDropVsChampion=0.05, perSlice="plan")], n=1, m=1)
    assert d.promote and d.windows[0].checks[0].outcome == "skipped"
    assert d.windows[0].checks[0].detail == "per-slice gates are not measured on live labels"


def test_windows_with_too_few_labelled_rows_or_one_model_do_not_count():
    champ, chall = duel([(0.80, 0.90), (0.80, 0.90), (0.80, 0.90)])
    chall[0] = chall[0].model_copy(update={"labelled_rows": 99})
    del champ[1]
    d = decide(champ, chall, min_rows=100)
    assert len(d.windows) == 1 and d.not_counted == 2 and d.wins == 1 and not d.promote


def test_no_counted_window_says_why():
    champ, chall = duel([(0.80, 0.90)], rows=5)
    d = decide(champ, chall, min_rows=100)
    assert not d.promote and d.windows == []
    assert "no labelled window counted yet" in d.reason and "at least 100 labelled rows" in d.reason


def test_windows_of_other_versions_are_not_evidence():
    champ, chall = duel([(0.80, 0.90), (0.80, 0.90)], champion="7")  # measured against an earlier champion
    assert decide(champ, chall).windows == []
    champ, chall = duel([(0.80, 0.90), (0.80, 0.90)], challenger="3")  # an earlier challenger's wins
    assert decide(champ, chall).windows == []


def test_lower_is_better_metrics_win_downwards():
    champ = [window(i, "champion", "1", rmse=10.0) for i in range(2)]
    chall = [window(i, "challenger", "2", rmse=v) for i, v in enumerate((9.0, 11.0))]
    d = decide(champ, chall, n=1, m=2, metric="rmse")
    assert [w.won for w in d.windows] == [True, False] and d.promote


def test_a_tie_is_no_win_and_a_missing_metric_loses():
    champ, chall = duel([(0.80, 0.80)])
    assert not decide(champ, chall, n=1, m=1).windows[0].won
    champ = [window(0, "champion", "1", roc_auc=0.8)]
    chall = [window(0, "challenger", "2", f1=0.9)]
    only = decide(champ, chall, n=1, m=1).windows[0]
    assert not only.won and only.why == "live roc_auc of the challenger was not recorded"
