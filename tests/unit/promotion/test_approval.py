"""Four eyes (mlpublish.promotion.approval) on a real MLflow registry store (SQLite): the rule and the request
are recorded in the registry, the registering identity never approves, approvals move the champion once and
say who, when and why; manual promotion and rollback obey the same rule."""

from __future__ import annotations

import pytest

from mlpublish.errors import ApprovalRefused
from mlpublish.promotion.approval import approve_version, approved_waiting, promote_approved
from mlpublish.promotion.approval_rule import ApprovalRule, model_rule, open_request, record_rule
from mlpublish.promotion.history import champion_history
from mlpublish.promotion.moves import promote_version, rollback_champion
from mlpublish.registry.contract import APPROVAL_TAG, CHAMPION, PASSED, REQUESTED_BY_TAG, VALIDATION_TAG
from mlpublish.spec.models import Promotion

MODEL = "guarded"


@pytest.fixture
def reg(workspace, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    registry = workspace.registry()
    registry.client.create_registered_model(MODEL)
    return registry


def candidate(reg, requester="trainer", approvers=("approver",)) -> str:
    mv = reg.client.create_model_version(MODEL, "mlpublish:/candidate", tags={VALIDATION_TAG: PASSED})
    promotion = Promotion(approval="required", approvers=list(approvers))
    assert open_request(reg, MODEL, str(mv.version), promotion, requester)
    return str(mv.version)


def test_the_chain_records_the_rule_and_a_request(reg):
    version = candidate(reg)
    assert model_rule(reg, MODEL) == ApprovalRule(True, ("approver",))
    tags = reg.get_version(MODEL, version).tags
    assert (tags[APPROVAL_TAG], tags[REQUESTED_BY_TAG]) == ("PENDING", "trainer")
    assert open_request(reg, MODEL, version, Promotion(approval="required", approvers=["approver"]), "someone")
    assert reg.get_version(MODEL, version).tags[REQUESTED_BY_TAG] == "trainer"  # a retry keeps the first request
    record_rule(reg, MODEL, ApprovalRule.of(Promotion()))
    assert model_rule(reg, MODEL) == ApprovalRule(False, ())


def test_the_registering_identity_never_approves(reg):
    version = candidate(reg)
    with pytest.raises(ApprovalRefused, match="'trainer' registered guarded v1 and may not approve it") as refused:
        approve_version(reg, None, MODEL, version, reason="mine")
    assert (refused.value.user, refused.value.model, refused.value.version) == ("trainer", MODEL, "1")
    with pytest.raises(ApprovalRefused, match="'mallory' is not an approver of guarded"):
        approve_version(reg, None, MODEL, version, reason="x", approver="mallory")
    with pytest.raises(ApprovalRefused, match="mlpublish approve guarded 1"):
        promote_version(reg, None, MODEL, version)
    assert reg.alias_version(MODEL, CHAMPION) is None
    assert reg.get_version(MODEL, version).tags[APPROVAL_TAG] == "PENDING"


def test_an_approval_moves_the_champion_and_says_who_when_why(reg):
    version = candidate(reg)
    result = approve_version(reg, None, MODEL, version, reason="gates reviewed", approver="approver")
    assert result.promoted and "approved by approver: gates reviewed" in result.reason
    assert reg.alias_version(MODEL, CHAMPION) == version
    entry = champion_history(reg, MODEL)[-1]
    assert (entry["approved_by"], entry["why"]) == ("approver", "gates reviewed") and entry["approved_at"]
    assert reg.get_version(MODEL, version).tags[APPROVAL_TAG] == "PROMOTED"
    again = approve_version(reg, None, MODEL, version, reason="gates reviewed", approver="approver")
    assert again.champion_before == again.champion_after == version  # a retry moves nothing
    assert len(champion_history(reg, MODEL)) == 1


def test_a_recorded_approval_waits_for_whoever_promotes_it(reg):
    version = candidate(reg)
    with pytest.raises(ApprovalRefused, match="is not approved"):
        promote_approved(reg, None, MODEL, version)
    assert approve_version(reg, None, MODEL, version, reason="ok", approver="approver", move=False) is None
    assert approved_waiting(reg, MODEL) == [version] and reg.alias_version(MODEL, CHAMPION) is None
    promote_approved(reg, None, MODEL, version)  # as the deployment's identity: the approval is the approver's
    assert reg.alias_version(MODEL, CHAMPION) == version and approved_waiting(reg, MODEL) == []
    assert champion_history(reg, MODEL)[-1]["approved_by"] == "approver"


def test_rollback_obeys_the_same_rule(reg, monkeypatch):
    first = candidate(reg)
    approve_version(reg, None, MODEL, first, reason="ok", approver="approver")
    second = candidate(reg)
    approve_version(reg, None, MODEL, second, reason="ok", approver="approver")
    with pytest.raises(ApprovalRefused, match="'trainer' registered guarded v1"):
        rollback_champion(reg, None, MODEL)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "approver")
    assert rollback_champion(reg, None, MODEL).champion_after == first
    assert champion_history(reg, MODEL)[-1]["approved_by"] == "approver"


def test_without_the_rule_nothing_changes(reg):
    mv = reg.client.create_model_version(MODEL, "mlpublish:/candidate", tags={VALIDATION_TAG: PASSED})
    assert not open_request(reg, MODEL, str(mv.version), Promotion())
    assert APPROVAL_TAG not in reg.get_version(MODEL, str(mv.version)).tags
    assert promote_version(reg, None, MODEL, str(mv.version)).promoted
    assert "approved_by" not in champion_history(reg, MODEL)[-1]


def test_the_champion_card_says_who_approved(reg):
    from mlpublish.promotion.champion_entity import champion_card
    from mlpublish.registry.contract import CARD_MARKDOWN

    run_id = reg.create_run(reg.ensure_experiment("guarded", None), "train", {})
    reg.log_text(run_id, "# guarded\n\n## How to roll back\n\nold\n", CARD_MARKDOWN)
    mv = reg.client.create_model_version(MODEL, "mlpublish:/candidate", run_id=run_id, tags={VALIDATION_TAG: PASSED})
    open_request(reg, MODEL, str(mv.version), Promotion(approval="required"), "trainer")
    approve_version(reg, None, MODEL, str(mv.version), reason="slices within bounds", approver="approver")
    card = champion_card(reg, reg.get_version(MODEL, str(mv.version)))
    assert "Approved by approver on " in card and card.rstrip().endswith(": slices within bounds")
    assert "\nold\n" not in card
