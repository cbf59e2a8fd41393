"""Promotion on live labels (mlpublish.steps.promote_live) on a real MLflow registry store (SQLite): the
winner moves under the lock with its history and evidence, a loser stays challenger, a re-run does nothing,
an approval is asked (and only accepted) once it won, and rollback undoes the move."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlpublish.deployment.context import PublishContext
from mlpublish.errors import ApprovalRefused
from mlpublish.promotion import champion_card, champion_history, rollback_champion
from mlpublish.promotion.approval import approve_version
from mlpublish.registry.contract import (
    APPROVAL_TAG,
    CARD_MARKDOWN,
    CHALLENGER,
    CHAMPION,
    LIVE_EVIDENCE_ARTIFACT,
    PASSED,
    SHADOW_DECISION_TAG,
    SHADOW_TAG,
    VALIDATION_TAG,
)
from mlpublish.registry.live_metrics import live_windows as read_live_windows
from mlpublish.spec import parse_spec
from mlpublish.steps.promote_live import decide, move_on_decision, promote_on_live_labels
from tests.conftest import churn_dict
from tests.support.live_windows import record_duel, record_window, window_start

NAME = "customer_churn_predictor"
EXPERIMENT = "shadow-unit"
WIN = [({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.86, "f1": 0.62})] * 2
LOSE = [({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.86, "f1": 0.40})] * 2  # better, but under the f1 gate


class Catalog:
    """Records what is published; the model's entity exists."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def get(self, fqn: str) -> dict[str, Any]:
        return {"fullyQualifiedName": fqn}

    def publish(self, events: list[Any]) -> None:
        self.events += list(events)


def shadow_spec(**promotion: Any) -> Any:
    spec = churn_dict(
        promotion={"mode": "shadow", "shadow": {"windowN": 2, "windowM": 3, "minLabelledRows": 100}, **promotion},
        scoring={"shadow": True},
        monitoring={"labels": {"table": "churn_labels", "timeColumn": "observed_at"}},
        mlflow={"experiment": EXPERIMENT},
    )
    spec["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.75}, {"metric": "f1", "min": 0.5}]
    return parse_spec(yaml.safe_dump(spec))


@pytest.fixture
def setup(workspace, monkeypatch):
    """champion v1 and challenger v2 (PASSED, each with a training run and a card), a context in shadow mode."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    reg = workspace.registry()
    client = reg.client
    exp_id = client.create_experiment(EXPERIMENT)
    client.create_registered_model(NAME)
    for _ in range(2):
        run = client.create_run(exp_id)
        client.log_text(run.info.run_id, "# card\n\n## How to roll back\n\nold\n", CARD_MARKDOWN)
        client.create_model_version(NAME, "mlpublish:/candidate", run.info.run_id, tags={VALIDATION_TAG: PASSED})
    reg.set_alias(NAME, CHAMPION, "1")
    reg.set_alias(NAME, CHALLENGER, "2")
    reg.set_version_tag(NAME, "2", SHADOW_TAG, "SHADOWING")

    def ctx(**promotion: Any) -> PublishContext:
        return PublishContext(shadow_spec(**promotion), SimpleNamespace(select_by="roc_auc"), reg, Catalog())

    return SimpleNamespace(reg=reg, client=client, ctx=ctx)


def test_the_reader_takes_finished_windows_of_one_role_and_version_oldest_first(setup):
    client = setup.client
    record_duel(client, EXPERIMENT, NAME, "1", "2", WIN)
    record_window(client, EXPERIMENT, NAME, "challenger", "2", window_start(0), {"roc_auc": 0.9}, 200, status="RUNNING")
    record_window(client, EXPERIMENT, "other model", "challenger", "2", window_start(1), {"roc_auc": 0.1}, 200)
    windows = read_live_windows(setup.reg, EXPERIMENT, NAME, "challenger", "2")
    assert [w.window_start for w in windows] == [window_start(2).isoformat(), window_start(1).isoformat()]
    assert windows[0].metrics == {"roc_auc": 0.86, "f1": 0.62} and windows[0].labelled_rows == 200
    assert read_live_windows(setup.reg, EXPERIMENT, NAME, "challenger", "2", now=window_start(1)) == windows[:1]
    assert read_live_windows(setup.reg, "no such experiment", NAME, "challenger", "2") == []


def test_a_winner_is_promoted_with_its_evidence_and_a_rerun_does_nothing(setup):
    reg, ctx = setup.reg, setup.ctx()
    record_duel(setup.client, EXPERIMENT, NAME, "1", "2", WIN)
    result = promote_on_live_labels(ctx)
    assert (result.outcome, result.promoted, result.champion_before, result.champion_after) == (
        "PROMOTED",
        True,
        "1",
        "2",
    )
    assert "won 2 of the last 2 labelled window(s) (needs 2 of the last 3)" in result.reason
    assert reg.alias_version(NAME, CHAMPION) == "2" and reg.alias_version(NAME, CHALLENGER) is None
    entry = champion_history(reg, NAME)[-1]
    assert (entry["to"], entry["from"], entry["action"]) == ("2", "1", "shadow")
    tags = reg.get_version(NAME, "2").tags
    assert tags[SHADOW_TAG] == "PROMOTED" and tags[SHADOW_DECISION_TAG].startswith("PROMOTE: ")
    logged = json.loads(reg.read_text(reg.get_version(NAME, "2").run_id, LIVE_EVIDENCE_ARTIFACT))
    assert logged["wins"] == 2 and len(logged["windows"]) == 2 and logged["windows"][0]["checks"]
    props = next(e.properties for e in ctx.catalog.events if "shadowDecision" in getattr(e, "properties", {}))
    assert json.loads(props["shadowEvidence"])["wins"] == 2 and props["shadowChallengerVersion"] == "2"
    checks = result.promotion.checks
    assert [c.outcome for c in checks] == ["pass", "pass"] and checks[0].value == 0.86
    card = champion_card(reg, reg.get_version(NAME, "2"))
    assert "## Promoted on live labels" in card and "| 0.8600 | 0.8000 | won: roc_auc 0.8600 vs 0.8000" in card
    assert card.index("## Promoted on live labels") < card.index("## How to roll back")

    again = promote_on_live_labels(setup.ctx())
    assert again.outcome == "NO_CHALLENGER" and not again.promoted
    assert len(champion_history(reg, NAME)) == 1
    back = rollback_champion(reg, None, NAME)  # the same rollback as every move
    assert back.champion_after == "1" and reg.alias_version(NAME, CHAMPION) == "1"


def test_a_loser_stays_challenger_and_says_why(setup):
    reg = setup.reg
    record_duel(setup.client, EXPERIMENT, NAME, "1", "2", LOSE)
    result = promote_on_live_labels(setup.ctx())
    assert (result.outcome, result.promoted) == ("WAITING", False)
    assert "won 0 of the last 2" in result.reason and result.reason.endswith("not yet")
    assert "gates failed: f1 min 0.5: f1=0.4000 < min 0.5" in result.decision.windows[0].why
    assert reg.alias_version(NAME, CHAMPION) == "1" and reg.alias_version(NAME, CHALLENGER) == "2"
    assert champion_history(reg, NAME) == [] and reg.get_version(NAME, "2").tags[SHADOW_TAG] == "SHADOWING"
    catalog = setup.ctx().catalog
    ctx = setup.ctx()
    promote_on_live_labels(ctx)  # no new window: the same decision is not recorded again
    assert ctx.catalog.events == [] and catalog.events == []


def test_under_four_eyes_the_win_asks_an_approver_who_alone_moves_it(setup):
    reg = setup.reg
    with pytest.raises(ApprovalRefused, match="has not won on live labels yet"):
        approve_version(reg, None, NAME, "2", reason="early", approver="approver")
    record_duel(setup.client, EXPERIMENT, NAME, "1", "2", WIN)
    result = promote_on_live_labels(setup.ctx(approval="required", approvers=["approver"]))
    assert result.outcome == "APPROVAL_REQUESTED" and "mlpublish approve customer_churn_predictor 2" in result.reason
    assert reg.alias_version(NAME, CHAMPION) == "1"
    tags = reg.get_version(NAME, "2").tags
    assert (tags[SHADOW_TAG], tags[APPROVAL_TAG]) == ("WON", "PENDING")
    ctx = setup.ctx(approval="required", approvers=["approver"])
    assert promote_on_live_labels(ctx).outcome == "APPROVAL_REQUESTED"  # asked again, nothing rewritten
    assert reg.get_version(NAME, "2").tags == tags and ctx.catalog.events == []
    with pytest.raises(ApprovalRefused, match="'trainer' registered"):  # the request names who asked
        approve_version(reg, None, NAME, "2", reason="mine")
    moved = approve_version(reg, None, NAME, "2", reason="live evidence reviewed", approver="approver")
    assert moved.promoted and reg.alias_version(NAME, CHAMPION) == "2"
    assert "## Promoted on live labels" in champion_card(reg, reg.get_version(NAME, "2"))


def test_a_champion_moved_meanwhile_refuses_the_move(setup):
    reg, ctx = setup.reg, setup.ctx()
    record_duel(setup.client, EXPERIMENT, NAME, "1", "2", WIN)
    decision = decide(ctx, "1", "2", None)
    reg.set_alias(NAME, CHAMPION, "2")
    reg.set_alias(NAME, CHAMPION, "1")
    stale = decision.model_copy(update={"champion_version": "7"})
    result = move_on_decision(ctx, stale, {"model_name": NAME, "challenger": "2"})
    assert result.outcome == "REFUSED" and "its live windows compared another champion" in result.reason
    assert reg.alias_version(NAME, CHAMPION) == "1"


def test_nothing_to_decide_outside_shadow_mode_or_without_a_challenger(setup):
    reg = setup.reg
    spec = shadow_spec().model_copy(update={"promotion": shadow_spec().promotion.model_copy(update={"mode": "auto"})})
    ctx = PublishContext(spec, SimpleNamespace(select_by="roc_auc"), reg, Catalog())
    assert promote_on_live_labels(ctx).outcome == "NOT_SHADOW"
    reg.delete_alias(NAME, CHALLENGER)
    assert promote_on_live_labels(setup.ctx()).outcome == "NO_CHALLENGER"
