"""evaluate: metrics on the held-out rows, for the candidate and for the current champion on the same rows."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpublish.catalog.events import SetModelProperties
from mlpublish.deployment.context import PublishContext
from mlpublish.errors import MlpublishError, NotFound, StepError
from mlpublish.evaluation.explain import FeatureImportance, compare_importances
from mlpublish.evaluation.fairness import Disparity, compute_disparity
from mlpublish.evaluation.metrics import Predictions, compute_metrics, metrics_from_predictions, positive_class, predict
from mlpublish.evaluation.plots import evaluation_plots, importances_plot
from mlpublish.evaluation.sanity import checked_predictions
from mlpublish.evaluation.slices import SliceMetrics, compute_slice_metrics
from mlpublish.registry.contract import (
    CHAMPION,
    CHAMPION_TEST_METRIC_PREFIX,
    COMPARED_CHAMPION_TAG,
    EVALUATION_FOLDER,
    EVALUATION_IMPORTANCES_ARTIFACT,
    EVALUATION_METRICS_ARTIFACT,
    HOLDOUT_ARTIFACT,
    HOLDOUT_GROUPS_ARTIFACT,
    SPLIT_TAG,
    TEST_METRIC_PREFIX,
)
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


def load_holdout_groups(ctx: PublishContext, run_id: str) -> Any:
    """The slice and sensitive columns of the candidate's held-out rows, or None when the run has none
    (no slices or fairness in the spec, or a run trained before they were added)."""
    if not ctx.spec.validation.group_columns:
        return None
    cached = ctx.cache.get(("holdout_groups", run_id))
    if cached is not None:
        return cached
    import pandas as pd

    try:
        path = ctx.registry.download_artifacts(run_id, HOLDOUT_GROUPS_ARTIFACT)
    except MlpublishError as exc:
        log.warning("%s: run %s has no slice columns (%s): slices and fairness are not measured", ctx.name, run_id, exc)
        return None
    frame = pd.read_parquet(path)
    ctx.cache[("holdout_groups", run_id)] = frame
    return frame


def load_candidate(ctx: PublishContext, train: TrainResult) -> Any:
    model = ctx.cache.get(("model", train.run_id))
    if model is None:
        from mlpublish.modelling.flavors import load_model

        model = load_model(train.model_uri)
        ctx.cache[("model", train.run_id)] = model
    return model


def _version_model(ctx: PublishContext, version: str) -> tuple[Any, str | None]:
    """Registered ``version`` of this model (loaded once per process), or why it cannot be loaded."""
    from mlpublish.modelling.flavors import load_model

    key = ("version_model", version)
    try:
        model = ctx.cache.get(key)
        if model is None:
            model = ctx.cache[key] = load_model(f"models:/{ctx.name}/{version}")
    except Exception as exc:
        return None, f"cannot load {ctx.name} v{version}: {exc.__class__.__name__}: {exc}"
    return model, None


def evaluate_version(ctx: PublishContext, version: str, X: Any, y: Any) -> tuple[dict[str, float] | None, str | None]:
    """Metrics of a registered version on (X, y), or an explanation of why it cannot score them."""
    model, error = _version_model(ctx, version)
    if error is not None:
        return None, error
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


@dataclass(frozen=True)
class GroupMeasures:
    slices: list[SliceMetrics]
    fairness: list[Disparity]
    importances: list[FeatureImportance]


def measure_slices_and_fairness(
    ctx: PublishContext, task: str, run_id: str, X: Any, y: Any, predictions: Predictions, champion_model: Any
) -> tuple[list[SliceMetrics], list[Disparity]]:
    """Slice metrics and disparities of the candidate (``predictions``) and the champion on the held-out rows
    of candidate run ``run_id``; empty when the spec has neither or the run kept no slice columns."""
    validation, positive_label = ctx.spec.validation, ctx.spec.training.positiveLabel
    groups = load_holdout_groups(ctx, run_id)
    if groups is None:
        return [], []
    champion = None
    if champion_model is not None:
        expected = list(getattr(champion_model, "feature_names_in_", []))
        champion = predict(task, champion_model, X[expected] if expected else X)
    present = [s for s in validation.slices if s.column in groups.columns]
    slices = compute_slice_metrics(present, groups, y, predictions, champion, positive_label)
    fairness: list[Disparity] = []
    if validation.fairness and task == "classification":
        positive = positive_class(sorted(set(y.unique().tolist()) | set(predictions.classes), key=str), positive_label)
        champion_pred = champion.pred if champion is not None else None
        for f in validation.fairness:
            if f.sensitiveColumn in groups.columns:
                column = groups[f.sensitiveColumn].to_numpy()
                fairness.append(compute_disparity(f, column, y, predictions.pred, champion_pred, positive))
    return slices, fairness


def measure_groups(
    ctx: PublishContext, train: TrainResult, X: Any, y: Any, predictions: Predictions, champion_model: Any
) -> GroupMeasures:
    """Slice metrics and disparities of candidate and champion on the same held-out rows, and both
    models' permutation importances."""
    slices, fairness = measure_slices_and_fairness(ctx, train.task, train.run_id, X, y, predictions, champion_model)
    settings = ctx.spec.validation.importances
    if not settings.enabled:
        return GroupMeasures(slices, fairness, [])
    try:
        importances = compare_importances(
            train.task,
            train.select_by,
            load_candidate(ctx, train),
            champion_model,
            X,
            y,
            ctx.spec.training.positiveLabel,
            ctx.spec.training.split.seed,
            settings.repeats,
            settings.maxRows,
        )
    except Exception as exc:  # an explanation is never a reason to stop the chain
        log.warning("%s: no permutation importances: %s: %s", ctx.name, exc.__class__.__name__, exc)
        importances = []
    return GroupMeasures(slices, fairness, importances)


def compare_with_champion(
    ctx: PublishContext, evaluation: EvaluateResult, candidate_version: str, champion_version: str
) -> tuple[EvaluateResult | None, str | None]:
    """``evaluation`` measured again against champion ``champion_version`` (metrics, slices, disparities, on the
    candidate's own held-out rows), for a champion that moved after validation; or why it cannot be."""
    error = split_mismatch(ctx, champion_version)
    if error is not None:
        return None, error
    X, y = load_holdout(ctx, evaluation.run_id)
    champion_metrics, error = evaluate_version(ctx, champion_version, X, y)
    if error is not None:
        return None, error
    slices, fairness = [], []
    if ctx.spec.validation.group_columns:
        candidate, error = _version_model(ctx, candidate_version)
        if error is not None:
            return None, error
        predictions = predict(ctx.preflight.task, candidate, X)
        champion = ctx.cache[("version_model", champion_version)]
        slices, fairness = measure_slices_and_fairness(
            ctx, ctx.preflight.task, evaluation.run_id, X, y, predictions, champion
        )
    update = dict(
        champion_version=champion_version,
        champion_metrics=champion_metrics,
        champion_error=None,
        slices=slices,
        fairness=fairness,
    )
    return evaluation.model_copy(update=update), None


def evaluate_model(ctx: PublishContext, train: TrainResult) -> EvaluateResult:
    import mlflow

    X, y = load_holdout(ctx, train.run_id)
    model = load_candidate(ctx, train)
    positive_label = ctx.spec.training.positiveLabel
    predictions = checked_predictions(ctx.name, f"candidate run {train.run_id}", train.task, model, X)
    metrics = metrics_from_predictions(predictions, y, positive_label)
    champion_version = ctx.registry.alias_version(ctx.name, CHAMPION)
    champion_metrics, champion_error = None, None
    if champion_version is not None:
        champion_metrics, champion_error = evaluate_champion(ctx, champion_version, train.run_id)
        if champion_error:
            log.warning("%s: %s", ctx.name, champion_error)
    champion_model = ctx.cache.get(("version_model", champion_version)) if champion_metrics else None
    measured = measure_groups(ctx, train, X, y, predictions, champion_model)

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
                    "slices": [s.model_dump() for s in measured.slices],
                    "fairness": [d.model_dump() for d in measured.fairness],
                }
                (Path(tmp) / Path(EVALUATION_METRICS_ARTIFACT).name).write_text(json.dumps(report, indent=2))
                importances = [i.model_dump() for i in measured.importances]
                (Path(tmp) / Path(EVALUATION_IMPORTANCES_ARTIFACT).name).write_text(json.dumps(importances, indent=2))
                artifacts.append(EVALUATION_IMPORTANCES_ARTIFACT)
                for path in evaluation_plots(train.task, model, champion_model, champion_version, X, y, Path(tmp)):
                    artifacts.append(f"{EVALUATION_FOLDER}/{path.name}")
                if measured.importances:
                    path = importances_plot(measured.importances, champion_version, Path(tmp))
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
        slices=measured.slices,
        fairness=measured.fairness,
        importances=measured.importances,
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
