"""register: one registered version per run (retries return the same one), ``challenger`` on PASSED."""

from __future__ import annotations

import json
import logging

from mlpublish.catalog.events import SetModelProperties
from mlpublish.deployment.context import PublishContext
from mlpublish.registry.contract import (
    CATALOG_FQN_TAG,
    CHALLENGER,
    COMPARED_CHAMPION_TAG,
    DATASET_DIGEST_TAG,
    METRICS_TAG,
    PASSED,
    RUN_ID_TAG,
    TRAINING_FQN_TAG,
    VALIDATION_TAG,
)
from mlpublish.results import NOTHING_NEW, EvaluateResult, RegisterResult, TrainResult, ValidateResult, same_candidate
from mlpublish.steps.card import card_uri, log_card

log = logging.getLogger("mlpublish.register")


def register_version(
    ctx: PublishContext, train: TrainResult, evaluation: EvaluateResult, validation: ValidateResult
) -> RegisterResult:
    same_candidate("register", train, evaluation, validation)
    spec, reg = ctx.spec, ctx.registry
    if validation.nothing_new:  # the champion again: a new version of it would only churn the registry
        reason = f"{NOTHING_NEW}: {validation.same_as_champion_detail}"
        log.info("%s: %s", spec.name, reason)
        return RegisterResult(
            model_name=spec.name,
            run_id=train.run_id,
            status=validation.status,
            version=None,
            created=False,
            reason=reason,
            same_as_champion=validation.same_as_champion,
        )
    if validation.status != PASSED and not spec.validation.registerFailed:
        reason = (
            f"run {train.run_id} FAILED validation: not registered "
            "(set validation.registerFailed: true to keep FAILED candidates for audit)"
        )
        log.warning("%s: %s", spec.name, reason)
        result = RegisterResult(
            model_name=spec.name,
            run_id=train.run_id,
            status=validation.status,
            version=None,
            created=False,
            reason=reason,
            card_uri=card_uri(train.run_id),
        )
        log_card(ctx, train, evaluation, validation, result)
        return result

    reg.ensure_registered_model(spec.name, spec.description)
    tags = {
        VALIDATION_TAG: validation.status,
        RUN_ID_TAG: train.run_id,
        TRAINING_FQN_TAG: train.training_fqn,
        DATASET_DIGEST_TAG: train.dataset_digest,
        METRICS_TAG: json.dumps({k: round(v, 6) for k, v in sorted(evaluation.metrics.items())}),
        COMPARED_CHAMPION_TAG: evaluation.champion_version or "none",
    }
    # Under the model's lock, so two retries of the same task racing each other still make one version.
    with reg.lock(spec.name):
        existing = reg.version_for_run(spec.name, train.run_id)
        if existing is not None:
            mv, created = existing, False
        else:
            mv = reg.create_version(spec.name, train.model_uri, train.run_id, train.model_id, tags, spec.description)
            created = True
        version = str(mv.version)
        for key, value in tags.items():  # a retry after a crash between create and tag completes the tags
            if (mv.tags or {}).get(key) != value:
                reg.set_version_tag(spec.name, version, key, value)
        model_tags = reg.model_tags(spec.name)
        if model_tags.get(CATALOG_FQN_TAG) != spec.fqn:
            reg.set_model_tag(spec.name, CATALOG_FQN_TAG, spec.fqn)
        aliases = []
        if validation.status == PASSED:
            if reg.alias_version(spec.name, CHALLENGER) != version:
                reg.set_alias(spec.name, CHALLENGER, version)
            aliases.append(CHALLENGER)

    current = reg.aliases(spec.name)
    ctx.emit(
        SetModelProperties(
            fqn=spec.fqn,
            properties={
                "latestVersion": version,
                "aliases": json.dumps(current, sort_keys=True),
            },
        )
    )
    log.info(
        "%s: %s version %s for run %s%s",
        spec.name,
        "registered" if created else "found existing",
        version,
        train.run_id,
        f" (alias {CHALLENGER})" if aliases else " (no alias: FAILED, kept for audit)",
    )
    result = RegisterResult(
        model_name=spec.name,
        run_id=train.run_id,
        status=validation.status,
        version=version,
        created=created,
        aliases=aliases,
        reason="" if validation.status == PASSED else "registered for audit only",
        card_uri=card_uri(train.run_id),
    )
    log_card(ctx, train, evaluation, validation, result)
    return result
