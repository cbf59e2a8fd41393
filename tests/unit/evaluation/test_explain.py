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
