"""The live-metrics windows of one model version in one role, read back from MLflow (the promotion's side).

The monitor records one MLflow run per (window, role, model version) in the model's experiment once labels
arrived for a complete window (docs/shadow.md, "Live metrics"): tags ``mlpublish.live.window_start`` and
``mlpublish.live.window_end`` (ISO-8601 UTC), ``mlpublish.live.role`` (champion or challenger),
``mlpublish.live.version`` and ``mlpublish.model_name``; metrics ``live_<name>`` (the names of
:func:`mlpublish.evaluation.metrics.compute_metrics`) and ``labelled_rows``. Only FINISHED runs count: a
window still being recorded is not evidence yet.

The tag names are the record's format, shared with the writer (the monitor step); the lead keeps one copy of
them (this module's are the reader's).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from mlpublish.registry import Registry, escape_filter_value

LIVE_WINDOW_START_TAG = "mlpublish.live.window_start"
LIVE_WINDOW_END_TAG = "mlpublish.live.window_end"
LIVE_ROLE_TAG = "mlpublish.live.role"
LIVE_VERSION_TAG = "mlpublish.live.version"
LIVE_MODEL_TAG = "mlpublish.model_name"
LIVE_METRIC_PREFIX = "live_"
LABELLED_ROWS_METRIC = "labelled_rows"
# Windows read per role and version (newest first): far more than any windowM looks at.
READ_LIMIT = 500


class LiveWindow(BaseModel):
    """One recorded window of one model version in one role: its live metrics and labelled rows."""

    run_id: str
    window_start: str
    window_end: str
    role: str
    version: str
    labelled_rows: int
    metrics: dict[str, float]  # without the live_ prefix: roc_auc, accuracy, rmse ...


def parse_time(text: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime (a naive one is taken as UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def window_of(run: Any) -> LiveWindow | None:
    """The window a run records, or None when its tags are not a live-metrics record."""
    tags, metrics = run.data.tags, run.data.metrics
    try:
        start, end = tags[LIVE_WINDOW_START_TAG], tags[LIVE_WINDOW_END_TAG]
        parse_time(start), parse_time(end)
        return LiveWindow(
            run_id=run.info.run_id,
            window_start=start,
            window_end=end,
            role=tags[LIVE_ROLE_TAG],
            version=tags[LIVE_VERSION_TAG],
            labelled_rows=int(metrics.get(LABELLED_ROWS_METRIC, 0)),
            metrics={
                k[len(LIVE_METRIC_PREFIX) :]: float(v) for k, v in metrics.items() if k.startswith(LIVE_METRIC_PREFIX)
            },
        )
    except (KeyError, ValueError):
        return None


def read_live_windows(
    reg: Registry,
    experiment_name: str,
    model_name: str,
    role: str,
    version: str,
    *,
    now: datetime | None = None,
    limit: int = READ_LIMIT,
) -> list[LiveWindow]:
    """The FINISHED windows of ``model_name`` v``version`` as ``role``, oldest first, one per window start
    (a window recorded twice counts once: its latest record). ``now``: windows ending after it are left out."""
    exp_id = reg.experiment_id(experiment_name)
    if exp_id is None:
        return []
    query = (
        f"tags.`{LIVE_MODEL_TAG}` = '{escape_filter_value(model_name)}' "
        f"and tags.`{LIVE_ROLE_TAG}` = '{escape_filter_value(role)}' "
        f"and tags.`{LIVE_VERSION_TAG}` = '{escape_filter_value(version)}' "
        "and attributes.status = 'FINISHED'"
    )
    runs = reg.search_runs(
        [exp_id],
        query,
        what=f"live-metrics windows of {model_name!r} v{version} ({role})",
        order_by=["attribute.start_time DESC"],
        max_results=limit,
    )
    by_start: dict[datetime, LiveWindow] = {}
    for run in runs:  # newest first: the first record of a window is its latest
        window = window_of(run)
        if window is None:
            continue
        start = parse_time(window.window_start)
        if now is not None and parse_time(window.window_end) > now:
            continue
        by_start.setdefault(start, window)
    return [by_start[k] for k in sorted(by_start)]
