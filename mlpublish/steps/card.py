"""Model cards on MLflow: logged on the training run once the outcome is known, read back for the champion.

The validate step logs the card of a rejected candidate (the orchestrators stop
there); the register step logs it again with the registered version. Logging
overwrites the same two artifacts, so a retried step leaves one card.
"""

from __future__ import annotations

import logging
from typing import Any

from mlpublish import provenance
from mlpublish.card import CARD_FOLDER, CARD_HTML, CARD_MARKDOWN, build_card, render_html, rollback_section, with_copy_note, with_rollback
from mlpublish.context import PublishContext
from mlpublish.errors import CatalogUnavailable
from mlpublish.redact import scrub
from mlpublish.results import EvaluateResult, RegisterResult, TrainResult, ValidateResult

log = logging.getLogger("mlpublish.card")


def log_card(ctx: PublishContext, train: TrainResult, evaluation: EvaluateResult, validation: ValidateResult,
             registration: RegisterResult | None = None) -> str:
    """Build the card, log it as markdown and HTML on the training run; returns the markdown."""
    client = ctx.registry.client
    tags = dict(client.get_run(train.run_id).data.tags)
    markdown = build_card(ctx.spec, train, evaluation, validation, registration, tags)
    title = f"{ctx.spec.name} v{registration.version}" if registration and registration.version else \
        f"{ctx.spec.name} run {train.run_id}"
    client.log_text(train.run_id, markdown, CARD_MARKDOWN)
    client.log_text(train.run_id, render_html(markdown, f"Model card: {title}"), CARD_HTML)
    log.info("%s: model card of %s logged as %s and %s", ctx.spec.name, title, CARD_MARKDOWN, CARD_HTML)
    ctx.cache[("card", train.run_id)] = markdown
    return markdown


def candidate_card(ctx: PublishContext, run_id: str) -> str | None:
    """The card a step of this context just logged for ``run_id`` (else read back from MLflow)."""
    return ctx.cache.get(("card", run_id)) or load_card(ctx.registry, run_id)


def card_uri(run_id: str) -> str:
    return f"runs:/{run_id}/{CARD_MARKDOWN}"


def load_card(reg: Any, run_id: str) -> str | None:
    """The markdown card logged on ``run_id``, or None when that run has none (trained before cards existed)."""
    if CARD_MARKDOWN not in {a.path for a in reg.client.list_artifacts(run_id, CARD_FOLDER)}:
        return None
    with open(reg.client.download_artifacts(run_id, CARD_MARKDOWN), encoding="utf-8") as fh:
        return fh.read()


def champion_card(reg: Any, mv: Any) -> str | None:
    """The card of ``mv`` as champion: its logged card with the rollback section as it stands now
    (what ``mlpublish rollback`` would restore, from the registry's champion history)."""
    from mlpublish.steps.promote import rollback_target
    from mlpublish.steps.register import CATALOG_RUN_TAG

    # a version copied from another environment: its copy run carries the source run's artifacts
    run_id = (mv.tags or {}).get(CATALOG_RUN_TAG) or mv.run_id
    try:
        markdown = load_card(reg, run_id)
    except Exception as exc:
        raise CatalogUnavailable(scrub(f"cannot read the model card of {mv.name} v{mv.version} "
                                       f"(run {run_id}, {CARD_MARKDOWN}): {exc}")) from exc
    if markdown is None:
        log.warning("%s v%s: its run has no model card; the catalog description is left as it is", mv.name, mv.version)
        return None
    version = str(mv.version)
    history = reg.history(mv.name)
    since = next((e.get("at") for e in reversed(history) if e.get("to") == version), None)
    section = rollback_section(mv.name, version, "PASSED", rollback_target(history, version), champion=True, since=since)
    origin = (mv.tags or {}).get(provenance.COPIED_FROM_TAG)
    if origin:
        markdown = with_copy_note(markdown, mv.name, version, origin)
    return with_rollback(markdown, section)
