"""Model cards on MLflow: logged on the training run once the outcome is known, read back for a candidate.

The validate step logs the card of a rejected candidate (the orchestrators stop
there); the register step logs it again with the registered version. Logging
overwrites the same two artifacts, so a retried step leaves one card. The
champion's card (with its current rollback section) is :func:`mlpublish.promotion.champion_card`.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from mlpublish.deployment.context import PublishContext
from mlpublish.errors import MlpublishError
from mlpublish.model_card import build_card, render_html
from mlpublish.redact import scrub
from mlpublish.registry.contract import CARD_HTML, CARD_MARKDOWN
from mlpublish.results import EvaluateResult, RegisterResult, TrainResult, ValidateResult
from mlpublish.steps.data_contract import candidate_contract

log = logging.getLogger("mlpublish.card")
PLOT_CAPTIONS = {
    "roc_curve.png": "ROC curve on the held-out rows: candidate vs champion (two classes), one-vs-rest per class (more)",
    "residuals.png": "Residuals of the candidate on the held-out rows",
    "confusion_matrix.png": "Confusion matrix of the candidate on the held-out rows",
    "reliability.png": "Reliability plot: predicted probability vs observed frequency on the held-out rows",
    "importances.png": "Permutation importance: candidate vs champion on the held-out rows",
}


def log_card(
    ctx: PublishContext,
    train: TrainResult,
    evaluation: EvaluateResult,
    validation: ValidateResult,
    registration: RegisterResult | None = None,
) -> str:
    """Build the card, log it as markdown and HTML on the training run; returns the markdown."""
    reg = ctx.registry
    tags = dict(reg.run(train.run_id).data.tags)
    try:
        contract = candidate_contract(ctx, train.run_id)
    except Exception as exc:  # noqa: BLE001 (the card says none was read; the contract check reports why)
        log.warning(
            "%s: data contract of run %s left out of the card: %s", ctx.spec.name, train.run_id, scrub(str(exc))
        )
        contract = None
    markdown = build_card(ctx.spec, train, evaluation, validation, registration, tags, contract)
    title = (
        f"{ctx.spec.name} v{registration.version}"
        if registration and registration.version
        else f"{ctx.spec.name} run {train.run_id}"
    )
    reg.log_text(train.run_id, markdown, CARD_MARKDOWN)
    page = render_html(markdown, f"Model card: {title}", card_plots(reg, evaluation))
    reg.log_text(train.run_id, page, CARD_HTML)
    log.info("%s: model card of %s logged as %s and %s", ctx.spec.name, title, CARD_MARKDOWN, CARD_HTML)
    ctx.cache[("card", train.run_id)] = markdown
    return markdown


def card_plots(reg: Any, evaluation: EvaluateResult) -> dict[str, bytes]:
    """The evaluation's plots for the HTML card (caption -> PNG); one that cannot be read is left out."""
    out: dict[str, bytes] = {}
    for path in evaluation.artifacts:
        caption = PLOT_CAPTIONS.get(path.rsplit("/", 1)[-1])
        if caption is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out[caption] = Path(reg.download_artifacts(evaluation.run_id, path, tmp)).read_bytes()
            except (MlpublishError, OSError) as exc:
                log.warning("%s: plot %s left out of the card: %s", evaluation.model_name, path, scrub(str(exc)))
    return out


def candidate_card(ctx: PublishContext, run_id: str) -> str | None:
    """The card a step of this context just logged for ``run_id`` (else read back from MLflow)."""
    return ctx.cache.get(("card", run_id)) or load_card(ctx.registry, run_id)


def card_uri(run_id: str) -> str:
    return f"runs:/{run_id}/{CARD_MARKDOWN}"


def load_card(reg: Any, run_id: str) -> str | None:
    """The markdown card logged on ``run_id``, or None when that run has none (trained before cards existed)."""
    return reg.read_text(run_id, CARD_MARKDOWN)
