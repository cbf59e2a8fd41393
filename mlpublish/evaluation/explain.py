"""Explanations: scikit-learn's permutation importance of candidate and champion on the same held-out rows.

The score permuted is the metric candidates are selected by, so "important" means "the
selection metric drops when this column is shuffled", for both models alike.
"""

from __future__ import annotations

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


def importances_of(
    task: str, metric: str, model: Any, X: Any, y: Any, positive_label: Any, seed: int, repeats: int, max_rows: int
) -> Any:
    """sklearn's permutation_importance result of ``model`` on (X, y), scored by ``metric``."""
    from sklearn.inspection import permutation_importance

    return permutation_importance(
        model,
        X,
        y,
        scoring=_scorer(task, metric, positive_label),
        n_repeats=repeats,
        random_state=seed,
        max_samples=min(max_rows, len(X)),
    )


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
