"""``mlpublish approve`` (mlpublish.cli.approval): the approver is the command's MLflow identity; a refused
approval exits 4 with the rule's message; --record-only leaves the move to the approval sensor."""

from __future__ import annotations

from mlpublish import cli
from mlpublish.promotion.approval_rule import open_request
from mlpublish.registry.contract import APPROVAL_TAG, CHAMPION, PASSED, VALIDATION_TAG
from mlpublish.spec.models import Promotion


def registered(workspace, requester: str) -> str:
    reg = workspace.registry()
    reg.client.create_registered_model("guarded")
    mv = reg.client.create_model_version("guarded", "mlpublish:/candidate", tags={VALIDATION_TAG: PASSED})
    open_request(reg, "guarded", str(mv.version), Promotion(approval="required", approvers=["approver"]), requester)
    return str(mv.version)


def test_approve_as_the_trainer_is_refused(workspace, monkeypatch, capsys):
    version = registered(workspace, "trainer")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    assert cli.main(["approve", "guarded", version]) == 4
    assert "'trainer' registered guarded v1 and may not approve it" in capsys.readouterr().err
    assert workspace.registry().alias_version("guarded", CHAMPION) is None


def test_approve_as_an_approver_moves_the_champion(workspace, monkeypatch, capsys):
    version = registered(workspace, "trainer")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "approver")
    assert cli.main(["approve", "guarded", version, "--record-only", "--reason", "reviewed"]) == cli.EXIT_OK
    assert "approval recorded" in capsys.readouterr().out
    reg = workspace.registry()
    assert reg.alias_version("guarded", CHAMPION) is None
    assert reg.get_version("guarded", version).tags[APPROVAL_TAG] == "APPROVED"
    assert cli.main(["approve", "guarded", version, "--reason", "reviewed"]) == cli.EXIT_OK
    assert "approved by approver: reviewed" in capsys.readouterr().out
    assert reg.alias_version("guarded", CHAMPION) == version
