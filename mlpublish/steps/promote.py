"""promote: move ``champion`` to a challenger that still beats it (the chain's last publishing step).

The move itself, its history, manual promotion and rollback are in
:mod:`mlpublish.promotion`. If the champion moved since validation, the candidate
is compared again with the new champion on its own held-out rows, by every gate
of the spec (per-slice gates and fairness bounds included), and its data contract
with the new champion's; if it no longer passes them, the move is refused and
nothing changes.
"""

from __future__ import annotations

import logging

from mlpublish.deployment.context import PublishContext
from mlpublish.promotion import champion_history, complete_move, move_champion, promotion_reason
from mlpublish.promotion.approval_rule import ApprovalRule, record_rule, request_approval
from mlpublish.registry.contract import CHALLENGER, CHAMPION, PASSED, SHADOW_TAG, SHADOWING
from mlpublish.results import EvaluateResult, PromoteResult, RegisterResult, ValidateResult, same_candidate
from mlpublish.steps.data_contract import contract_check
from mlpublish.steps.evaluate import compare_with_champion
from mlpublish.steps.validate import gate_checks

log = logging.getLogger("mlpublish.promote")


def promote_challenger(
    ctx: PublishContext, evaluation: EvaluateResult, validation: ValidateResult, registration: RegisterResult
) -> PromoteResult:
    same_candidate("promote", evaluation, validation, registration)
    spec, reg, name = ctx.spec, ctx.registry, ctx.spec.name
    version = registration.version
    mode = spec.promotion.mode
    base = dict(model_name=name, version=version, mode=mode)
    if registration.same_as_champion is not None:
        current = reg.alias_version(name, CHAMPION)
        return PromoteResult(
            **base,
            promoted=False,
            champion_before=current,
            champion_after=current,
            reason=registration.reason,
            same_as_champion=registration.same_as_champion,
        )
    if version is None or validation.status != PASSED:
        current = reg.alias_version(name, CHAMPION)
        return PromoteResult(
            **base,
            promoted=False,
            champion_before=current,
            champion_after=current,
            reason=f"candidate run {validation.run_id} is {validation.status}: never promoted",
        )
    rule = ApprovalRule.of(spec.promotion)
    record_rule(reg, name, rule)
    waiting = shadow_challenger(ctx, version, rule)
    if waiting is not None:
        return waiting
    if rule.required:
        request_approval(reg, name, version)
        current = reg.alias_version(name, CHAMPION)
        reason = (
            f"promotion.approval is required: v{version} waits as {CHALLENGER} for {rule.describe()}; "
            f"approve with: mlpublish approve {name} {version}"
        )
        log.info("%s: %s", name, reason)
        return PromoteResult(
            **{**base, "mode": "manual"}, promoted=False, champion_before=current, champion_after=current, reason=reason
        )
    if mode == "manual":
        current = reg.alias_version(name, CHAMPION)
        reason = (
            f"promotion.mode is manual: v{version} waits as {CHALLENGER}; "
            f"approve with: mlpublish promote {name} --version {version}"
        )
        log.info("%s: %s", name, reason)
        return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current, reason=reason)

    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current is not None and current != version and mode == "shadow":  # a champion appeared meanwhile
            waiting = shadow_challenger(ctx, version, rule)
            if waiting is not None:
                return waiting
        if current == version:
            complete_move(reg, ctx.catalog, name, spec.fqn, version)
            return PromoteResult(
                **base,
                promoted=True,
                champion_before=current,
                champion_after=current,
                reason=f"v{version} is already {CHAMPION} (nothing to move)",
            )
        earlier = next((e for e in champion_history(reg, name) if version in (e.get("to"), e.get("from"))), None)
        if earlier is not None:  # a retried task must not undo a rollback or a newer champion
            reason = (
                f"v{version} was champion before ({earlier['action']} at {earlier['at']}) and has since been "
                f"replaced by v{current}: "
                f"a retry does not move it back (to do it on purpose: mlpublish promote {name} --version {version})"
            )
            return PromoteResult(**base, promoted=False, champion_before=current, champion_after=current, reason=reason)
        compared = evaluation.champion_version
        checks = []
        if current is not None and current != compared:
            recompared, err = compare_with_champion(ctx, evaluation, version, current)
            if err:
                reason = f"champion moved from v{compared or 'none'} to v{current} after validation and {err}: refused"
                return PromoteResult(
                    **base, promoted=False, champion_before=current, champion_after=current, reason=reason
                )
            checks = gate_checks(spec.validation, recompared)
            checks.append(contract_check(ctx, validation.run_id, current)[0])  # the new champion's contract too
            failed = [c for c in checks if not c.passed]
            if failed:
                reason = (
                    f"champion moved from v{compared or 'none'} to v{current} after validation and v{version} "
                    f"no longer beats it: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
                )
                log.warning("%s: %s", name, reason)
                return PromoteResult(
                    **base,
                    promoted=False,
                    champion_before=current,
                    champion_after=current,
                    reason=reason,
                    checks=checks,
                )
        if current is None:
            reason = (
                f"first {CHAMPION} of {name}: promoted on absolute gates alone"
                if compared is None
                else f"champion v{compared} was removed meanwhile; v{version} passed its gates"
            )
        else:
            reason = promotion_reason(version, current, checks or validation.checks)
        if mode == "shadow":  # the first champion: there is nothing to shadow yet
            reason = f"promotion.mode is shadow, but {name} has no {CHAMPION} to shadow yet: {reason}"
        move_champion(reg, ctx.catalog, name, spec.fqn, version, current, "promote", reason)
    log.info("%s: %s -> v%s (%s)", name, CHAMPION, version, reason)
    return PromoteResult(
        **base, promoted=True, champion_before=current, champion_after=version, reason=reason, checks=checks
    )


def shadow_challenger(ctx: PublishContext, version: str, rule: ApprovalRule) -> PromoteResult | None:
    """``promotion.mode: shadow`` with a champion: ``version`` stays challenger (the register step set the alias),
    tagged SHADOWING, and scores beside the champion until it wins on live labels
    (:func:`mlpublish.steps.promote_live.promote_on_live_labels`). Under ``promotion.approval: required`` the
    request names who registered it now; an approval is refused until it has won. None: not this case."""
    spec, reg, name = ctx.spec, ctx.registry, ctx.spec.name
    current = reg.alias_version(name, CHAMPION)
    if spec.promotion.mode != "shadow" or current is None or current == version:
        return None
    tags = dict(reg.get_version(name, version).tags or {})
    if SHADOW_TAG not in tags:  # a retry keeps what the live decision wrote since
        reg.set_version_tag(name, version, SHADOW_TAG, SHADOWING)
    if rule.required:
        request_approval(reg, name, version)
    shadow = spec.promotion.shadow
    reason = (
        f"promotion.mode is shadow: v{version} is {CHALLENGER} and scores beside {CHAMPION} v{current} "
        f"(scoring.shadow); it becomes {CHAMPION} once it wins {shadow.windowN} of the last {shadow.windowM} "
        f"labelled windows on live labels (mlpublish monitor)"
        + (f", then on approval by {rule.describe()}" if rule.required else "")
    )
    log.info("%s: %s", name, reason)
    return PromoteResult(
        model_name=name,
        version=version,
        mode="shadow",
        promoted=False,
        champion_before=current,
        champion_after=current,
        reason=reason,
        shadow=True,
    )
