"""Live-metrics windows written straight into MLflow, with exactly the record's tags (docs/shadow.md, "Live
metrics"), so the promotion on live labels is tested on windows of chosen metrics. The monitor writes them in
production; these stand in for it until a test computes them from a labels table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mlpublish.registry.contract import (
    LIVE_METRIC_PREFIX,
    LIVE_MODEL_TAG,
    LIVE_ROLE_TAG,
    LIVE_VERSION_TAG,
    LIVE_WINDOW_END_TAG,
    LIVE_WINDOW_START_TAG,
)
from mlpublish.registry.contract import LIVE_ROWS_METRIC as LABELLED_ROWS_METRIC
from mlpublish.results import LiveWindow


# Whole days in the past: complete windows at any date the tests run.
def window_start(days_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def record_window(
    client: Any,
    experiment_name: str,
    model: str,
    role: str,
    version: str,
    start: datetime,
    metrics: dict[str, float],
    rows: int,
    *,
    hours: float = 24.0,
    status: str = "FINISHED",
) -> str:
    """One window of ``model`` v``version`` as ``role``: a run named ``<model>-live-<role>-<start>``."""
    exp = client.get_experiment_by_name(experiment_name)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment_name)
    start_iso = start.isoformat()
    run = client.create_run(
        exp_id,
        run_name=f"{model}-live-{role}-{start_iso}",
        tags={
            LIVE_WINDOW_START_TAG: start_iso,
            LIVE_WINDOW_END_TAG: (start + timedelta(hours=hours)).isoformat(),
            LIVE_ROLE_TAG: role,
            LIVE_VERSION_TAG: str(version),
            LIVE_MODEL_TAG: model,
        },
    )
    for name, value in metrics.items():
        client.log_metric(run.info.run_id, f"{LIVE_METRIC_PREFIX}{name}", value)
    client.log_metric(run.info.run_id, LABELLED_ROWS_METRIC, rows)
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def record_duel(
    client: Any,
    experiment_name: str,
    model: str,
    champion: str,
    challenger: str,
    windows: list[tuple[dict[str, float], dict[str, float]]],
    rows: int = 200,
    *,
    last_days_ago: int = 1,
) -> None:
    """Consecutive daily windows, the last one starting ``last_days_ago`` days ago (default: yesterday):
    (champion's metrics, challenger's metrics) each, oldest first."""
    for i, (theirs, mine) in enumerate(windows):
        start = window_start(len(windows) - i + last_days_ago - 1)
        record_window(client, experiment_name, model, "champion", champion, start, theirs, rows)
        record_window(client, experiment_name, model, "challenger", challenger, start, mine, rows)


# Windows as values, for the pure decision: consecutive days from a fixed date.
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def live_window(day: int, role: str, version: str, rows: int = 200, **metrics: float) -> LiveWindow:
    start = DAY0 + timedelta(days=day)
    return LiveWindow(
        run_id=f"{role}-{version}-{day}",
        window_start=start.isoformat(),
        window_end=(start + timedelta(days=1)).isoformat(),
        role=role,
        version=version,
        labelled_rows=rows,
        metrics=metrics,
    )


def live_duel(pairs, *, champion="1", challenger="2", rows=200):
    """Champion and challenger windows of consecutive days from (champion roc_auc, challenger roc_auc) pairs."""
    champ = [live_window(i, "champion", champion, rows, roc_auc=a, f1=0.6) for i, (a, _) in enumerate(pairs)]
    chall = [live_window(i, "challenger", challenger, rows, roc_auc=b, f1=0.6) for i, (_, b) in enumerate(pairs)]
    return champ, chall
