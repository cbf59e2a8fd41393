"""How ``champion`` moves: under the registry lock, alias first, the rest completed idempotently.

Every move re-reads the alias first (compare-and-set). The alias goes first and everything that
follows (history entry, version tags, catalog entity) is completed idempotently, so a retry after a
crash anywhere in between finishes the move instead of repeating it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from mlpublish.catalog import publish
from mlpublish.catalog.events import RecordAliasChange, SetModelProperties
from mlpublish.clock import now_iso
from mlpublish.errors import ApprovalRefused, CatalogUnavailable, GateFailed, NotFound, RegistryConflict
from mlpublish.promotion.approval_rule import check_approver, model_rule
from mlpublish.promotion.champion_entity import champion_contract_events, champion_entity_events, run_tags
from mlpublish.promotion.history import champion_history, record_champion_move, rollback_target
from mlpublish.registry import Registry, provenance
from mlpublish.registry.access import identity
from mlpublish.registry.contract import (
    CATALOG_FQN_TAG,
    CHALLENGER,
    CHAMPION,
    CHAMPION_SINCE_TAG,
    COPIED_FROM_TAG,
    PASSED,
    REQUESTED_BY_TAG,
    ROLLED_BACK_AT_TAG,
    VALIDATION_TAG,
)
from mlpublish.results import PromoteResult

log = logging.getLogger("mlpublish.promote")


def move_champion(
    reg: Registry,
    catalog: Any,
    name: str,
    fqn: str | None,
    version: str,
    previous: str | None,
    action: str,
    reason: str,
    approval: dict[str, str] | None = None,
) -> None:
    """Set the alias, then record the move (with who approved it, when and why). Caller holds the lock.

    The alias goes first: if anything after it fails, the retry finds the alias
    already moved and :func:`complete_move` writes what is missing.
    """
    reg.set_alias(name, CHAMPION, version)
    entry = record_champion_move(reg, name, to=version, frm=previous, action=action, reason=reason, approval=approval)
    _finish(reg, catalog, name, fqn, version, entry)


def complete_move(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str) -> None:
    """``version`` is champion already: make sure its history entry, tags and catalog records exist (idempotent)."""
    history = champion_history(reg, name)
    entry = history[-1] if history and history[-1].get("to") == version else None
    if entry is None:
        entry = record_champion_move(
            reg,
            name,
            to=version,
            frm=history[-1]["to"] if history else None,
            action="recovered",
            reason="recorded by a retry after an interrupted move",
        )
    _finish(reg, catalog, name, fqn, version, entry)


def _finish(reg: Registry, catalog: Any, name: str, fqn: str | None, version: str, entry: dict[str, Any]) -> None:
    if reg.alias_version(name, CHALLENGER) == version:
        reg.delete_alias(name, CHALLENGER)
    mv = reg.get_version(name, version)
    if (mv.tags or {}).get(CHAMPION_SINCE_TAG) != entry["at"]:
        reg.set_version_tag(name, version, CHAMPION_SINCE_TAG, entry["at"])
    if catalog is None or not fqn:
        return
    try:
        events: list[Any] = champion_entity_events(reg, mv)
        events += champion_contract_events(reg, mv, fqn, events)
        events += [
            RecordAliasChange(
                fqn=fqn,
                alias=CHAMPION,
                version=version,
                previous=entry.get("from"),
                action=entry["action"],
                at=entry["at"],
            ),
            SetModelProperties(
                fqn=fqn,
                properties={
                    "championVersion": version,
                    "previousChampionVersion": entry.get("from") or "none",
                    "championRunId": mv.run_id,
                    "aliases": json.dumps(reg.aliases(name), sort_keys=True),
                    "lastPublishedAt": entry["at"],
                    **provenance.champion_properties(run_tags(reg, mv), (mv.tags or {}).get(COPIED_FROM_TAG)),
                    **approval_properties(entry),
                },
            ),
        ]
        publish(catalog, events, f"{name} v{version}")
    except NotFound:
        log.warning("%s: catalog has no entity %s; alias history kept in the registry only", name, fqn)
    except CatalogUnavailable as exc:
        raise CatalogUnavailable(
            f"{CHAMPION} of {name} is v{version} in the registry, but the catalog was not updated ({exc}); "
            f"finish with: mlpublish promote {name} --version {version}"
        ) from exc


def approval_properties(entry: dict[str, Any]) -> dict[str, str]:
    """The catalog's record of who approved the champion's move, when and why (none: nobody had to)."""
    return {
        "championApprovedBy": entry.get("approved_by") or "none",
        "championApprovedAt": entry.get("approved_at") or "none",
        "championApprovalReason": entry.get("why") or "none",
    }


def promote_version(
    reg: Registry,
    catalog: Any,
    name: str,
    version: str,
    reason: str = "manual approval",
    approval: dict[str, str] | None = None,
) -> PromoteResult:
    """A person approves a version: it must exist and be PASSED. Relative gates are the person's call.

    Under ``promotion.approval: required`` only an approval moves it (``approval``: see
    :func:`mlpublish.promotion.approval.approve_version`, which calls this)."""
    mv = reg.get_version(name, version)
    version = str(mv.version)  # "02" -> "2"
    status = (mv.tags or {}).get(VALIDATION_TAG)
    if status != PASSED:
        raise GateFailed(
            f"{name} v{version} has {VALIDATION_TAG}={status or 'unset'}: only PASSED versions can become {CHAMPION}",
            model=name,
            version=str(version),
        )
    if approval is None and model_rule(reg, name).required:
        raise ApprovalRefused(
            f"{name} requires approval (promotion.approval: required): v{version} moves only on an approval "
            f"by someone else than the identity that registered it: mlpublish approve {name} {version}",
            user=identity(),
            model=name,
            version=version,
        )
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current == version:
            complete_move(reg, catalog, name, fqn, version)
            return PromoteResult(
                model_name=name,
                version=version,
                promoted=True,
                mode="manual",
                champion_before=current,
                champion_after=current,
                reason=f"v{version} is already {CHAMPION}",
            )
        move_champion(reg, catalog, name, fqn, version, current, "manual", reason, approval)
    return PromoteResult(
        model_name=name,
        version=version,
        promoted=True,
        mode="manual",
        champion_before=current,
        champion_after=version,
        reason=f"{reason}: {CHAMPION} v{current or 'none'} -> v{version}",
    )


def rollback_champion(reg: Registry, catalog: Any, name: str) -> PromoteResult:
    """Restore the champion that the current one replaced (walks back on repeated rollbacks).

    Under ``promotion.approval: required`` the identity rolling back must be an approver, and not the one
    that registered the version it restores; it is recorded as the move's approver."""
    rule = model_rule(reg, name)
    fqn = reg.model_tags(name).get(CATALOG_FQN_TAG)
    with reg.lock(name):
        current = reg.alias_version(name, CHAMPION)
        if current is None:
            raise NotFound(f"{name} has no {CHAMPION}: nothing to roll back")
        target = rollback_target(champion_history(reg, name), current)
        if target is None:
            raise RegistryConflict(f"{name}: no earlier {CHAMPION} recorded before v{current}; nothing to roll back to")
        approval = None
        if rule.required:
            who = identity()
            requested_by = (reg.get_version(name, target).tags or {}).get(REQUESTED_BY_TAG)
            check_approver(rule, name, target, who, requested_by, request=False)
            approval = {"approved_by": who, "approved_at": now_iso(), "why": f"rollback of v{current}"}
        reg.set_version_tag(name, current, ROLLED_BACK_AT_TAG, now_iso())
        move_champion(reg, catalog, name, fqn, target, current, "rollback", f"rollback of v{current}", approval)
    log.info("%s: rolled back %s v%s -> v%s", name, CHAMPION, current, target)
    return PromoteResult(
        model_name=name,
        version=target,
        promoted=True,
        mode="rollback",
        champion_before=current,
        champion_after=target,
        reason=f"{CHAMPION} rolled back from v{current} to v{target}",
    )
