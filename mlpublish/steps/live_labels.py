"""monitor, monitoring.labels: live metrics of each model on the labels, per window, once per window.

Each monitor run joins the labels to the predictions (:mod:`mlpublish.warehouse.labels`: a label meets the
latest scoring run that scored its keys before the label time, both roles), buckets the labels into windows of
``windowHours`` by their time (:mod:`mlpublish.evaluation.live`) and, for every complete window not yet
recorded for a role and version, records that model's metrics (:mod:`mlpublish.registry.live_metrics`).
Re-running records nothing new; a run that failed half-way leaves the windows it did not finish to the next.

Which labels are read: those before the end of the latest complete window and, once every model now serving
(the champion and, with scoring.shadow, the challenger) has a window recorded, from the earliest of their
latest recorded windows' ends on, so a monitor reads the new labels, not the whole table every time.
"""

from __future__ import annotations

import logging
import time

from mlpublish import config
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.errors import StepError
from mlpublish.evaluation.live import iso, last_complete_end, live_metrics, window_end, windows_of
from mlpublish.registry.contract import CHALLENGER, CHAMPION
from mlpublish.registry.live_metrics import LiveWindow, live_windows, record_window
from mlpublish.warehouse.labels import labelled_predictions

log = logging.getLogger("mlpublish.monitor")


def record_live_windows(ctx: PublishContext, *, now: float | None = None) -> list[LiveWindow]:
    """Record the live metrics of every complete, unrecorded window; the windows recorded (none without
    monitoring.labels)."""
    import pandas as pd

    spec, reg = ctx.spec, ctx.registry
    labels = spec.monitoring.labels
    if labels is None:
        return []
    now = time.time() if now is None else now
    table = spec.scoring.predictionsTable or spec.data.predictionsTable
    if not table or spec.scoring.predictionsParquet or spec.scoring.predictionsSparkTable:
        raise StepError(
            f"{spec.source_path}: monitoring.labels joins the labels to the predictions table of the warehouse: "
            "set data.predictionsTable or scoring.predictionsTable (predictions written to Parquet or a Spark "
            "table cannot be joined)"
        )
    keys = labels.keyColumns or spec.data.keyColumns
    if not keys:
        raise StepError(f"{spec.source_path}: monitoring.labels.keyColumns and data.keyColumns are both empty")
    hours = labels.windowHours
    recorded = live_windows(reg, spec.experiment_name, spec.name)
    done = {(w.window_start, w.role, w.version) for w in recorded}
    until = last_complete_end(now, hours)
    rows = labelled_predictions(
        ctx.preflight.warehouse,
        labels_table=labels.table,
        predictions_table=table,
        keys=keys,
        label_column=labels.labelColumn or spec.target,
        time_column=labels.timeColumn,
        until=until,
        since=read_since(ctx, recorded),
    )
    if rows.empty:
        log.info(
            "%s: no labelled predictions in a complete window before %s to record (no labels yet, or nothing scored)",
            spec.name,
            iso(until),
        )
        return []
    exp_id = reg.ensure_experiment(spec.experiment_name, config.artifact_root(reg.tracking_uri))
    out: list[LiveWindow] = []
    task, positive = ctx.preflight.task, spec.training.positiveLabel
    for (start, role, version), group in windows_of(rows, hours).groupby(
        ["window_start", "model_role", "model_version"], sort=True
    ):
        window = LiveWindow(
            window_start=iso(start),
            window_end=iso(pd.Timestamp(window_end(start, hours))),
            role=str(role),
            version=str(version),
            labelled_rows=len(group),
            metrics={},
        )
        if (window.window_start, window.role, window.version) in done:
            continue
        window.metrics = live_metrics(
            task,
            group["label"],
            group["prediction"],
            group["probability"] if group["probability"].notna().any() else None,
            positive,
        )
        out.append(
            record_window(
                reg, exp_id, spec.name, window, extra_tags=pipeline_tags(ctx.pipeline), timestamp_ms=int(now * 1000)
            )
        )
    for w in out:
        log.info(
            "%s: live %s v%s, window %s: %d labelled rows, %s",
            spec.name,
            w.role,
            w.version,
            w.window_start,
            w.labelled_rows,
            ", ".join(f"{k}={v:.4f}" for k, v in sorted(w.metrics.items())),
        )
    return out


def read_since(ctx: PublishContext, recorded: list[LiveWindow]):
    """Where the labels to read start: the earliest of the latest recorded window ends of the models serving
    now (None: one of them has no window yet, so read from the start)."""
    import pandas as pd

    serving = {(CHAMPION, ctx.registry.alias_version(ctx.name, CHAMPION))}
    if ctx.spec.scoring.shadow:
        serving.add((CHALLENGER, ctx.registry.alias_version(ctx.name, CHALLENGER)))
    ends = []
    for role, version in serving:
        if version is None:
            continue
        mine = [w.window_end for w in recorded if w.role == role and w.version == str(version)]
        if not mine:
            return None
        ends.append(max(mine))
    return pd.Timestamp(min(ends)).to_pydatetime() if ends else None
