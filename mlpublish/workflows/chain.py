"""The whole chain in one process: train -> evaluate -> validate -> register -> promote."""

from __future__ import annotations

from typing import Any

from mlpublish.deployment.context import PublishContext
from mlpublish.results import ChainResult
from mlpublish.spec import Spec
from mlpublish.steps import evaluate_model, promote_challenger, register_version, train_model, validate_candidate
from mlpublish.workflows.audit import register_for_audit


def run_chain(spec: Spec, *, pipeline: dict[str, str] | None = None, catalog: Any = None) -> ChainResult:
    """Run every step. A FAILED candidate is a result, not an exception: callers decide (the CLI exits 3)."""
    ctx = PublishContext.create(spec, pipeline=pipeline, catalog=catalog)
    try:
        train = train_model(ctx)
        evaluation = evaluate_model(ctx, train)
        validation = validate_candidate(ctx, train, evaluation)
        # a rejected candidate the spec keeps for audit is registered, never aliased; otherwise register
        # decides (challenger when PASSED, a "not registered" record when FAILED)
        registration = register_for_audit(ctx, train, evaluation, validation) or register_version(
            ctx, train, evaluation, validation
        )
        promotion = promote_challenger(ctx, evaluation, validation, registration)
    finally:
        ctx.preflight.warehouse.dispose()
    return ChainResult(
        training=train, evaluation=evaluation, validation=validation, registration=registration, promotion=promotion
    )
