"""The evaluation plots: beyond two classes, the ROC plot has one curve per class (one-vs-rest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from mlpublish.evaluation.plots import evaluation_plots


def test_a_multi_class_model_gets_a_one_vs_rest_roc_curve_per_class(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    y = pd.Series(np.where(X["a"] > 0.5, "gold", np.where(X["a"] < -0.5, "basic", "silver")))
    model = LogisticRegression().fit(X, y)
    shown: list[list[str]] = []
    real_close = plt.close

    def keep_legend(fig=None):  # read each figure's legend before it is closed
        if fig is not None and hasattr(fig, "axes") and fig.axes and fig.axes[0].get_legend():
            shown.append([t.get_text() for t in fig.axes[0].get_legend().get_texts()])
        return real_close(fig)

    plt.close = keep_legend
    try:
        paths = evaluation_plots("classification", model, None, None, X, y, tmp_path)
    finally:
        plt.close = real_close
    assert [p.name for p in paths] == ["roc_curve.png", "confusion_matrix.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert [label.split(" (AUC")[0] for label in shown[0]] == ["basic vs rest", "gold vs rest", "silver vs rest"]
