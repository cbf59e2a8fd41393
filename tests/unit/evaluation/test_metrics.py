import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlpublish.errors import StepError
from mlpublish.evaluation.gates import evaluate_gates
from mlpublish.evaluation.metrics import (
    Predictions,
    compute_metrics,
    expected_calibration_error,
    metrics_from_predictions,
    positive_class,
)
from mlpublish.spec import Gate


def fitted(labels):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200)})
    y = np.where(X["a"] + rng.normal(scale=0.5, size=200) > 0.8, labels[0], labels[1])
    return LogisticRegression().fit(X, y), X, pd.Series(y)


def test_positive_class_rules():
    assert positive_class([0, 1]) == 1
    assert positive_class([False, True]) is True
    assert positive_class(["churn", "stay"], "churn") == "churn"
    assert positive_class([0, 1], "1") == 1  # a YAML string still matches
    with pytest.raises(StepError, match="set training.positiveLabel"):
        positive_class(["churn", "stay"])
    with pytest.raises(StepError, match="'gone' is not one of"):
        positive_class(["churn", "stay"], "gone")


def test_metrics_are_about_the_positive_label_not_the_largest():
    model, X, y = fitted(["churn", "stay"])  # 'churn' is the rare class
    for_churn = compute_metrics("classification", model, X, y, "churn")
    for_stay = compute_metrics("classification", model, X, y, "stay")
    assert for_churn["f1"] < for_stay["f1"]
    assert for_churn["roc_auc"] == pytest.approx(for_stay["roc_auc"])  # symmetric: same ranking quality


def test_a_metric_that_cannot_be_computed_is_left_out():
    model, X, y = fitted([1, 0])
    only_ones = y == 1
    out = compute_metrics("classification", model, X[only_ones], y[only_ones])
    assert "accuracy" in out and "roc_auc" not in out  # one class: roc_auc undefined


def test_multiclass_with_a_class_missing_from_the_rows():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300)})
    y = pd.Series(np.digitize(X["a"], [-0.5, 0.5]))
    model = LogisticRegression().fit(X, y)
    rows = y != 2
    out = compute_metrics("classification", model, X[rows], y[rows])
    assert {"accuracy", "f1", "log_loss"} <= set(out)


def test_only_one_metric_is_the_same_value_as_among_all():
    import numpy as np

    from mlpublish.evaluation.metrics import Predictions, metrics_from_predictions

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1)
    p = Predictions("classification", (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1]), (0, 1))
    every = metrics_from_predictions(p, y)
    for name, value in every.items():
        assert metrics_from_predictions(p, y, only=name) == {name: value}
    r = Predictions("regression", y + 0.1, None, ())
    assert metrics_from_predictions(r, y, only="mae") == {"mae": metrics_from_predictions(r, y)["mae"]}


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
