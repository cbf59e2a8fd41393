"""Keeping a rejected candidate for audit: one policy for the CLI chain, the Airflow operator and the Dagster asset.

A candidate that FAILED validation is never aliased. With ``validation.registerFailed: true``
the spec asks to keep it anyway, as a registered version tagged FAILED, so that an auditor
finds every candidate in the registry. The orchestrators stop a rejected candidate before
their register task or asset runs, so they call this at validation; the CLI chain calls it
before its own register step.
"""

from __future__ import annotations

from mlpublish import steps
from mlpublish.deployment.context import PublishContext
from mlpublish.results import EvaluateResult, RegisterResult, TrainResult, ValidateResult


def register_for_audit(
    ctx: PublishContext, train: TrainResult, evaluation: EvaluateResult, validation: ValidateResult
) -> RegisterResult | None:
    """The audit version of a rejected candidate the spec keeps; None for a PASSED candidate (the register
    step's job) or when the spec does not ask. Idempotent, as register is: a retry finds the same version."""
    if validation.status == "PASSED" or not ctx.spec.validation.registerFailed:
        return None
    return steps.register_version(ctx, train, evaluation, validation)
