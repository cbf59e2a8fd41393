"""validate: PENDING, then gates, smoke test, data contract vs champion and required metadata, then PASSED or
FAILED."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from mlpublish.catalog.events import SetModelProperties, SetValidationTag
from mlpublish.deployment.context import PublishContext
from mlpublish.evaluation.fairness import Disparity, fairness_checks
from mlpublish.evaluation.gates import CheckResult, evaluate_gates
from mlpublish.evaluation.slices import evaluate_slice_gate
from mlpublish.promotion import reproduced_champion
from mlpublish.registry.contract import CHECK_TAG_PREFIX, FAILED, PASSED, PENDING, VALIDATION_FOLDER, VALIDATION_TAG
from mlpublish.results import EvaluateResult, TrainResult, ValidateResult, same_candidate
from mlpublish.spec import Validation
from mlpublish.steps.card import log_card
from mlpublish.steps.data_contract import contract_check
from mlpublish.steps.evaluate import load_holdout

log = logging.getLogger("mlpublish.validate")


def smoke_test(ctx: PublishContext, train: TrainResult) -> CheckResult:
    """Load the logged model the way a server would (mlflow.pyfunc) and score a sample."""
    import mlflow.pyfunc
    import numpy as np

    rows = ctx.spec.validation.smokeTestRows
    name = f"loads through mlflow.pyfunc and scores {rows} rows"
    try:
        X, _ = load_holdout(ctx, train.run_id)
        sample = X.head(rows)
        # the count it scores: fewer than smokeTestRows when the held-out rows are fewer
        name = f"loads through mlflow.pyfunc and scores {len(sample)} rows"
        model = mlflow.pyfunc.load_model(train.model_uri)
        pred = np.asarray(model.predict(sample))
    except Exception as exc:
        return CheckResult(check="smoke_test", name=name, outcome="fail", detail=f"{exc.__class__.__name__}: {exc}")
    if len(pred) != len(sample):
        return CheckResult(
            check="smoke_test",
            name=name,
            outcome="fail",
            detail=f"returned {len(pred)} predictions for {len(sample)} rows",
        )
    if pred.dtype.kind == "f" and not np.isfinite(pred).all():
        return CheckResult(check="smoke_test", name=name, outcome="fail", detail="returned NaN or infinite predictions")
    return CheckResult(
        check="smoke_test", name=name, outcome="pass", detail=f"{len(pred)} predictions from {train.model_uri}"
    )


def metadata_checks(ctx: PublishContext) -> list[CheckResult]:
    spec = ctx.spec
    if not spec.validation.requireMetadata:
        return [
            CheckResult(
                check="metadata",
                name="required metadata",
                outcome="skipped",
                detail="validation.requireMetadata is false",
            )
        ]
    out = []
    out.append(
        CheckResult(
            check="metadata",
            name="description",
            outcome="pass" if (spec.description or "").strip() else "fail",
            detail="present" if (spec.description or "").strip() else "the spec has no description",
        )
    )
    out.append(
        CheckResult(
            check="metadata",
            name="owners",
            outcome="pass" if spec.owners else "fail",
            detail=", ".join(spec.owners) if spec.owners else "the spec names no owners",
        )
    )
    sourceless = [f.name for f in spec.mlFeatures if not any(s.dataSourceFqn for s in f.featureSources)]
    out.append(
        CheckResult(
            check="metadata",
            name="feature sources",
            outcome="fail" if sourceless else "pass",
            detail=f"features without a source table: {sourceless}"
            if sourceless
            else f"all {len(spec.mlFeatures)} features have a source table",
        )
    )
    return out


def gate_checks(validation: Validation, evaluation: EvaluateResult) -> list[CheckResult]:
    """The gates (per-slice gates one check per slice), then the fairness bounds, in spec order."""
    allow_first, version = validation.allowFirstWithoutChampion, evaluation.champion_version
    champion_evaluated = evaluation.champion_metrics is not None
    per_slice = {
        i: evaluate_slice_gate(
            i,
            g,
            evaluation.slices,
            validation.slice_set(g.perSlice).minRows,
            version,
            champion_evaluated,
            allow_first,
        )
        for i, g in enumerate(validation.gates)
        if g.perSlice is not None
    }
    checks = evaluate_gates(
        validation.gates, evaluation.metrics, evaluation.champion_metrics, version, allow_first, per_slice
    )
    measured = {d.name: d for d in evaluation.fairness}
    for i, f in enumerate(validation.fairness):
        d = measured.get(f.name) or Disparity(
            name=f.name,
            column=f.sensitiveColumn,
            metric=f.metric,
            measure=f.measure,
            candidate=None,
            error=f"evaluate measured no {f.sensitiveColumn} disparity (a run trained before the fairness entry "
            "was added, or a regression model)",
        )
        if not champion_evaluated:
            d = d.model_copy(update={"champion": None})
        checks += fairness_checks(i, f, d, version, allow_first)
    return checks


def name_the_averaging(ctx: PublishContext, train: TrainResult, checks: list[CheckResult]) -> None:
    """On more than two classes, a gate on f1, precision, recall or roc_auc says how its metric is averaged
    (as mlpublish.evaluation.metrics computes it): the gate table, the card and the catalog show it."""
    if train.task != "classification":
        return
    try:
        _, y = load_holdout(ctx, train.run_id)
    except Exception:  # the smoke test, which needs the same rows, reports why they cannot be read
        return
    classes = int(y.nunique())
    if classes <= 2:
        return
    weighted = f"weighted average over {classes} classes"
    how = {
        "f1": weighted,
        "precision": weighted,
        "recall": weighted,
        "roc_auc": f"one-vs-rest, macro average over {classes} classes",
    }
    for c in checks:
        if c.check in ("gate", "slice") and c.metric in how:
            c.detail += f" ({how[c.metric]})"


def validate_candidate(ctx: PublishContext, train: TrainResult, evaluation: EvaluateResult) -> ValidateResult:
    import mlflow

    same_candidate("validate", train, evaluation)
    spec = ctx.spec
    ctx.registry.set_run_tag(train.run_id, VALIDATION_TAG, PENDING)
    ctx.emit(SetValidationTag(fqn=spec.fqn, status=PENDING))

    checks = gate_checks(spec.validation, evaluation)
    if evaluation.champion_error:
        for c in checks:
            if c.outcome == "fail" and c.kind in ("maxDropVsChampion", "minGainVsChampion", "maxWorseVsChampion"):
                c.detail += f" ({evaluation.champion_error})"
    name_the_averaging(ctx, train, checks)
    checks.append(smoke_test(ctx, train))
    contract, changes = contract_check(ctx, train.run_id, evaluation.champion_version)
    checks.append(contract)
    checks += metadata_checks(ctx)
    status = PASSED if all(c.passed for c in checks) else FAILED
    result = ValidateResult(
        model_name=spec.name,
        run_id=train.run_id,
        status=status,
        checks=checks,
        champion_version=evaluation.champion_version,
        contract_changes=changes,
    )
    same = status == PASSED and reproduced_champion(
        ctx.registry,
        spec.name,
        evaluation.champion_version,
        train.run_id,
        evaluation.metrics,
        evaluation.champion_metrics,
    )
    if same:  # register and promote then publish nothing (results.NOTHING_NEW)
        result.same_as_champion, result.same_as_champion_detail = evaluation.champion_version, same

    with mlflow.start_run(run_id=train.run_id):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "checks.json"
            path.write_text(json.dumps([c.model_dump() for c in checks], indent=2))
            mlflow.log_artifact(str(path), artifact_path=VALIDATION_FOLDER)
        mlflow.set_tags(
            {
                f"{CHECK_TAG_PREFIX}{i:02d}": f"{c.outcome.upper()} {c.name}: {c.detail}"[:4900]
                for i, c in enumerate(checks)
            }
        )
        mlflow.set_tag(VALIDATION_TAG, status)
    ctx.emit(
        SetValidationTag(fqn=spec.fqn, status=status),
        SetModelProperties(
            fqn=spec.fqn, properties={"validationSummary": result.summary()[:2000], "validatedRunId": train.run_id}
        ),
    )
    (log.info if status == PASSED else log.warning)("%s: run %s %s", spec.name, train.run_id, result.summary())
    if status == FAILED:  # the orchestrators stop here: the rejected candidate's card is logged now
        log_card(ctx, train, evaluation, result)
    return result
