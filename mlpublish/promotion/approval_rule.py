"""The four-eyes rule (``promotion.approval: required``) as the registry records it: the rule on the registered
model, the approval request on the version, and who may approve (see :mod:`mlpublish.promotion.approval`)."""

from __future__ import annotations

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
    APPROVAL_RULE_TAG,
    APPROVAL_TAG,
    APPROVERS_TAG,
    REQUESTED_AT_TAG,
    REQUESTED_BY_TAG,
    SHADOW_TAG,
    SHADOWING,
)


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


def check_live_win(name: str, version: str, tags: dict[str, str], approver: str) -> None:
    """``promotion.mode: shadow``: a challenger still shadowing the champion has not won on live labels yet, and
    an approval of it is refused (the decision on live labels asks for the approval once it has won)."""
    if tags.get(SHADOW_TAG) == SHADOWING:
        raise ApprovalRefused(
            f"{name} v{version} is a shadow challenger that has not won on live labels yet (promotion.mode: shadow): "
            f"the approval is asked once it has (see mlpublish monitor)",
            user=approver,
            model=name,
            version=version,
        )
