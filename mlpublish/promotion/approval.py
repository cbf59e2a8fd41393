"""Four eyes on the champion: with ``promotion.approval: required`` the identity that trained and registered
a version never makes it champion; an approver does, and who, when and why is recorded.

The rule lives in the registry, where every path reads it (the CLI, Airflow, Dagster, rollback): the chain
writes it on the registered model (:func:`record_rule`) and an approval request on the version
(:func:`request_approval`). :func:`approve_version` checks the approver against the request and the rule,
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
from dataclasses import dataclass
from typing import Any

from mlpublish.clock import now_iso
from mlpublish.errors import ApprovalRefused
from mlpublish.registry import Registry
from mlpublish.registry.access import identity
from mlpublish.registry.contract import (
    APPROVAL_APPROVED,
    APPROVAL_PENDING,
    APPROVAL_PROMOTED,
    APPROVAL_REASON_TAG,
    APPROVAL_RULE_TAG,
    APPROVAL_TAG,
    APPROVED_AT_TAG,
    APPROVED_BY_TAG,
    APPROVERS_TAG,
    REQUESTED_AT_TAG,
    REQUESTED_BY_TAG,
)

log = logging.getLogger("mlpublish.promote")


@dataclass(frozen=True)
class ApprovalRule:
    """``required``: four eyes; ``approvers``: who may approve (empty: whoever MLflow lets move the alias)."""

    required: bool = False
    approvers: tuple[str, ...] = ()

    @classmethod
    def of(cls, promotion: Any) -> ApprovalRule:
        return cls(promotion.approval == "required", tuple(promotion.approvers))

    def describe(self) -> str:
        return ", ".join(self.approvers) if self.approvers else "an identity with MANAGE on the model"


def record_rule(reg: Registry, name: str, rule: ApprovalRule) -> None:
    """Write the spec's rule on the registered model (only what changed: a re-run writes nothing)."""
    tags = reg.model_tags(name)
    wanted = {APPROVAL_RULE_TAG: "required" if rule.required else "none", APPROVERS_TAG: ",".join(rule.approvers)}
    for key, value in wanted.items():
        if tags.get(key, "none" if key == APPROVAL_RULE_TAG else "") != value:
            reg.set_model_tag(name, key, value)


def model_rule(reg: Registry, name: str) -> ApprovalRule:
    """The rule recorded on the registered model (none recorded: no approval required)."""
    tags = reg.model_tags(name)
    approvers = tuple(a for a in tags.get(APPROVERS_TAG, "").split(",") if a)
    return ApprovalRule(tags.get(APPROVAL_RULE_TAG) == "required", approvers)


def request_approval(reg: Registry, name: str, version: str, requester: str | None = None) -> dict[str, str]:
    """Record that ``version`` waits for approval, and by whom it was registered (idempotent: a retry keeps
    the first request). Returns the version's approval tags."""
    tags = dict(reg.get_version(name, version).tags or {})
    if tags.get(APPROVAL_TAG) in (APPROVAL_PENDING, APPROVAL_APPROVED, APPROVAL_PROMOTED):
        return {k: v for k, v in tags.items() if k.startswith(APPROVAL_TAG)}
    wanted = {REQUESTED_BY_TAG: requester or identity(), REQUESTED_AT_TAG: now_iso(), APPROVAL_TAG: APPROVAL_PENDING}
    for key, value in wanted.items():  # the status last: a request is complete once it says PENDING
        reg.set_version_tag(name, version, key, value)
    return wanted


def open_request(reg: Registry, name: str, version: str, promotion: Any, requester: str | None = None) -> bool:
    """What the chain does once ``version`` is registered: record the spec's rule and, when it requires
    approval, the request (``requester``: default this process's MLflow identity). True if approval is required."""
    rule = ApprovalRule.of(promotion)
    record_rule(reg, name, rule)
    if rule.required:
        request_approval(reg, name, version, requester)
    return rule.required


def check_approver(
    rule: ApprovalRule, name: str, version: str, approver: str, requested_by: str | None, *, request: bool = True
) -> None:
    """Raise ApprovalRefused unless ``approver`` may approve ``version`` under ``rule`` (``request``: the
    version must carry an approval request; a rollback restores versions that may predate the rule)."""
    if not rule.required:
        return
    if not requested_by and request:
        raise ApprovalRefused(
            f"{name} v{version} has no approval request (tag {REQUESTED_BY_TAG}): the chain records one when it "
            f"registers a version under promotion.approval: required; re-run the chain",
            user=approver,
            model=name,
            version=version,
        )
    if approver == requested_by:
        raise ApprovalRefused(
            f"user {approver!r} registered {name} v{version} and may not approve it: promotion.approval is "
            f"required (four eyes); ask {rule.describe()}",
            user=approver,
            model=name,
            version=version,
        )
    if rule.approvers and approver not in rule.approvers:
        raise ApprovalRefused(
            f"user {approver!r} is not an approver of {name} (promotion.approvers: {', '.join(rule.approvers)})",
            user=approver,
            model=name,
            version=version,
        )


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
    from mlpublish.promotion.moves import promote_version

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
