"""A team's own model code, outside this project: written as the package ``teammodels`` into a test's folder.

The package is never part of mlpublish nor installed: a model that loads in a fresh process without the
folder on the path got its code from the model's ``code_paths``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLAIN = '''
"""Models that know nothing of scikit-learn: a class with predict and predict_proba, and trainers."""

import numpy as np


class Threshold:
    """Logistic score of one column: no scikit-learn base, no classes_, no get_params."""

    def __init__(self, column, scale=1.0, centre=0.0):
        self.column, self.scale, self.centre = column, scale, centre

    def predict_proba(self, X):
        z = (X[self.column].to_numpy(dtype=float) - self.centre) * self.scale
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class LabelsOnly:
    """Predicts labels and nothing else."""

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


class Broken(Threshold):
    """A model with a mistake of its own, chosen by ``mistake``."""

    def __init__(self, column, mistake):
        super().__init__(column)
        self.mistake = mistake

    def predict_proba(self, X):
        p = super().predict_proba(X)
        if self.mistake == "proba_above_one":
            p = p * 1.5
        return p

    def predict(self, X):
        pred = super().predict(X).astype(float)
        if self.mistake == "nan":
            pred[3] = np.nan
        if self.mistake == "short":
            pred = pred[:-1]
        return pred


class Mean:
    """A regressor: the mean of the training target plus a slope on one column."""

    def __init__(self, column, slope, mean):
        self.column, self.slope, self.mean = column, slope, mean

    def predict(self, X):
        return self.mean + self.slope * X[self.column].to_numpy(dtype=float)


def train_threshold(X, y, scale=1.0):
    column = "tenure_days"
    return Threshold(column, scale=-abs(scale) / 10.0, centre=float(X[column].median()))


def train_labels_only(X, y):
    return LabelsOnly()


def train_broken(X, y, mistake="nan"):
    return Broken("tenure_days", mistake)


def train_mean(X, y, slope=0.0):
    return Mean("tenure_days", slope, float(y.mean()))


def train_lightgbm_booster(X, y, num_boost_round=20):
    """A native LightGBM Booster on numerical features, labels encoded in sorted order."""
    import lightgbm

    codes = y.map({c: i for i, c in enumerate(sorted(y.unique()))})
    return lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, label=codes), num_boost_round)


def train_xgboost_booster(X, y, num_boost_round=20):
    """A native XGBoost Booster on numerical features, labels encoded in sorted order."""
    import xgboost

    codes = y.map({c: i for i, c in enumerate(sorted(y.unique()))})
    params = {"objective": "binary:logistic", "max_depth": 3}
    return xgboost.train(params, xgboost.DMatrix(X, label=codes), num_boost_round)
'''


def write_team_models(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``root/teammodels`` on the path and on the allow-list, forgotten after the test."""
    package = root / "teammodels"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "plain.py").write_text(PLAIN)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("MLPUBLISH_ALLOWED_MODULES", "teammodels")
    for name in [m for m in sys.modules if m == "teammodels" or m.startswith("teammodels.")]:
        monkeypatch.delitem(sys.modules, name)
    return package
