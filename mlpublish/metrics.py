"""Metrics the chain computes, and which way is better for each."""

from __future__ import annotations

from typing import Any

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae"})


def metrics_for(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def default_select_by(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


def better(metric: str, a: float, b: float) -> bool:
    """True when value ``a`` is strictly better than ``b`` for ``metric``."""
    return a > b if higher_is_better(metric) else a < b


def compute_metrics(task: str, model: Any, X: Any, y: Any) -> dict[str, float]:
    """Every metric of the task, on (X, y). NaN-free: a metric that cannot be computed is left out."""
    import numpy as np
    from sklearn import metrics as m

    pred = model.predict(X)
    out: dict[str, float] = {}
    if task == "regression":
        out["rmse"] = float(np.sqrt(m.mean_squared_error(y, pred)))
        out["mae"] = float(m.mean_absolute_error(y, pred))
        out["r2"] = float(m.r2_score(y, pred))
        return out

    classes = np.unique(y)
    binary = len(classes) <= 2
    avg = "binary" if binary else "weighted"
    out["accuracy"] = float(m.accuracy_score(y, pred))
    pos = classes.max() if binary else None
    kw = {"pos_label": pos} if binary else {}
    out["precision"] = float(m.precision_score(y, pred, average=avg, zero_division=0, **kw))
    out["recall"] = float(m.recall_score(y, pred, average=avg, zero_division=0, **kw))
    out["f1"] = float(m.f1_score(y, pred, average=avg, zero_division=0, **kw))
    if hasattr(model, "predict_proba") and len(classes) > 1:
        proba = model.predict_proba(X)
        model_classes = list(getattr(model, "classes_", classes))
        if binary:
            p1 = proba[:, model_classes.index(pos)] if pos in model_classes else np.zeros(len(y))
            out["roc_auc"] = float(m.roc_auc_score(y == pos, p1))
            out["brier"] = float(m.brier_score_loss(y == pos, p1))
        else:
            out["roc_auc"] = float(m.roc_auc_score(y, proba, multi_class="ovr", labels=model_classes))
        out["log_loss"] = float(m.log_loss(y, proba, labels=model_classes))
    return {k: v for k, v in out.items() if v == v}
