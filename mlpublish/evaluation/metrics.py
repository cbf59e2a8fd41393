"""Metrics the chain computes, and which way is better for each."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mlpublish.errors import StepError

log = logging.getLogger("mlpublish.metrics")

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier", "ece")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "ece"})
# Expected calibration error: equal-width bins of the positive class's probability over [0, 1]
ECE_BINS = 10


def metrics_for(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def default_select_by(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


def better(metric: str, a: float, b: float) -> bool:
    """True when value ``a`` is strictly better than ``b`` for ``metric``."""
    return a > b if higher_is_better(metric) else a < b


def positive_class(classes: Any, positive_label: Any = None) -> Any:
    """The class precision, recall, f1, roc_auc and brier are about, for a binary target.

    ``training.positiveLabel`` when given; otherwise 1 (or True) when the labels are
    0/1 (False/True). Other binary labels need positiveLabel: guessing ("the
    largest label") would silently gate on the wrong class.
    """
    values = list(classes)
    if positive_label is not None:
        match = [c for c in values if c == positive_label or str(c) == str(positive_label)]
        if not match:
            raise StepError(f"training.positiveLabel {positive_label!r} is not one of the target's labels {values}")
        return match[0]
    if set(values) <= {0, 1}:
        return next((c for c in values if c == 1), values[0])  # the label itself: 1, 1.0 or True
    raise StepError(
        f"the target's labels are {values}: set training.positiveLabel to say which one is the positive class"
    )


def expected_calibration_error(y_true: Any, p_positive: Any, bins: int = ECE_BINS) -> float:
    """ECE of a binary classifier: over ``bins`` equal-width probability bins (the last one closed),
    the row-weighted mean of |share of positives - mean predicted probability|."""
    import numpy as np

    truth = np.asarray(y_true, dtype=float)
    prob = np.asarray(p_positive, dtype=float)
    if len(prob) == 0:
        raise ValueError("no rows")
    index = np.minimum((prob * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        members = index == b
        total += members.sum() * abs(truth[members].mean() - prob[members].mean())
    return float(total / len(prob))


@dataclass(frozen=True)
class Predictions:
    """A model's predictions on some rows, computed once so that slices of the rows cost no new predict."""

    task: str
    pred: Any
    proba: Any = None  # predict_proba, columns in ``classes`` order
    classes: tuple[Any, ...] = ()

    def take(self, mask: Any) -> Predictions:
        return Predictions(self.task, self.pred[mask], None if self.proba is None else self.proba[mask], self.classes)


def predict(task: str, model: Any, X: Any) -> Predictions:
    import numpy as np

    pred = np.asarray(model.predict(X))
    classes = tuple(getattr(model, "classes_", []))
    proba = None
    if task == "classification" and hasattr(model, "predict_proba") and classes:
        proba = np.asarray(model.predict_proba(X))
    return Predictions(task, pred, proba, classes)


def compute_metrics(task: str, model: Any, X: Any, y: Any, positive_label: Any = None) -> dict[str, float]:
    """Every metric of the task on (X, y).

    A metric that cannot be computed on these rows (for example roc_auc when the
    rows hold a single class) is left out, with the reason logged; a gate on it
    then fails saying so.
    """
    return metrics_from_predictions(predict(task, model, X), y, positive_label)


def metrics_from_predictions(
    p: Predictions, y: Any, positive_label: Any = None, only: str | None = None
) -> dict[str, float]:
    """Every metric of the task (or ``only`` that one) from predictions already made on the rows of ``y``."""
    import numpy as np
    from sklearn import metrics as m

    pred = p.pred
    if p.task == "regression":
        regression = {
            "rmse": lambda: float(np.sqrt(m.mean_squared_error(y, pred))),
            "mae": lambda: float(m.mean_absolute_error(y, pred)),
            "r2": lambda: float(m.r2_score(y, pred)),
        }
        return {k: fn() for k, fn in regression.items() if only in (None, k)}

    model_classes = list(p.classes)
    classes = sorted(set(np.unique(y).tolist()) | set(model_classes), key=str)
    binary = len(classes) <= 2
    out: dict[str, float] = {}

    def add(name: str, fn: Any) -> None:
        if only not in (None, name):
            return
        try:
            value = float(fn())
        except (ValueError, ZeroDivisionError, IndexError) as exc:
            log.warning("metric %s cannot be computed on these %d rows: %s", name, len(y), exc)
            return
        if value == value:  # not NaN
            out[name] = value

    add("accuracy", lambda: m.accuracy_score(y, pred))
    if binary:
        pos = positive_class(classes, positive_label)
        kw = {"average": "binary", "pos_label": pos, "zero_division": 0}
    else:
        pos, kw = None, {"average": "weighted", "zero_division": 0}
    add("precision", lambda: m.precision_score(y, pred, **kw))
    add("recall", lambda: m.recall_score(y, pred, **kw))
    add("f1", lambda: m.f1_score(y, pred, **kw))
    if p.proba is not None and model_classes:
        proba = p.proba
        if binary and pos in model_classes:
            p1 = proba[:, model_classes.index(pos)]
            add("roc_auc", lambda: m.roc_auc_score(np.asarray(y) == pos, p1))
            add("brier", lambda: m.brier_score_loss(np.asarray(y) == pos, p1))
            add("ece", lambda: expected_calibration_error(np.asarray(y) == pos, p1))
        elif not binary:
            add("roc_auc", lambda: m.roc_auc_score(y, proba, multi_class="ovr", labels=model_classes))
        add("log_loss", lambda: m.log_loss(y, proba, labels=model_classes))
    return out
