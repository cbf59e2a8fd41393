"""Live metrics (mlpublish.evaluation.live): windows floored to windowHours since the epoch, metrics from the
predictions table's prediction and probability equal to sklearn's on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m

from mlpublish.evaluation.live import iso, last_complete_end, live_metrics, window_end, window_starts


def test_windows_start_at_the_label_time_floored_since_the_epoch():
    times = ["2026-03-04T23:59:59+00:00", "2026-03-05T00:00:00Z", "2026-03-05 05:30:00", "2026-03-05T01:00:00+02:00"]
    starts = window_starts(times, 24)
    assert [iso(s) for s in starts] == [
        "2026-03-04T00:00:00Z",
        "2026-03-05T00:00:00Z",
        "2026-03-05T00:00:00Z",  # a naive time is UTC
        "2026-03-04T00:00:00Z",  # 01:00 at +02:00 is 23:00 UTC the day before
    ]
    six = window_starts(["2026-03-05T05:59:00Z", "2026-03-05T06:00:00Z", "2026-03-05T13:00:00Z"], 6)
    assert [iso(s) for s in six] == ["2026-03-05T00:00:00Z", "2026-03-05T06:00:00Z", "2026-03-05T12:00:00Z"]
    assert iso(pd.Timestamp(window_end(six.iloc[2], 6))) == "2026-03-05T18:00:00Z"
    # windows of 1.5 hours: multiples of 90 minutes since 1970-01-01T00:00Z
    assert iso(window_starts(["2026-03-05T02:59:00Z"], 1.5).iloc[0]) == "2026-03-05T01:30:00Z"


def test_the_last_complete_window_ends_at_now_floored():
    now = pd.Timestamp("2026-03-05T13:20:00Z").timestamp()
    assert iso(pd.Timestamp(last_complete_end(now, 24))) == "2026-03-05T00:00:00Z"
    assert iso(pd.Timestamp(last_complete_end(now, 6))) == "2026-03-05T12:00:00Z"
    exactly = pd.Timestamp("2026-03-05T12:00:00Z").timestamp()
    assert iso(pd.Timestamp(last_complete_end(exactly, 6))) == "2026-03-05T12:00:00Z"  # that window just closed


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.35 * y + rng.random(300) * 0.65, 0, 1)
    return y, (p >= 0.5).astype(int), p


def test_binary_metrics_equal_sklearn_on_the_same_rows(binary):
    y, pred, p = binary
    got = live_metrics("classification", y, pred, p)
    assert got["roc_auc"] == pytest.approx(m.roc_auc_score(y, p))
    assert got["accuracy"] == pytest.approx(m.accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(m.f1_score(y, pred))
    assert got["log_loss"] == pytest.approx(m.log_loss(y, np.column_stack([1 - p, p])))
    assert got["brier"] == pytest.approx(m.brier_score_loss(y, p))


def test_the_positive_label_decides_which_class_the_probability_is(binary):
    # labels churn/stay with positiveLabel churn: the probability is churn's, whatever the classes' order
    y, pred, p = binary
    names = np.array(["stay", "churn"])
    got = live_metrics("classification", names[y], names[pred], p, positive_label="churn")
    assert got["roc_auc"] == pytest.approx(m.roc_auc_score(y, p))
    assert got["log_loss"] == pytest.approx(m.log_loss(y, np.column_stack([1 - p, p])))
    assert got["recall"] == pytest.approx(m.recall_score(y, pred))


def test_labels_read_as_text_are_compared_as_the_predictions_numbers(binary):
    y, pred, p = binary
    assert live_metrics("classification", pd.Series(y.astype(str)), pred, p) == live_metrics(
        "classification", y, pred, p
    )


def test_no_probability_or_many_classes_leave_only_the_label_metrics(binary):
    y, pred, _ = binary
    assert set(live_metrics("classification", y, pred, None)) == {"accuracy", "precision", "recall", "f1"}
    three = np.array(["a", "b", "c"])[np.arange(90) % 3]
    got = live_metrics("classification", three, np.roll(three, 1), np.full(90, 0.7))
    assert set(got) == {"accuracy", "precision", "recall", "f1"} and got["accuracy"] == 0.0


def test_regression_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 2.0, 2.5, 5.0])
    got = live_metrics("regression", y, pred)
    assert got["rmse"] == pytest.approx(np.sqrt(m.mean_squared_error(y, pred)))
    assert got["mae"] == pytest.approx(0.5) and got["r2"] == pytest.approx(m.r2_score(y, pred))
