"""promote on live labels (``promotion.mode: shadow``): the challenger replaces the champion once it has won on
live labels, under the same lock, history, approval rule and rollback as every other move.

Run after the monitor has recorded the live windows (``mlpublish monitor``, the Airflow monitor DAG, the
Dagster monitoring job). The decision is :func:`mlpublish.promotion.shadow.decide_on_live_labels`; its
evidence goes on the challenger's version (tags), its training run (the whole evidence as JSON), the catalog
entity (``shadow*`` properties) and, once it is champion, its model card ("Promoted on live labels").

* no challenger (or it was promoted already): nothing to decide, nothing written;
* the challenger has not won yet: it stays challenger, the decision and its evidence are recorded;
* it won, ``promotion.approval: required``: it is marked WON and an approver is asked (``mlpublish approve``,
  the Airflow approval task of the monitor DAG, the Dagster approval sensor); nothing moves here;
* it won: ``champion`` moves under the registry lock (history entry ``shadow``: ``mlpublish rollback`` undoes
  it), unless the champion moved since the windows were measured (then they compared another champion).

Idempotent: re-running after a promotion finds no challenger and does nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from mlpublish.catalog.events import SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.deployment.context import PublishContext
from mlpublish.promotion.approval_rule import ApprovalRule, record_rule, request_approval
from mlpublish.promotion.champion_entity import artifact_run_id
from mlpublish.promotion.live_evidence import catalog_properties, compact_evidence, decision_line, window_checks
from mlpublish.promotion.moves import complete_move, move_champion
from mlpublish.promotion.shadow import decide_on_live_labels
from mlpublish.registry.contract import (
    CHALLENGER,
    CHAMPION,
    LIVE_EVIDENCE_ARTIFACT,
    PASSED,
    SHADOW_DECISION_TAG,
    SHADOW_EVIDENCE_TAG,
    SHADOW_PROMOTED,
    SHADOW_TAG,
    SHADOW_WON,
    VALIDATION_TAG,
)
from mlpublish.registry.live_metrics import live_windows
from mlpublish.results import LivePromotionResult, PromoteResult, ShadowDecision

log = logging.getLogger("mlpublish.promote")


def promote_on_live_labels(ctx: PublishContext, now: datetime | None = None) -> LivePromotionResult:
    """Decide on the recorded live windows and act on the decision (see the module). ``now``: windows ending
    after it are not evidence yet (default: every recorded window)."""
    spec, reg, name = ctx.spec, ctx.registry, ctx.spec.name
    champion, challenger = reg.alias_version(name, CHAMPION), reg.alias_version(name, CHALLENGER)
    base = dict(model_name=name, challenger=challenger, champion_before=champion, champion_after=champion)
    if spec.promotion.mode != "shadow":
        reason = f"promotion.mode is {spec.promotion.mode}, not shadow: nothing is promoted on live labels"
        return LivePromotionResult(**base, outcome="NOT_SHADOW", promoted=False, reason=reason)
    if challenger is None:
        reason = f"{name} has no {CHALLENGER}: nothing to decide on live labels"
        return LivePromotionResult(**base, outcome="NO_CHALLENGER", promoted=False, reason=reason)
    if champion is None or champion == challenger:
        if champion == challenger:  # a move interrupted before the challenger alias was dropped: finish it
            with reg.lock(name):
                complete_move(reg, ctx.catalog, name, spec.fqn, challenger)
            reason = f"v{challenger} is {CHAMPION} already (an earlier move completed)"
            return LivePromotionResult(**base, outcome="PROMOTED", promoted=False, reason=reason)
        reason = f"{name} has no {CHAMPION} for v{challenger} to shadow: the chain makes the first one champion"
        return LivePromotionResult(**base, outcome="NO_CHALLENGER", promoted=False, reason=reason)
    mv = reg.get_version(name, challenger)
    tags, base["challenger_run_id"] = dict(mv.tags or {}), mv.run_id
    if tags.get(VALIDATION_TAG) != PASSED:
        reason = (
            f"{CHALLENGER} v{challenger} has {VALIDATION_TAG}={tags.get(VALIDATION_TAG) or 'unset'}: never promoted"
        )
        return LivePromotionResult(**base, outcome="REFUSED", promoted=False, reason=reason)
    decision = decide(ctx, champion, challenger, now)
    at = now_iso()
    changed = record_decision(ctx, decision, tags, at)
    log.info("%s: %s", name, decision.reason)
    if not decision.promote:
        return LivePromotionResult(**base, outcome="WAITING", promoted=False, reason=decision.reason, decision=decision)
    if changed or SHADOW_EVIDENCE_TAG not in tags:
        record_evidence(ctx, decision, tags, at)
    rule = ApprovalRule.of(spec.promotion)
    record_rule(reg, name, rule)
    if rule.required:
        if tags.get(SHADOW_TAG) != SHADOW_WON:
            reg.set_version_tag(name, challenger, SHADOW_TAG, SHADOW_WON)  # an approval is accepted from now on
        request_approval(reg, name, challenger)  # the chain's request stands (it names who registered it)
        reason = (
            f"{decision.reason}; promotion.approval is required: v{challenger} waits as {CHALLENGER} for "
            f"{rule.describe()}; approve with: mlpublish approve {name} {challenger}"
        )
        return LivePromotionResult(
            **base, outcome="APPROVAL_REQUESTED", promoted=False, reason=reason, decision=decision
        )
    return move_on_decision(ctx, decision, base)


def decide(ctx: PublishContext, champion: str, challenger: str, now: datetime | None) -> ShadowDecision:
    """The decision on the windows recorded for the two current versions."""
    spec, reg = ctx.spec, ctx.registry
    shadow = spec.promotion.shadow

    def windows(role: str, version: str) -> list:
        return live_windows(reg, spec.experiment_name, spec.name, role, version, now=now)

    return decide_on_live_labels(
        windows(CHAMPION, champion),
        windows(CHALLENGER, challenger),
        champion_version=champion,
        challenger_version=challenger,
        metric=ctx.preflight.select_by,
        gates=spec.validation.gates,
        window_n=shadow.windowN,
        window_m=shadow.windowM,
        min_labelled_rows=shadow.minLabelledRows,
    )


def record_decision(ctx: PublishContext, decision: ShadowDecision, tags: dict[str, str], at: str) -> bool:
    """The decision on the challenger's version and on the catalog entity, when it changed (a monitor run that
    recorded no new window writes nothing). True when it changed."""
    line = decision_line(decision)
    if tags.get(SHADOW_DECISION_TAG) == line:  # no new window since: nothing new to say
        return False
    ctx.registry.set_version_tag(ctx.spec.name, decision.challenger_version, SHADOW_DECISION_TAG, line)
    if ctx.catalog.get(ctx.spec.fqn) is not None:  # as the monitor: no entity yet (no chain published it), no record
        ctx.emit(SetModelProperties(fqn=ctx.spec.fqn, properties=catalog_properties(decision, at)))
    return True


def record_evidence(ctx: PublishContext, decision: ShadowDecision, tags: dict[str, str], at: str) -> None:
    """A winning decision's evidence: whole on the training run, compact on the version (what the card shows)."""
    reg, name, version = ctx.registry, ctx.spec.name, decision.challenger_version
    mv = reg.get_version(name, version)
    reg.log_text(
        artifact_run_id(mv), json.dumps({"at": at, **decision.model_dump(mode="json")}), LIVE_EVIDENCE_ARTIFACT
    )
    compact = compact_evidence(decision, at)
    if tags.get(SHADOW_EVIDENCE_TAG) != compact:
        reg.set_version_tag(name, version, SHADOW_EVIDENCE_TAG, compact)


def move_on_decision(ctx: PublishContext, decision: ShadowDecision, base: dict) -> LivePromotionResult:
    """``champion`` to the challenger under the lock, if the champion is still the one it was compared with."""
    spec, reg, name = ctx.spec, ctx.registry, ctx.spec.name
    version = decision.challenger_version
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current != decision.champion_version:
            reason = (
                f"{CHAMPION} moved from v{decision.champion_version} to v{current or 'none'} while v{version} was "
                f"judged: its live windows compared another {CHAMPION}; nothing moved"
            )
            log.warning("%s: %s", name, reason)
            return LivePromotionResult(
                **{**base, "champion_before": current, "champion_after": current},
                outcome="REFUSED",
                promoted=False,
                reason=reason,
                decision=decision,
            )
        reason = f"promoted on live labels: {decision.reason}"
        move_champion(reg, ctx.catalog, name, spec.fqn, version, current, "shadow", reason)
        reg.set_version_tag(name, version, SHADOW_TAG, SHADOW_PROMOTED)
    log.info("%s: %s -> v%s (%s)", name, CHAMPION, version, reason)
    promotion = PromoteResult(
        model_name=name, version=version, promoted=True, mode="shadow", champion_before=current,
        champion_after=version, reason=reason, checks=window_checks(decision),
    )  # fmt: skip
    return LivePromotionResult(
        **{**base, "champion_after": version},
        outcome="PROMOTED",
        promoted=True,
        reason=reason,
        decision=decision,
        promotion=promotion,
    )
