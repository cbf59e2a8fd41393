"""evaluate: metrics on the held-out rows, for the candidate and for the current champion on the same rows."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from mlpublish.catalog.events import SetModelProperties
from mlpublish.context import PublishContext
from mlpublish.contract import (
    CHAMPION,
    CHAMPION_TEST_METRIC_PREFIX,
    COMPARED_CHAMPION_TAG,
    EVALUATION_FOLDER,
    EVALUATION_METRICS_ARTIFACT,
    HOLDOUT_ARTIFACT,
    SPLIT_TAG,
    TEST_METRIC_PREFIX,
)
from mlpublish.errors import MlpublishError, NotFound, StepError
from mlpublish.metrics import compute_metrics
from mlpublish.plots import evaluation_plots
from mlpublish.results import EvaluateResult, TrainResult
from mlpublish.steps.train import split_signature

log = logging.getLogger("mlpublish.evaluate")


def load_holdout(ctx: PublishContext, run_id: str) -> tuple[Any, Any]:
    """The candidate's held-out rows (X, y): from this process's cache, else from the run's artifacts."""
    cached = ctx.cache.get(("holdout", run_id))
    if cached is not None:
        return cached
    import pandas as pd

    try:
        path = ctx.registry.download_artifacts(run_id, HOLDOUT_ARTIFACT)
    except MlpublishError as exc:
        raise StepError(
            f"{ctx.name}: run {run_id} has no held-out rows ({HOLDOUT_ARTIFACT}); was it produced by train? ({exc})"
        ) from None
    frame = pd.read_parquet(path)
    target = ctx.spec.target
    X, y = frame.drop(columns=[target]), frame[target]
    ctx.cache[("holdout", run_id)] = (X, y)
    return X, y


def load_candidate(ctx: PublishContext, train: TrainResult) -> Any:
    model = ctx.cache.get(("model", train.run_id))
    if model is None:
        import mlflow.sklearn

        model = mlflow.sklearn.load_model(train.model_uri)
        ctx.cache[("model", train.run_id)] = model
    return model


def evaluate_version(ctx: PublishContext, version: str, X: Any, y: Any) -> tuple[dict[str, float] | None, str | None]:
    """Metrics of a registered version on (X, y), or an explanation of why it cannot score them."""
    import mlflow.sklearn

    key = ("version_model", version)
    try:
        model = ctx.cache.get(key)
        if model is None:
            model = ctx.cache[key] = mlflow.sklearn.load_model(f"models:/{ctx.name}/{version}")
    except Exception as exc:
        return None, f"cannot load {ctx.name} v{version}: {exc.__class__.__name__}: {exc}"
    expected = list(getattr(model, "feature_names_in_", []))
    missing = [c for c in expected if c not in X.columns]
    if missing:
        return None, f"{ctx.name} v{version} needs columns {missing} that the candidate's rows do not have"
    try:
        return compute_metrics(
            ctx.preflight.task, model, X[expected] if expected else X, y, ctx.spec.training.positiveLabel
        ), None
    except Exception as exc:
        return None, f"{ctx.name} v{version} failed to score the candidate's rows: {exc.__class__.__name__}: {exc}"


def split_mismatch(ctx: PublishContext, version: str) -> str | None:
    """Why the champion cannot be compared fairly on the candidate's held-out rows, or None.

    Rows stay on their side of the split only while the key columns, test size
    and seed stay the same; otherwise the champion may have trained on rows the
    candidate holds out, and would look better than it is.
    """
    if not ctx.spec.data.keyColumns:
        return None
    try:
        run_id = ctx.registry.get_version(ctx.name, version).run_id
        theirs = ctx.registry.run(run_id).data.tags.get(SPLIT_TAG)
    except MlpublishError:
        return None
    ours = split_signature(ctx.spec)
    if theirs == ours:
        return None
    if theirs is None:
        return (
            f"champion v{version} records no split ({SPLIT_TAG} tag), so it may have trained on rows held out "
            f"here and the comparison would not be fair (approve by hand: mlpublish promote {ctx.name} --version N)"
        )
    return (
        f"champion v{version} was split with {theirs} and this candidate with {ours}: the champion may have "
        "trained on rows held out here, so the comparison would not be fair (keep data.keyColumns and "
        f"training.split stable, or approve by hand: mlpublish promote {ctx.name} --version N)"
    )


def evaluate_champion(ctx: PublishContext, version: str, run_id: str) -> tuple[dict[str, float] | None, str | None]:
    """Metrics of champion ``version`` on the held-out rows of candidate run ``run_id``, or why there are none."""
    error = split_mismatch(ctx, version)
    if error is not None:
        return None, error
    X, y = load_holdout(ctx, run_id)
    return evaluate_version(ctx, version, X, y)


def evaluate_model(ctx: PublishContext, train: TrainResult) -> EvaluateResult:
    import mlflow

    X, y = load_holdout(ctx, train.run_id)
    model = load_candidate(ctx, train)
    metrics = compute_metrics(train.task, model, X, y, ctx.spec.training.positiveLabel)
    champion_version = ctx.registry.alias_version(ctx.name, CHAMPION)
    champion_metrics, champion_error = None, None
    if champion_version is not None:
        champion_metrics, champion_error = evaluate_champion(ctx, champion_version, train.run_id)
        if champion_error:
            log.warning("%s: %s", ctx.name, champion_error)

    artifacts: list[str] = []
    try:
        with mlflow.start_run(run_id=train.run_id):
            mlflow.log_metrics({f"{TEST_METRIC_PREFIX}{k}": v for k, v in metrics.items()})
            if champion_metrics:
                mlflow.log_metrics({f"{CHAMPION_TEST_METRIC_PREFIX}{k}": v for k, v in champion_metrics.items()})
            mlflow.set_tag(COMPARED_CHAMPION_TAG, champion_version or "none")
            with tempfile.TemporaryDirectory() as tmp:
                report = {
                    "candidate": metrics,
                    "champion_version": champion_version,
                    "champion": champion_metrics,
                    "champion_error": champion_error,
                    "rows": len(y),
                }
                (Path(tmp) / Path(EVALUATION_METRICS_ARTIFACT).name).write_text(json.dumps(report, indent=2))
                champion_model = ctx.cache.get(("version_model", champion_version)) if champion_metrics else None
                for path in evaluation_plots(train.task, model, champion_model, champion_version, X, y, Path(tmp)):
                    artifacts.append(f"{EVALUATION_FOLDER}/{path.name}")
                mlflow.log_artifacts(tmp, artifact_path=EVALUATION_FOLDER)
                artifacts.append(EVALUATION_METRICS_ARTIFACT)
    except NotFound:
        raise
    except Exception as exc:
        raise StepError(f"{ctx.name}: cannot record the evaluation of run {train.run_id}: {exc}") from exc

    result = EvaluateResult(
        model_name=ctx.name,
        run_id=train.run_id,
        metrics=metrics,
        champion_version=champion_version,
        champion_metrics=champion_metrics,
        champion_error=champion_error,
        artifacts=sorted(artifacts),
    )
    ctx.emit(
        SetModelProperties(
            fqn=ctx.spec.fqn,
            properties={
                "latestMetrics": json.dumps({k: round(v, 6) for k, v in sorted(metrics.items())}),
                "comparedChampionVersion": champion_version or "none",
            },
        )
    )
    log.info(
        "%s: evaluated run %s: %s%s",
        ctx.name,
        train.run_id,
        ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())),
        f" (champion v{champion_version}: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(champion_metrics.items()))
        + ")"
        if champion_metrics
        else "",
    )
    return result
