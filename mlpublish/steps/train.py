"""train: fit every candidate, keep the best by ``selectBy``, log it to MLflow with its data and data contract."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from mlpublish import config
from mlpublish.catalog.entity import lineage_events, model_event, table_event
from mlpublish.catalog.events import SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.contracts.learn import summary as contract_summary
from mlpublish.deployment.context import PublishContext, pipeline_tags
from mlpublish.errors import SpecError, StepError, WarehouseError
from mlpublish.evaluation.metrics import better, compute_metrics, positive_class
from mlpublish.evaluation.slices import too_many_values
from mlpublish.modelling import check_contract, contract_view, fit_model, prepare_features
from mlpublish.modelling.contract import inner_model
from mlpublish.promotion import champion_entity_events
from mlpublish.registry import provenance
from mlpublish.registry.contract import (
    CANDIDATES_FOLDER,
    CATALOG_EVENTS_ARTIFACT,
    CHAMPION,
    DATA_TIME_MAX_TAG,
    DATA_TIME_MIN_TAG,
    DATASET_DIGEST_TAG,
    HOLDOUT_ARTIFACT,
    HOLDOUT_GROUPS_ARTIFACT,
    MODEL_NAME_IN_RUN,
    MODEL_TAG,
    REFERENCE_ARTIFACT,
    SELECT_BY_TAG,
    SPEC_TAG,
    SPLIT_TAG,
    TASK_TAG,
    TRAINING_FQN_TAG,
)
from mlpublish.results import Candidate, TrainResult
from mlpublish.steps.bounds import bounded, tracked_run
from mlpublish.steps.data_contract import log_contract

log = logging.getLogger("mlpublish.train")

# Rows in the monitor's reference sample (REFERENCE_ARTIFACT)
REFERENCE_ROWS = 50_000
SPLIT_SCHEME = "str-key-xor-salt-v1"


def split_signature(spec: Any) -> str:
    """What decides which rows are held out; two runs are comparable only if it is equal."""
    split = spec.training.split
    # "scheme" names how keys are hashed (split_rows): bump it whenever that changes
    return json.dumps(
        {"keys": spec.data.keyColumns, "testSize": split.testSize, "seed": split.seed, "scheme": SPLIT_SCHEME},
        sort_keys=True,
    )


def trusted_types(model: Any) -> list[str]:
    """Types skops must trust to load the model we just fitted ourselves (MLflow saves with skops)."""
    from mlpublish.modelling.flavors import trusted_types as flavor_trusted_types

    return flavor_trusted_types(model)


def split_rows(ctx: PublishContext, frame: Any, X: Any, y: Any, size: float, salt: int) -> tuple[Any, Any, Any, Any]:
    """Split rows into (train, test).

    With ``data.keyColumns``, a row's side depends only on a hash of its key and
    the seed: as the table grows, rows never move between sides, so a champion is
    never evaluated on rows it was trained on (the comparison stays fair). Without
    keys, a seeded random split (stratified for classification).
    """
    keys = ctx.spec.data.keyColumns
    if keys:
        import numpy as np
        import pandas as pd

        keyframe = frame.loc[X.index, keys].copy()
        for col in keys:  # 17 and 17.0 must hash alike: a key column can turn float when a NULL appears
            values = keyframe[col]
            if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
                values = values.astype("Int64")
            keyframe[col] = values.astype(str)
        hashed = pd.util.hash_pandas_object(keyframe, index=False).to_numpy()
        salted = pd.util.hash_array(hashed ^ np.uint64((salt * 0x9E3779B97F4A7C15) % 2**64))
        test = ((salted % 1_000_003) / 1_000_003) < size
        if test.all() or not test.any():
            raise WarehouseError(f"{ctx.preflight.training_fqn}: too few rows to hold out {size:.0%} by key")
        return X[~test], X[test], y[~test], y[test]
    from sklearn.model_selection import train_test_split

    stratify = None
    if ctx.preflight.task == "classification" and ctx.spec.training.split.stratify:
        if y.value_counts().min() >= 2:
            stratify = y
    return train_test_split(X, y, test_size=size, random_state=salt, stratify=stratify)


def load_training_frame(ctx: PublishContext) -> tuple[Any, Any, Any]:
    """(keys+features frame, X, y) from the training table, checked for emptiness and labels."""
    spec, wh = ctx.spec, ctx.preflight.warehouse
    time_col = [spec.data.timeColumn] if spec.data.timeColumn else []
    groups = spec.validation.group_columns  # slice and sensitive columns, need not be features
    cols = list(dict.fromkeys(spec.data.keyColumns + spec.feature_names + [spec.target] + time_col + groups))
    frame = wh.read_frame(spec.data.trainingTable, cols)
    fqn = ctx.preflight.training_fqn
    missing_target = int(frame[spec.target].isna().sum())
    if missing_target:
        log.warning("%s: %d rows without target %r are left out", fqn, missing_target, spec.target)
        frame = frame[frame[spec.target].notna()].reset_index(drop=True)
    if len(frame) < 10:
        raise WarehouseError(f"{fqn} has {len(frame)} labelled rows; at least 10 are needed to train and evaluate")
    if ctx.preflight.task == "classification" and frame[spec.target].nunique() < 2:
        raise WarehouseError(f"{fqn}: target {spec.target!r} has a single class; nothing to learn")
    if ctx.preflight.task == "classification" and frame[spec.target].nunique() == 2:
        positive_class(frame[spec.target].unique().tolist(), spec.training.positiveLabel)  # fail before any run exists
    problems = too_many_values(spec.validation.slices, frame)
    if problems:  # before any run exists
        raise SpecError(spec.source_path, problems)
    X = prepare_features(frame, spec.feature_names, spec.categorical_features)
    return frame, X, frame[spec.target]


def time_range(frame: Any, column: str | None) -> dict[str, str] | None:
    """First and last value of ``data.timeColumn`` over the labelled rows read (trained on and held out)."""
    if not column:
        return None
    values = frame[column].dropna()
    if values.empty:
        return {"column": column, "min": "unknown (all NULL)", "max": "unknown (all NULL)"}
    return {"column": column, "min": str(values.min()), "max": str(values.max())}


def train_model(ctx: PublishContext) -> TrainResult:
    import mlflow

    from mlpublish.modelling.flavors import log_model
    from mlpublish.registry.datasets import (
        WarehouseTableSource,  # subclasses an MLflow class: importing it imports mlflow
    )

    spec, pf = ctx.spec, ctx.preflight
    pf.estimator.require(spec.source_path)
    split = spec.training.split
    frame, X, y = load_training_frame(ctx)
    X_train, X_test, y_train, y_test = split_rows(ctx, frame, X, y, split.testSize, split.seed)
    if not spec.data.keyColumns:
        log.warning(
            "%s: no data.keyColumns: random split, so a champion may be evaluated on rows it trained on", spec.name
        )

    grid = spec.training.grid()
    fixed = spec.fixed_params
    select_by = pf.select_by
    exp_id = ctx.registry.ensure_experiment(spec.experiment_name, config.artifact_root(ctx.registry.tracking_uri))
    tags = {
        MODEL_TAG: spec.name,
        SPEC_TAG: spec.source_path,
        TASK_TAG: pf.task,
        TRAINING_FQN_TAG: pf.training_fqn,
        SELECT_BY_TAG: select_by,
        SPLIT_TAG: split_signature(spec),
    }
    tags.update(pipeline_tags(ctx.pipeline))
    run_tags = provenance.run_tags(spec)
    tags.update(run_tags)

    fit_seconds = 0.0
    candidates: list[Candidate] = []
    with (
        bounded(f"{spec.name}: training", spec.training.timeoutMinutes) as deadline,
        tracked_run(experiment_id=exp_id, run_name=f"{spec.name}-train", tags=tags) as run,
    ):
        run_id = run.info.run_id
        if len(grid) > 1:
            X_fit, X_val, y_fit, y_val = split_rows(ctx, frame, X_train, y_train, split.validationSize, split.seed + 1)
            best: tuple[float, dict[str, Any]] | None = None
            for i, cand in enumerate(grid):
                deadline.check()
                params = {**fixed, **cand}
                with tracked_run(
                    experiment_id=exp_id, run_name=f"candidate-{i}", nested=True, tags={MODEL_TAG: spec.name}
                ) as child:
                    t0 = time.perf_counter()
                    model = fitted_model(ctx, params, X_fit, y_fit)
                    fit_seconds += time.perf_counter() - t0
                    scores = compute_metrics(pf.task, model, X_val, y_val, spec.training.positiveLabel)
                    if select_by not in scores:
                        raise StepError(f"{spec.name}: candidate {params} has no {select_by} to select by")
                    mlflow.log_params(params)
                    mlflow.log_metrics({f"val_{k}": v for k, v in scores.items()})
                    candidates.append(Candidate(params=params, score=scores[select_by], run_id=child.info.run_id))
                    if best is None or better(select_by, scores[select_by], best[0]):
                        best = (scores[select_by], params)
            assert best is not None
            chosen = best[1]
        else:
            chosen = {**fixed, **(grid[0] if grid else {})}
            candidates.append(Candidate(params=chosen, score=None))

        deadline.check()
        t0 = time.perf_counter()
        model = fitted_model(ctx, chosen, X_train, y_train)
        fit_seconds += time.perf_counter() - t0

        mlflow.log_params({k: v for k, v in chosen.items()})
        # prefixed: an estimator may have its own parameter called seed or test_size
        mlflow.log_params(
            {
                "mlpublish.estimator": spec.training.estimator or f"existing model {spec.training.existingModel}",
                "mlpublish.selected_by": select_by,
                "mlpublish.test_size": split.testSize,
                "mlpublish.seed": split.seed,
                "mlpublish.n_candidates": len(candidates),
            }
        )
        source = WarehouseTableSource(pf.training_fqn, pf.warehouse.dialect)
        dataset = mlflow.data.from_pandas(frame, source=source, targets=spec.target, name=pf.training_fqn)
        mlflow.log_input(dataset, context="training")
        mlflow.set_tag(DATASET_DIGEST_TAG, dataset.digest)
        span = time_range(frame, spec.data.timeColumn)
        if span:
            mlflow.set_tags({DATA_TIME_MIN_TAG: span["min"], DATA_TIME_MAX_TAG: span["max"]})
        contract = log_contract(ctx, run_id, frame)  # from every labelled row read (steps.data_contract)

        with tempfile.TemporaryDirectory() as tmp:
            holdout = X_test.assign(**{spec.target: y_test.values})
            path = Path(tmp) / Path(HOLDOUT_ARTIFACT).name
            holdout.to_parquet(path, index=False)
            cand_path = Path(tmp) / "candidates.json"
            cand_path.write_text(json.dumps([c.model_dump() for c in candidates], indent=2, default=str))
            mlflow.log_artifact(str(path), artifact_path=str(Path(HOLDOUT_ARTIFACT).parent))
            if spec.validation.group_columns:
                groups_path = Path(tmp) / Path(HOLDOUT_GROUPS_ARTIFACT).name
                frame.loc[X_test.index, spec.validation.group_columns].to_parquet(groups_path, index=False)
                mlflow.log_artifact(str(groups_path), artifact_path=str(Path(HOLDOUT_GROUPS_ARTIFACT).parent))
            ref_path = Path(tmp) / Path(REFERENCE_ARTIFACT).name
            X_train.sample(n=min(len(X_train), REFERENCE_ROWS), random_state=split.seed).to_parquet(
                ref_path, index=False
            )
            mlflow.log_artifact(str(ref_path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
            mlflow.log_artifact(str(cand_path), artifact_path=CANDIDATES_FOLDER)

        info = log_model(
            model,
            name=MODEL_NAME_IN_RUN,
            task=pf.task,
            example=X_train.head(5),
            code_from=[] if pf.estimator.existing else [pf.estimator.obj],
            modules=[] if pf.estimator.existing else [pf.estimator.path.split(".")[0].split(":")[0]],
        )
    artifact_uri = _model_artifact_location(ctx, info)
    ctx.cache[("holdout", run_id)] = (X_test, y_test)
    if spec.validation.group_columns:
        ctx.cache[("holdout_groups", run_id)] = frame.loc[X_test.index, spec.validation.group_columns]
    ctx.cache[("model", run_id)] = model

    result = TrainResult(
        model_name=spec.name,
        run_id=run_id,
        experiment_id=exp_id,
        model_uri=info.model_uri,
        model_id=getattr(info, "model_id", None),
        task=pf.task,
        select_by=select_by,
        params=chosen,
        candidates=candidates,
        train_rows=len(X_train),
        test_rows=len(X_test),
        dataset_digest=dataset.digest,
        training_fqn=pf.training_fqn,
        fit_seconds=round(fit_seconds, 4),
        time_range=span,
        contract=contract_summary(contract),
    )
    _emit_catalog(ctx, result, artifact_uri, run_tags)
    log.info(
        "%s: trained run %s with %s (%d candidate%s, %d rows)",
        spec.name,
        run_id,
        chosen or "defaults",
        len(candidates),
        "s" if len(candidates) != 1 else "",
        len(X_train),
    )
    return result


def fitted_model(ctx: PublishContext, params: dict[str, Any], X: Any, y: Any) -> Any:
    """One candidate fitted on (X, y) and held to the model contract (or the existing model, loaded once),
    seen as every step reads it (predict, predict_proba, classes_)."""
    from mlpublish.modelling.flavors import load_model

    spec, pf = ctx.spec, ctx.preflight
    needs = [pf.select_by, *(g.metric for g in spec.validation.gates)]
    if pf.estimator.existing:
        key = ("existing", pf.estimator.path)
        if key not in ctx.cache:
            ctx.cache[key] = load_model(pf.estimator.path)
        model = ctx.cache[key]
        check_contract(inner_model(model), f"training.existingModel {pf.estimator.path}", pf.task, needs)
        own = getattr(model, "classes_", None)
        if pf.task == "classification" and (own is None or len(own) == 0):
            model.classes_ = sorted(y.unique().tolist())  # a foreign pyfunc or booster that does not say them
        return model
    model = fit_model(pf.estimator, params, spec.categorical_features, X, y)
    kind = "trainer" if pf.estimator.is_trainer else "training.estimator"
    check_contract(model, f"{kind} {pf.estimator.path}", pf.task, needs)
    # the labels a model that does not say its classes_ (a plain class, a booster) was trained on, in
    # scikit-learn's order: the columns of its predict_proba
    classes = sorted(y.unique().tolist()) if pf.task == "classification" else None
    return contract_view(model, pf.task, classes)


def _model_artifact_location(ctx: PublishContext, info: Any) -> str:
    model_id = getattr(info, "model_id", None)
    if model_id:
        try:
            return ctx.registry.logged_model_location(model_id)
        except Exception:  # older servers: fall back to the model URI
            pass
    return info.model_uri


def _emit_catalog(ctx: PublishContext, result: TrainResult, artifact_uri: str, run_tags: dict[str, str]) -> None:
    """Tables and run facts now; the model entity and its lineage belong to the champion.

    This run's entity (hyperparameters, mlStore, lineage) is logged as the
    artifact ``catalog/events.json`` and published when the run's version becomes
    champion (promote, manual promote, rollback), so a rejected candidate never
    overwrites what the catalog says about the model in service. Only a model the
    catalog does not know yet gets its first entity from the first candidate.
    """
    spec, pf = ctx.spec, ctx.preflight
    entity_events = [
        model_event(spec, result.params, artifact_uri),
        *lineage_events(spec, pf.training_fqn, ctx.pipeline),
    ]
    ctx.registry.log_dict(result.run_id, [e.model_dump(mode="json") for e in entity_events], CATALOG_EVENTS_ARTIFACT)

    events: list[Any] = []
    if pf.training_columns:
        events.append(table_event(pf.training_fqn, pf.training_columns, f"training table of {spec.name}"))
    seen = set()
    for f in spec.mlFeatures:
        for s in f.featureSources:
            fqn = s.dataSourceFqn
            if fqn and fqn not in seen and fqn != pf.training_fqn and pf.warehouse.owns(fqn):
                seen.add(fqn)
                _, _, schema, table = fqn.split(".")
                events.append(table_event(fqn, pf.warehouse.columns(table, schema=schema)))
    if ctx.catalog.get(spec.fqn) is None:
        # A catalog that does not know the model yet (new, or lost): describe the champion
        # if there is one, else this first candidate.
        champion = ctx.registry.alias_version(spec.name, CHAMPION)
        if champion is not None:
            events += (
                champion_entity_events(ctx.registry, ctx.registry.get_version(spec.name, champion)) or entity_events
            )
        else:
            events += entity_events
    events.append(
        SetModelProperties(
            fqn=spec.fqn,
            properties={
                "latestRunId": result.run_id,
                "latestHyperParameters": json.dumps(result.params, sort_keys=True, default=str),
                "mlflowExperimentId": result.experiment_id,
                "trainingRows": result.train_rows,
                "datasetDigest": result.dataset_digest,
                "lastTrainedAt": now_iso(),
                **provenance.catalog_properties(run_tags),
            },
        )
    )
    ctx.emit(*events)
