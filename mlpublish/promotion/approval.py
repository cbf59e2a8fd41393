"""Four eyes on the champion: with ``promotion.approval: required`` the identity that trained and registered
a version never makes it champion; an approver does, and who, when and why is recorded.

The rule lives in the registry, where every path reads it (the CLI, Airflow, Dagster, rollback): the chain
writes it on the registered model and an approval request on the version
(:mod:`mlpublish.promotion.approval_rule`). :func:`approve_version` checks the approver against the request and the rule,
records the approval on the version, then moves ``champion`` under the fenced lock; the move's history
entry, the version tags, the catalog and the notifications carry who approved, when and why.

MLflow's own permissions decide the rest: the approver's calls are made with the approver's credentials, so
an identity without MANAGE on the model is refused by the server (:class:`~mlpublish.errors.AccessDenied`,
before anything moves). MLflow has one permission for every alias of a model, so an identity with EDIT
could move ``champion`` with raw MLflow calls: the four-eyes rule holds on mlpublish's paths
(docs/permissions.md says how to keep trainers to EDIT and approvers to MANAGE).
"""

from __future__ import annotations

import logging
from typing import Any

from mlpublish.clock import now_iso
from mlpublish.errors import ApprovalRefused
from mlpublish.promotion.approval_rule import ApprovalRule, check_approver, check_live_win, model_rule
from mlpublish.promotion.moves import promote_version
from mlpublish.registry import Registry
from mlpublish.registry.access import identity
from mlpublish.registry.contract import (
    APPROVAL_APPROVED,
    APPROVAL_PROMOTED,
    APPROVAL_REASON_TAG,
    APPROVAL_TAG,
    APPROVED_AT_TAG,
    APPROVED_BY_TAG,
    REQUESTED_BY_TAG,
)

__all__ = ["ApprovalRule", "approve_version", "approved_waiting", "promote_approved"]

log = logging.getLogger("mlpublish.promote")


def approve_version(
    reg: Registry,
    catalog: Any,
    name: str,
    version: str,
    *,
    reason: str,
    approver: str | None = None,
    move: bool = True,
) -> Any:
    """``approver`` (default: this process's MLflow identity) approves ``version``: checked, recorded, and
    (``move``) made champion. Without ``move`` the approval waits for whoever promotes approved versions
    (the Dagster approval sensor): returns None then, else the PromoteResult."""
    approver = approver or identity()
    mv = reg.get_version(name, version)
    version, tags = str(mv.version), dict(mv.tags or {})
    check_approver(model_rule(reg, name), name, version, approver, tags.get(REQUESTED_BY_TAG))
    check_live_win(name, version, tags, approver)
    if tags.get(APPROVAL_TAG) not in (APPROVAL_APPROVED, APPROVAL_PROMOTED) or tags.get(APPROVED_BY_TAG) != approver:
        for key, value in (
            (APPROVED_BY_TAG, approver),
            (APPROVED_AT_TAG, now_iso()),
            (APPROVAL_REASON_TAG, (reason or "approved")[:200]),
            (APPROVAL_TAG, APPROVAL_APPROVED),  # last: the approval is complete once it says APPROVED
        ):
            reg.set_version_tag(name, version, key, value)
    log.info("%s: v%s approved by %s", name, version, approver)
    return promote_approved(reg, catalog, name, version) if move else None


def promote_approved(reg: Registry, catalog: Any, name: str, version: str) -> Any:
    """Make an approved ``version`` champion on its recorded approval, which is checked again against the
    rule (whoever runs this, e.g. a Dagster sensor's job, only carries out what the approver decided)."""
    tags = dict(reg.get_version(name, version).tags or {})
    approver = tags.get(APPROVED_BY_TAG, "")
    if tags.get(APPROVAL_TAG) not in (APPROVAL_APPROVED, APPROVAL_PROMOTED) or not approver:
        raise ApprovalRefused(
            f"{name} v{version} is not approved ({APPROVAL_TAG}={tags.get(APPROVAL_TAG) or 'unset'}): "
            f"approve it with: mlpublish approve {name} {version}",
            user=identity(),
            model=name,
            version=version,
        )
    check_approver(model_rule(reg, name), name, version, approver, tags.get(REQUESTED_BY_TAG))
    check_live_win(name, version, tags, approver)
    approval = {
        "approved_by": approver,
        "approved_at": tags.get(APPROVED_AT_TAG, ""),
        "why": tags.get(APPROVAL_REASON_TAG, ""),
    }
    result = promote_version(
        reg, catalog, name, version, reason=f"approved by {approver}: {approval['why']}", approval=approval
    )
    if tags.get(APPROVAL_TAG) != APPROVAL_PROMOTED:
        reg.set_version_tag(name, version, APPROVAL_TAG, APPROVAL_PROMOTED)
    return result


def approved_waiting(reg: Registry, name: str) -> list[str]:
    """Versions approved but not promoted yet (what the Dagster approval sensor promotes), oldest first."""
    return [str(mv.version) for mv in reg.versions(name) if (mv.tags or {}).get(APPROVAL_TAG) == APPROVAL_APPROVED]
