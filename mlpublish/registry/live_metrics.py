"""Live metrics on labels (monitoring.labels): one MLflow run per (window, role, model version).

The monitor step records them (:func:`record_window`); ``promotion.mode: shadow`` reads them back
(:func:`live_windows`). The format is data, read by other processes:

* in the model's experiment (``spec.experiment_name``), run name ``<model>-live-<role>-<window start>``;
* tags ``mlpublish.live.window_start`` / ``mlpublish.live.window_end`` (ISO-8601 UTC, ``...Z``; the window
  start is the label time floored to ``windowHours`` since the Unix epoch), ``mlpublish.live.role``
  (champion | challenger), ``mlpublish.live.version``, ``mlpublish.model_name`` (the spec's name);
* metrics ``live_<name>`` for the names of :func:`mlpublish.evaluation.metrics.compute_metrics` and
  ``labelled_rows``;
* status FINISHED only once complete: a run left RUNNING or FAILED records nothing, and the next monitor run
  records that window again.

A window is recorded once per role and version; should two monitors race on the same window, the readers keep
the first run started.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlpublish.registry.contract import (
    LIVE_METRIC_PREFIX,
    LIVE_MODEL_TAG,
    LIVE_ROLE_TAG,
    LIVE_ROWS_METRIC,
    LIVE_STEP,
    LIVE_VERSION_TAG,
    LIVE_WINDOW_END_TAG,
    LIVE_WINDOW_START_TAG,
    MODEL_TAG,
    STEP_TAG,
)
from mlpublish.registry.gateway import Registry, escape_filter_value
from mlpublish.results import LiveWindow

__all__ = ["LiveWindow", "live_windows", "parse_time", "record_window", "window_tags"]


def parse_time(text: str) -> datetime:
    """An ISO-8601 time of a window as an aware UTC datetime (a naive one is taken as UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def live_windows(
    registry: Registry,
    experiment: str,
    model: str,
    role: str | None = None,
    version: str | None = None,
    *,
    now: datetime | None = None,
) -> list[LiveWindow]:
    """The recorded windows of ``model`` in experiment ``experiment`` (a name), oldest first (then role, version);
    only FINISHED runs, one per (window start, role, version); ``now``: windows ending after it are left out."""
    exp_id = registry.experiment_id(experiment)
    if exp_id is None:
        return []
    query = [
        f"tags.`{LIVE_MODEL_TAG}` = '{escape_filter_value(model)}'",
        f"tags.`{LIVE_WINDOW_START_TAG}` LIKE '%'",
        "attributes.status = 'FINISHED'",
    ]
    if role is not None:
        query.append(f"tags.`{LIVE_ROLE_TAG}` = '{escape_filter_value(role)}'")
    if version is not None:
        query.append(f"tags.`{LIVE_VERSION_TAG}` = '{escape_filter_value(str(version))}'")
    runs = registry.search_all_runs([exp_id], " and ".join(query), what=f"live-metrics runs of {model!r}")
    found: dict[tuple[str, str, str], tuple[int, LiveWindow]] = {}
    for run in runs:
        window = from_run(run)
        if window is None:
            continue
        if now is not None and parse_time(window.window_end) > now:
            continue
        key = (window.window_start, window.role, window.version)
        started = int(run.info.start_time or 0)
        if key not in found or started < found[key][0]:
            found[key] = (started, window)
    return [w for _, (_, w) in sorted(found.items())]


def from_run(run: Any) -> LiveWindow | None:
    """The window a live-metrics run holds (None: a run missing one of the tags)."""
    tags, metrics = run.data.tags, run.data.metrics
    needed = (LIVE_WINDOW_START_TAG, LIVE_WINDOW_END_TAG, LIVE_ROLE_TAG, LIVE_VERSION_TAG)
    if any(t not in tags for t in needed):
        return None
    return LiveWindow(
        window_start=tags[LIVE_WINDOW_START_TAG],
        window_end=tags[LIVE_WINDOW_END_TAG],
        role=tags[LIVE_ROLE_TAG],
        version=tags[LIVE_VERSION_TAG],
        labelled_rows=int(metrics.get(LIVE_ROWS_METRIC, 0)),
        metrics={
            k[len(LIVE_METRIC_PREFIX) :]: float(v) for k, v in metrics.items() if k.startswith(LIVE_METRIC_PREFIX)
        },
        run_id=run.info.run_id,
    )


def window_tags(model: str, window: LiveWindow) -> dict[str, str]:
    return {
        LIVE_MODEL_TAG: model,
        LIVE_WINDOW_START_TAG: window.window_start,
        LIVE_WINDOW_END_TAG: window.window_end,
        LIVE_ROLE_TAG: window.role,
        LIVE_VERSION_TAG: window.version,
        STEP_TAG: LIVE_STEP,
        MODEL_TAG: model,
    }


def record_window(
    registry: Registry,
    experiment_id: str,
    model: str,
    window: LiveWindow,
    *,
    extra_tags: dict[str, str] | None = None,
    timestamp_ms: int = 0,
) -> LiveWindow:
    """One FINISHED run holding ``window``; the window with its run id. A failure ends the run FAILED (never
    counted) and raises."""
    tags = {**window_tags(model, window), **(extra_tags or {})}
    run_id = registry.create_run(
        experiment_id, f"{model}-live-{window.role}-{window.window_start}", tags, what="create live-metrics run"
    )
    try:
        metrics = {f"{LIVE_METRIC_PREFIX}{k}": v for k, v in window.metrics.items()}
        metrics[LIVE_ROWS_METRIC] = float(window.labelled_rows)
        registry.log_batch(run_id, metrics, timestamp_ms=timestamp_ms, what="log live metrics")
    except BaseException:
        try:
            registry.end_run(run_id, "FAILED", what="fail live-metrics run")
        except Exception:  # the store is down: the original error matters more
            pass
        raise
    registry.end_run(run_id, what="end live-metrics run")
    return window.model_copy(update={"run_id": run_id})
