"""Live metrics: labels bucketed into windows, and each model's metrics on the labelled rows of a window.

Pure rules on frames (the monitor step reads the rows, :mod:`mlpublish.registry.live_metrics` records them):

* a label's window starts at its time floored to ``windowHours`` since the Unix epoch (UTC), and ends
  ``windowHours`` later; a window is complete once its end is at or before now;
* the metrics are those of :func:`mlpublish.evaluation.metrics.metrics_from_predictions`, under the names the
  gates use, computed from the predictions table's ``prediction`` and ``probability``: a binary classifier's
  probability is the positive class's, so roc_auc, log_loss, brier and ece are there; a multi-class model's is
  its top class's, so only the label metrics are (accuracy, precision, recall, f1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlpublish.evaluation.metrics import Predictions, metrics_from_predictions, positive_class

ISO = "%Y-%m-%dT%H:%M:%SZ"


def window_length_ns(hours: float) -> int:
    return round(hours * 3600 * 1e9)


def window_starts(times: Any, hours: float) -> Any:
    """The start (UTC Timestamps) of each time's window: ``times`` (anything pandas reads as times; naive ones are
    UTC) floored to ``hours`` since the Unix epoch."""
    import pandas as pd

    times = pd.Series(times)
    text = not pd.api.types.is_datetime64_any_dtype(times)
    stamps = pd.to_datetime(times, utc=True, format="mixed") if text else pd.to_datetime(times, utc=True)
    ns = stamps.astype("datetime64[ns, UTC]").astype("int64")
    length = window_length_ns(hours)
    return pd.to_datetime((ns // length) * length, utc=True)


def last_complete_end(now: float, hours: float) -> datetime:
    """The end of the latest complete window at ``now`` (epoch seconds): now floored to ``hours``."""
    length = window_length_ns(hours)
    return datetime.fromtimestamp((int(now * 1e9) // length) * length / 1e9, UTC)


def window_end(start: Any, hours: float) -> datetime:
    import pandas as pd

    return (pd.Timestamp(start) + pd.Timedelta(window_length_ns(hours), unit="ns")).to_pydatetime()


def iso(stamp: Any) -> str:
    """A window bound as recorded: ISO-8601 UTC with a Z."""
    import pandas as pd

    return pd.Timestamp(stamp).tz_convert(UTC).strftime(ISO)


def aligned_labels(labels: Any, predictions: Any) -> Any:
    """``labels`` in the type of ``predictions`` where they differ (a label read as text, predictions numbers)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(predictions) and not pd.api.types.is_numeric_dtype(labels):
        converted = pd.to_numeric(labels, errors="coerce")
        return converted if converted.notna().all() else labels
    if not pd.api.types.is_numeric_dtype(predictions) and pd.api.types.is_numeric_dtype(labels):
        return labels.astype(str)
    return labels


def live_metrics(
    task: str, label: Any, prediction: Any, probability: Any = None, positive_label: Any = None
) -> dict[str, float]:
    """The metrics of one model on the labelled rows of one window (see the module docstring)."""
    import numpy as np
    import pandas as pd

    label, prediction = pd.Series(label).reset_index(drop=True), pd.Series(prediction).reset_index(drop=True)
    if task == "regression":
        return metrics_from_predictions(
            Predictions(task, prediction.to_numpy(dtype=float)), label.to_numpy(dtype=float), positive_label
        )
    y = aligned_labels(label, prediction).to_numpy()
    pred = prediction.to_numpy()
    classes = sorted(set(np.unique(y).tolist()) | set(np.unique(pred).tolist()), key=str)
    proba, model_classes = None, ()
    if probability is not None and len(classes) == 2:
        p = pd.Series(probability).reset_index(drop=True).to_numpy(dtype=float)
        if not np.isnan(p).any():
            pos = positive_class(classes, positive_label)
            model_classes = tuple(np.unique(np.asarray(classes)).tolist())  # sorted, as a fitted model's classes_
            proba = np.column_stack([p if c == pos else 1.0 - p for c in model_classes])
    return metrics_from_predictions(Predictions(task, pred, proba, model_classes), y, positive_label)


def windows_of(rows: Any, hours: float) -> Any:
    """``rows`` (label_time, model_role, model_version, label, prediction[, probability]) with their
    ``window_start``."""
    return rows.assign(window_start=window_starts(rows["label_time"], hours).to_numpy())
