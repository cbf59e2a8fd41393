"""A model's own mistakes refuse the candidate at evaluate (mlpublish.evaluation.sanity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlpublish.errors import GateFailed
from mlpublish.evaluation.sanity import checked_predictions

X = pd.DataFrame({"tenure": np.arange(6.0), "plan": list("abcabc")})


class Model:
    classes_ = [0, 1]

    def __init__(self, pred, proba=None):
        self.pred, self.proba = pred, proba

    def predict(self, X):
        return np.asarray(self.pred)

    def predict_proba(self, X):
        return np.asarray(self.proba)


GOOD_PROBA = [[0.9, 0.1]] * 6


def refused(task: str, model: Model) -> GateFailed:
    with pytest.raises(GateFailed) as info:
        checked_predictions("churn", "candidate run r1", task, model, X)
    assert info.value.exit_code == 3 and info.value.model == "churn"
    return info.value


@pytest.mark.parametrize(
    ("task", "model", "check", "detail"),
    [
        ("regression", Model([1.0, 2.0, np.nan, 4.0, 5.0, 6.0]), "predictions are finite", "row 2 of the held-out"),
        ("regression", Model([1.0, 2.0, 3.0, np.inf, 5.0, 6.0]), "predictions are finite", "row 3 "),
        ("regression", Model([1.0] * 5), "one prediction per row", "shape (5,) for 6 rows"),
        ("regression", Model(["x"] * 6), "numeric predictions", "values such as 'x'"),
        ("classification", Model([0] * 6, [[0.5, 0.5]] * 5 + [[1.2, -0.2]]), "probabilities in [0, 1]", "row 5"),
        ("classification", Model([0] * 6, [[0.5, 0.6]] * 6), "probabilities sum to 1", "sums to 1.1"),
        ("classification", Model([0] * 6, [[0.5]] * 6), "one probability column per class", "shape (6, 1)"),
        ("classification", Model([0, None, 0, 0, 0, 0], GOOD_PROBA), "predictions are labels", "row 1 "),
    ],
)
def test_each_mistake_is_refused_naming_the_check_and_a_row(task, model, check, detail) -> None:
    error = refused(task, model)
    assert error.failures == [check]
    assert str(error).startswith(f"churn: candidate run r1 refused by the check {check!r}: ")
    assert detail in str(error)


def test_the_example_row_shows_the_features() -> None:
    error = refused("regression", Model([1.0, 2.0, np.nan, 4.0, 5.0, 6.0]))
    assert "row 2 of the held-out rows (tenure=2.0, plan='c')" in str(error)


def test_a_predict_that_raises_is_the_model_s_mistake_not_a_crash() -> None:
    class Raises(Model):
        def predict(self, X):
            raise KeyError("column 'age' not found")

    error = refused("regression", Raises([]))
    assert error.failures == ["predicts the held-out rows"] and "KeyError" in str(error)


def test_sound_predictions_pass_and_a_column_vector_is_flattened() -> None:
    p = checked_predictions("churn", "candidate", "classification", Model([[0]] * 6, GOOD_PROBA), X)
    assert p.pred.shape == (6,) and p.proba.shape == (6, 2)
    assert checked_predictions("churn", "candidate", "regression", Model(np.arange(6.0)), X).proba is None
