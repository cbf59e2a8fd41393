"""monitor: drift of the current features against the champion's training reference, and the retraining decision.

One monitor run is one window (or, with ``monitoring.window.column``, the rows
of the last ``lookbackHours``). The current rows are streamed in chunks: PSI
needs only bin counts, and a uniform sample of at most ``sampleRows`` rows
feeds the KS test and, where labels have arrived, the champion's performance.

The decision (see :func:`mlpublish.evaluation.drift.decide_retraining`) counts the
drifted windows among the last M monitor runs *of the same champion version*:
a new champion has a new reference, so its windows start afresh. It is
recorded on the monitor's MLflow run with :func:`mlpublish.registry.retraining.decision_tags`,
which is what the Airflow DAG and the Dagster sensor read.

With ``monitoring.labels``, the run first records the live metrics of each model on the labels of every
complete window not yet recorded (:mod:`mlpublish.steps.live_labels`).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from mlpublish import config
from mlpublish.catalog.events import SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.errors import MlpublishError, StepError, WarehouseError
from mlpublish.evaluation.drift import FeatureProfile, decide_retraining, ks_test
from mlpublish.evaluation.metrics import compute_metrics, higher_is_better
from mlpublish.modelling import prepare_features
from mlpublish.registry.contract import (
    CHAMPION_VERSION_TAG,
    DRIFT_REPORT_ARTIFACT,
    DRIFT_TAG,
    HOLDOUT_ARTIFACT,
    MODEL_TAG,
    REFERENCE_ARTIFACT,
    STEP_TAG,
    TEST_METRIC_PREFIX,
)
from mlpublish.registry.lock import LOCK_PREFIX
from mlpublish.registry.retraining import decision_tags, open_requests, training_runs
from mlpublish.results import FeatureDrift, MonitorResult
from mlpublish.steps.contract_checks import contract_guard, record_contract
from mlpublish.steps.live_labels import record_live_windows
from mlpublish.steps.scoring_inputs import engine_of, load_champion, scoring_source, spark_source

log = logging.getLogger("mlpublish.monitor")


def load_reference(ctx: PublishContext, run_id: str) -> Any:
    """The training reference of the champion's run (older runs: its held-out rows, same distribution)."""
    import pandas as pd

    reg = ctx.registry
    # list first: an unreachable store is a RegistryError, never mistaken for a missing reference
    present: set[str] = set()
    for folder in {a.rsplit("/", 1)[0] for a in (REFERENCE_ARTIFACT, HOLDOUT_ARTIFACT)}:
        present |= reg.artifact_paths(run_id, folder)
    for artifact in (REFERENCE_ARTIFACT, HOLDOUT_ARTIFACT):
        if artifact in present:
            return pd.read_parquet(reg.download_artifacts(run_id, artifact))[ctx.spec.feature_names]
    raise StepError(
        f"{ctx.name}: the champion's run {run_id} has neither {REFERENCE_ARTIFACT} nor "
        f"{HOLDOUT_ARTIFACT}: it was not trained by mlpublish, retrain it to monitor drift"
    )


def window_note(spec: Any) -> str | None:
    """What "current" means when it is not new data: the training table itself, without a window.

    The champion's training rows are then part of the current rows (the held-out rows too): drift is measured
    against a sample of the very rows it is compared with, and the labelled performance is optimistic."""
    scoring = spec.scoring
    other = scoring.query or scoring.sourceParquet or scoring.sourceSparkTable
    table = scoring.sourceTable or spec.data.trainingTable
    if spec.monitoring.window.column or other or table != spec.data.trainingTable:
        return None
    return (
        f"current rows: all of the training table {table}, the champion's training rows included (set "
        "scoring.sourceTable to the new rows, or monitoring.window.column to watch only recent ones)"
    )


def _window_history(ctx: PublishContext, exp_id: str, version: str, m: int) -> list[bool]:
    """Drift flags of the previous monitor runs of this champion version, oldest first (at most m-1)."""
    query = (
        f"tags.`{STEP_TAG}` = 'monitor' and tags.`{MODEL_TAG}` = '{ctx.name}' "
        f"and tags.`{CHAMPION_VERSION_TAG}` = '{version}' and attributes.status = 'FINISHED'"
    )
    runs = ctx.registry.search_runs(
        [exp_id], query, what="monitor runs", order_by=["attribute.start_time DESC"], max_results=max(m - 1, 1)
    )
    return [r.data.tags.get(DRIFT_TAG) == "true" for r in reversed(runs)][-(m - 1) :] if m > 1 else []


# A training run ends itself within training.timeoutMinutes (mlpublish.steps.bounds); one still RUNNING
# well after that lost its process (SIGKILL, a lost machine) and must not hold back retraining.
DEAD_RUN_GRACE_SECONDS = 300


def training_in_flight(ctx: PublishContext, train_runs: list[Any], now: float) -> str | None:
    """Why a retraining is in flight (a RUNNING training run, the registry lock held), or None."""
    limit = min(
        ctx.spec.monitoring.inFlightHours * 3600, ctx.spec.training.timeoutMinutes * 60 + DEAD_RUN_GRACE_SECONDS
    )
    for r in train_runs:
        if r.info.status == "RUNNING" and now - (r.info.start_time or 0) / 1000 < limit:
            return f"training run {r.info.run_id} is RUNNING"
    try:
        held = ctx.registry.has_registered_model(f"{LOCK_PREFIX}{ctx.name}")
    except MlpublishError:
        return None
    return f"the registry lock {LOCK_PREFIX}{ctx.name} is held (a register or promote is running)" if held else None


def _performance(
    ctx: PublishContext, model: Any, champion_run: Any, labelled: Any
) -> tuple[dict[str, float], str | None]:
    """Champion metrics on the labelled sample, and a reason when the drop exceeds maxMetricDrop."""
    spec, task, metric = ctx.spec, ctx.preflight.task, ctx.preflight.select_by
    if labelled is None or len(labelled) < 10 or (task == "classification" and labelled[spec.target].nunique() < 2):
        return {}, None
    X = prepare_features(labelled, spec.feature_names, spec.categorical_features)
    current = compute_metrics(task, model, X, labelled[spec.target], spec.training.positiveLabel)
    out = {f"current_{k}": v for k, v in current.items()}
    reference = champion_run.data.metrics.get(f"{TEST_METRIC_PREFIX}{metric}")
    limit = spec.monitoring.maxMetricDrop
    if reference is None or metric not in current:
        return out, None
    drop = (reference - current[metric]) if higher_is_better(metric) else (current[metric] - reference)
    out[f"drop_{metric}"] = drop
    if limit is not None and drop > limit:
        return (
            out,
            f"{metric} {current[metric]:.4f} on {len(labelled)} labelled rows is {drop:.4f} worse than at training ({reference:.4f}) > maxMetricDrop {limit:g}",
        )
    return out, None


def _profile_locally(
    source: Any, profiles: dict[str, FeatureProfile], ctx: PublishContext, since: Any, rate: float, guard: Any
):
    """The local engine: stream the source chunk by chunk into the profiles; (rows, uniform sample).
    ``guard``: the champion's data contract, counting each chunk's violations (rows of another type left out)."""
    import numpy as np
    import pandas as pd

    spec, mon = ctx.spec, ctx.spec.monitoring
    features, categorical = spec.feature_names, spec.categorical_features
    rng = np.random.default_rng(0)
    samples, rows = [], 0
    for frame in source.frames(spec.scoring.chunkSize):
        if mon.window.column:
            stamps = pd.to_datetime(frame[mon.window.column], utc=True, errors="coerce")
            frame = frame[stamps >= since]
        if guard is not None and len(frame):
            frame = guard.observe(frame)
        if frame.empty:
            continue
        try:
            X = prepare_features(frame, features, categorical)
        except WarehouseError as exc:
            raise WarehouseError(f"{source.label}: {exc}") from None
        for f, prof in profiles.items():
            prof.add(X[f].to_numpy() if f in categorical else X[f].to_numpy(dtype="float64"))
        keep = rng.random(len(frame)) < rate
        samples.append(frame[keep])
        rows += len(frame)
    return rows, (pd.concat(samples, ignore_index=True) if samples else None)


def monitor_drift(
    ctx: PublishContext, *, now: float | None = None, engine: str | None = None, spark: Any = None
) -> MonitorResult:
    """Measure drift of the scoring source against the champion's reference; decide on retraining; record both.

    ``engine`` overrides ``scoring.engine``; on Spark, ``spark`` is the adapter's session (default: from the
    environment). Both engines compute the same statistics and take the same decision on the same rows."""
    import pandas as pd

    spec, mon, reg = ctx.spec, ctx.spec.monitoring, ctx.registry
    now = time.time() if now is None else now
    on_spark = engine_of(ctx, engine) == "spark"
    version, run_id, model = load_champion(ctx)
    # monitoring.labels: each model's live metrics per complete window, recorded once (before the drift
    # window: a labels error must not leave a drift window recorded that a retry would count twice)
    live = record_live_windows(ctx, now=now)
    reference = load_reference(ctx, run_id)
    guard = contract_guard(ctx, version, run_id)  # the monitored rows are checked too: counted, never refused
    features, categorical = spec.feature_names, spec.categorical_features

    if on_spark:
        from mlpublish.spark_engine import spark_session

        spark = spark or spark_session()
        source: Any = spark_source(ctx, spark, list(features))
    else:
        source = scoring_source(ctx, list(features))
    available = source.types()
    extra = [c for c in (spec.target, mon.window.column) if c and c in available]
    if mon.window.column and mon.window.column not in available:
        raise WarehouseError(f"{source.label}: monitoring.window.column {mon.window.column!r} not found")
    source.columns = list(dict.fromkeys(features + extra))
    source.check(features, categorical)

    profiles = {
        f: FeatureProfile(
            f,
            f in categorical,
            reference[f].astype(str).tolist() if f in categorical else reference[f].to_numpy(dtype="float64"),
            mon.bins,
        )
        for f in features
    }
    total = source.count()
    rate = min(1.0, mon.sampleRows / total) if total else 1.0
    since = pd.Timestamp(now - mon.window.lookbackHours * 3600, unit="s", tz="UTC")
    if on_spark:
        from mlpublish.spark_engine.drift import profile_on_spark

        window = mon.window.column
        rows, sample = profile_on_spark(
            spark,
            source,
            profiles,
            features=features,
            categorical=categorical,
            window=window,
            since=since,
            rate=rate,
            guard=guard,
        )
    else:
        rows, sample = _profile_locally(source, profiles, ctx, since, rate, guard)
    if rows == 0:
        raise WarehouseError(
            f"{source.label}: no rows to monitor"
            + (f" in the last {mon.window.lookbackHours:g} h of {mon.window.column}" if mon.window.column else "")
        )
    Xs = prepare_features(sample, features, categorical)

    drifts: list[FeatureDrift] = []
    reasons: list[str] = []
    for f, prof in profiles.items():
        value = prof.psi
        ks = None if f in categorical else ks_test(prof.reference, Xs[f].to_numpy(dtype="float64"))
        by_ks = ks is not None and ks[1] < mon.ksPValue and ks[0] >= mon.ksMinStatistic
        drifted = value >= mon.psiThreshold or by_ks
        drifts.append(
            FeatureDrift(
                feature=f,
                kind="categorical" if f in categorical else "numerical",
                psi=round(value, 6),
                ks_statistic=None if ks is None else round(ks[0], 6),
                ks_pvalue=None if ks is None else ks[1],
                drifted=drifted,
            )
        )
        if drifted:
            why = [f"PSI {value:.3f} >= {mon.psiThreshold:g}"] if value >= mon.psiThreshold else []
            if by_ks:
                why.append(f"KS {ks[0]:.3f} (p={ks[1]:.2g} < {mon.ksPValue:g})")
            reasons.append(f"{f}: " + ", ".join(why))
    drifted_features = [d.feature for d in drifts if d.drifted]

    champion_run = reg.run(run_id)
    labelled = sample[sample[spec.target].notna()] if spec.target in sample else None
    performance, perf_reason = _performance(ctx, model, champion_run, labelled)
    if perf_reason:
        reasons.append(perf_reason)
    window_drifted = len(drifted_features) >= mon.minDriftedFeatures or perf_reason is not None

    exp_id = reg.ensure_experiment(spec.experiment_name, config.artifact_root(reg.tracking_uri))
    windows = _window_history(ctx, exp_id, version, mon.windowM) + [window_drifted]
    train_runs = training_runs(reg, exp_id, spec.name)
    last_trained = max(((r.info.end_time or r.info.start_time or 0) / 1000 for r in train_runs), default=None)
    pending = open_requests(reg, spec.experiment_name, spec.name, expire_hours=mon.inFlightHours, now=now)
    retrain, why = decide_retraining(
        windows,
        n=mon.windowN,
        m=mon.windowM,
        now=now,
        last_trained_at=last_trained,
        cooldown_hours=mon.cooldownHours,
        in_flight=training_in_flight(ctx, train_runs, now),
        pending=f"monitor run {pending[-1].request_id}, no training since" if pending else None,
        drift_reasons=reasons,
    )

    tags = {
        **decision_tags(spec.name, retrain=retrain, reasons=why),
        DRIFT_TAG: str(window_drifted).lower(),
        CHAMPION_VERSION_TAG: version,
    }
    tags.update(pipeline_tags(ctx.pipeline))
    monitor_run = reg.create_run(exp_id, f"{spec.name}-monitor", tags, what="create monitor run")
    try:
        metrics = {
            "rows": float(rows),
            "reference_rows": float(len(reference)),
            "drifted_features": float(len(drifted_features)),
        }
        for d in drifts:
            metrics[f"psi_{d.feature}"] = d.psi
            if d.ks_statistic is not None:
                metrics[f"ks_statistic_{d.feature}"] = d.ks_statistic
                metrics[f"ks_pvalue_{d.feature}"] = float(d.ks_pvalue)
        metrics.update(performance)
        if guard is not None:
            metrics["contract_rows_violating"] = float(guard.violating)
        reg.log_batch(monitor_run, metrics, timestamp_ms=int(now * 1000), what="log drift metrics")
        result = MonitorResult(
            model_name=spec.name,
            version=version,
            monitor_run_id=monitor_run,
            rows=rows,
            reference_rows=len(reference),
            features=drifts,
            drifted_features=drifted_features,
            performance=performance,
            window_drifted=window_drifted,
            retrain=retrain,
            reasons=why,
            request_id=monitor_run if retrain else (pending[-1].request_id if pending else None),
            contract=record_contract(ctx, guard, monitor_run, name=f"{spec.name} v{version}"),
            live_windows=live,
        )
        reg.log_dict(monitor_run, result.to_json(), DRIFT_REPORT_ARTIFACT, what="log drift report")
    except BaseException:
        # a half-recorded decision must not count as a window or a request (readers want FINISHED runs)
        reg.end_run(monitor_run, "FAILED", what="fail monitor run")
        raise
    reg.end_run(monitor_run, what="end monitor run")

    if ctx.catalog.get(spec.fqn) is not None:
        ctx.emit(
            SetModelProperties(
                fqn=spec.fqn,
                properties={
                    "lastMonitoredAt": now_iso(),
                    "driftDetected": window_drifted,
                    "driftedFeatures": ", ".join(drifted_features),
                    "driftSummary": json.dumps({d.feature: d.psi for d in drifts}, sort_keys=True),
                    "retrainRequested": retrain,
                    "retrainReasons": "; ".join(why)[:1000],
                    "monitorRunId": monitor_run,
                    "monitoredVersion": version,
                },
            )
        )
    log.info(
        "%s: monitored %d rows against version %s: %s; retrain=%s (%s)",
        spec.name,
        rows,
        version,
        f"drift in {', '.join(drifted_features)}" if drifted_features else "no feature drift",
        retrain,
        "; ".join(why),
    )
    return result
