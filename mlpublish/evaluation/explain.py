"""Explanations: permutation importance of candidate and champion on the same held-out rows.

The score permuted is the metric candidates are selected by, so "important" means "the
selection metric drops when this column is shuffled", for both models alike. Computed the way
scikit-learn's ``permutation_importance`` does (baseline on all rows, each repeat on a sample of at
most ``max_rows``), but from the model's predict / predict_proba alone: the model need not be a
scikit-learn class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mlpublish.evaluation.metrics import Predictions, higher_is_better, metrics_from_predictions, predict


class FeatureImportance(BaseModel):
    """Mean drop of the selection metric when one feature is shuffled (positive: the model relies on it)."""

    feature: str
    candidate: float
    candidate_std: float
    champion: float | None = None

    @property
    def moved(self) -> float | None:
        return None if self.champion is None else self.candidate - self.champion


# metrics read from predict_proba alone: scoring them needs one pass of the model per shuffle, not two
PROBABILITY_METRICS = frozenset({"roc_auc", "brier", "ece", "log_loss"})


def _scorer(task: str, metric: str, positive_label: Any) -> Any:
    import numpy as np

    sign = 1.0 if higher_is_better(metric) else -1.0

    def score(model: Any, X: Any, y: Any) -> float:
        classes = tuple(getattr(model, "classes_", []))
        if task == "classification" and metric in PROBABILITY_METRICS and classes and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(X))
            # the labels are not read for a probability metric: the most likely class stands in for predict
            predictions = Predictions(task, np.asarray(classes)[proba.argmax(axis=1)], proba, classes)
        else:
            predictions = predict(task, model, X)
        value = metrics_from_predictions(predictions, y, positive_label, only=metric).get(metric)
        return float("nan") if value is None else sign * value

    return score


@dataclass(frozen=True)
class Importances:
    """Per feature (in ``X``'s column order): the mean and standard deviation of the score's drop."""

    importances_mean: Any
    importances_std: Any


def importances_of(
    task: str, metric: str, model: Any, X: Any, y: Any, positive_label: Any, seed: int, repeats: int, max_rows: int
) -> Importances:
    """Permutation importance of ``model`` on (X, y), scored by ``metric``."""
    import numpy as np

    score = _scorer(task, metric, positive_label)
    baseline = score(model, X, y)
    rng = np.random.RandomState(seed)
    n = len(X)
    rows = min(max_rows, n)
    y_values = np.asarray(y)
    drops = np.empty((X.shape[1], repeats))
    for r in range(repeats):
        sample = rng.choice(n, rows, replace=False) if rows < n else np.arange(n)
        X_sample, y_sample = X.iloc[sample].reset_index(drop=True), y_values[sample]
        for j, column in enumerate(X.columns):
            shuffled = X_sample.copy()
            shuffled[column] = X_sample[column].to_numpy()[rng.permutation(rows)]
            drops[j, r] = baseline - score(model, shuffled, y_sample)
    return Importances(drops.mean(axis=1), drops.std(axis=1))


def compare_importances(
    task: str,
    metric: str,
    candidate: Any,
    champion: Any,
    X: Any,
    y: Any,
    positive_label: Any = None,
    seed: int = 0,
    repeats: int = 5,
    max_rows: int = 10000,
) -> list[FeatureImportance]:
    """Permutation importance of the candidate's features, and of the champion's on the same rows;
    sorted by the candidate's importance, largest first."""
    cand = importances_of(task, metric, candidate, X, y, positive_label, seed, repeats, max_rows)
    champ_by_feature: dict[str, float] = {}
    if champion is not None:
        cols = list(getattr(champion, "feature_names_in_", X.columns))
        champ = importances_of(task, metric, champion, X[cols], y, positive_label, seed, repeats, max_rows)
        champ_by_feature = {c: float(v) for c, v in zip(cols, champ.importances_mean)}
    rows = [
        FeatureImportance(
            feature=str(col),
            candidate=float(mean),
            candidate_std=float(std),
            champion=champ_by_feature.get(col),
        )
        for col, mean, std in zip(X.columns, cand.importances_mean, cand.importances_std)
    ]
    return sorted(rows, key=lambda r: -r.candidate)
