"""A model's own mistakes, caught before any metric: predictions that are missing, NaN or infinite, of the
wrong length or shape, or probabilities outside [0, 1]. They refuse the candidate (the exit code of a
refused candidate) with the check that failed and an example row, never a traceback."""

from __future__ import annotations

from typing import Any

from mlpublish.errors import GateFailed
from mlpublish.evaluation.metrics import Predictions, predict

# probabilities a float32 model rounds a hair past 0 or 1, or whose rows sum a hair off 1, are still probabilities
TOLERANCE = 1e-6
SUM_TOLERANCE = 1e-3
# features shown of the example row: enough to find it, not the whole row of a wide table
SHOWN_FEATURES = 8


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (shown as 2.0, not np.float64(2.0))."""
    return value.item() if hasattr(value, "item") else value


def _row(X: Any, i: int) -> str:
    row = X.iloc[int(i)]
    items = list(row.items())
    shown = ", ".join(f"{k}={_plain(v)!r}" for k, v in items[:SHOWN_FEATURES])
    more = f", ... ({len(items) - SHOWN_FEATURES} more)" if len(items) > SHOWN_FEATURES else ""
    return f"row {int(i)} of the held-out rows ({shown}{more})"


def checked_predictions(model_name: str, what: str, task: str, model: Any, X: Any) -> Predictions:
    """``model``'s predictions on ``X``, or GateFailed naming ``what`` (the candidate), the check and a row."""
    import numpy as np

    def refuse(check: str, detail: str) -> GateFailed:
        return GateFailed(
            f"{model_name}: {what} refused by the check {check!r}: {detail}", model=model_name, failures=[check]
        )

    try:
        p = predict(task, model, X)
    except Exception as exc:
        raise refuse("predicts the held-out rows", f"predict raised {exc.__class__.__name__}: {exc}") from None
    pred = p.pred
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred.ravel()
        p = Predictions(p.task, pred, p.proba, p.classes)
    if pred.ndim != 1 or len(pred) != len(X):
        raise refuse("one prediction per row", f"predict returned shape {pred.shape} for {len(X)} rows")
    if task == "regression" or pred.dtype.kind in "fc":
        try:
            bad = ~np.isfinite(pred.astype(float))
        except (TypeError, ValueError):
            raise refuse(
                "numeric predictions", f"predict returned {pred.dtype} values such as {_plain(pred[0])!r}"
            ) from None
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise refuse(
                "predictions are finite", f"{int(bad.sum())} NaN or infinite, e.g. {_plain(pred[i])} at {_row(X, i)}"
            )
    elif any(v is None or v != v for v in pred[: min(len(pred), 100_000)]):
        i = next(k for k, v in enumerate(pred) if v is None or v != v)
        raise refuse("predictions are labels", f"a missing label at {_row(X, i)}")
    if p.proba is None:
        return p
    proba = p.proba
    if proba.ndim != 2 or proba.shape != (len(X), len(p.classes)):
        raise refuse(
            "one probability column per class",
            f"predict_proba returned shape {proba.shape} for {len(X)} rows and classes {list(p.classes)}",
        )
    finite = np.isfinite(proba).all(axis=1)
    inside = finite & (proba >= -TOLERANCE).all(axis=1) & (proba <= 1 + TOLERANCE).all(axis=1)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise refuse("probabilities in [0, 1]", f"{proba[i].tolist()} at {_row(X, i)}")
    sums = np.abs(proba.sum(axis=1) - 1.0) > SUM_TOLERANCE
    if sums.any() and proba.shape[1] > 1:
        i = int(np.flatnonzero(sums)[0])
        raise refuse("probabilities sum to 1", f"{proba[i].tolist()} sums to {proba[i].sum():.6g} at {_row(X, i)}")
    return p
