"""Permutation importances (mlpublish.evaluation.explain)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


class PlainLogistic:
    """A classifier of no scikit-learn class: scikit-learn's estimator helpers would refuse it."""

    classes_ = [0, 1]

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-3.0 * X["signal"].to_numpy()))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def test_permutation_importance_and_plots_need_no_scikit_learn_class(tmp_path):
    from mlpublish.evaluation.explain import compare_importances
    from mlpublish.evaluation.plots import evaluation_plots

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    y = (X["signal"] + rng.normal(scale=0.3, size=400) > 0).astype(int)
    rows = compare_importances("classification", "roc_auc", PlainLogistic(), PlainLogistic(), X, y, repeats=2)
    assert [r.feature for r in rows] == ["signal", "noise"] and rows[0].candidate > 0.2
    assert rows[1].candidate == 0.0 and rows[0].champion == rows[0].candidate  # the same model, the same shuffles
    paths = evaluation_plots("classification", PlainLogistic(), PlainLogistic(), "1", X, y, tmp_path)
    assert sorted(p.name for p in paths) == ["confusion_matrix.png", "reliability.png", "roc_curve.png"]
