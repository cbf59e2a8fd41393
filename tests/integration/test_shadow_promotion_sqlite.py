"""promotion.mode: shadow through the command line on the embedded defaults (SQLite warehouse, MLflow on SQLite,
the local catalog): the chain leaves the new candidate as challenger; ``mlpublish monitor`` then promotes it once
it won on live labels, and leaves a loser challenger.

The first tests write live windows of chosen metrics straight into MLflow with the record's tags
(tests/support/live_windows.py); the last two go the whole way: shadow scoring, labels in the warehouse, the
monitor's live metrics, the decision."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.cli import EXIT_OK, main
from mlpublish.registry.contract import CHALLENGER, CHAMPION, SHADOW_TAG
from tests.conftest import Workspace, churn_dict, write_spec
from tests.support.live_windows import record_duel
from tests.support.score_fixtures import FQN, NAME, copy_of, publish_champion

EXPERIMENT = f"mlpublish/{NAME}"
# live roc_auc and f1 per window: (champion's, challenger's), oldest first
WINS = [({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.62})] * 2
LOSES = [({"roc_auc": 0.80, "f1": 0.60}, {"roc_auc": 0.84, "f1": 0.30})] * 2  # better, but under the f1 gate


def shadow_spec() -> dict:
    """The demo spec in shadow mode, another candidate than the champion's (deeper trees), absolute gates only."""
    spec = churn_dict(
        training={"candidates": {"max_depth": [8]}},
        promotion={"mode": "shadow", "shadow": {"windowN": 2, "windowM": 3, "minLabelledRows": 100}},
        scoring={"shadow": True},
        monitoring={"labels": {"table": "churn_labels", "timeColumn": "observed_at"}, "cooldownHours": 0},
    )
    spec["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.7}, {"metric": "f1", "min": 0.5}]
    return spec


@pytest.fixture(scope="module")
def shadowing(tmp_path_factory, warehouse_template) -> tuple[Path, dict]:
    """Champion v1 (auto), then the shadow spec's chain through the command line: v2 challenger. Returns the
    folder and the chain's promotion result."""
    root = tmp_path_factory.mktemp("shadowing")
    shutil.copy(warehouse_template, root / "warehouse.db")
    publish_champion(root, f"sqlite:///{root / 'warehouse.db'}")
    with sa.create_engine(f"sqlite:///{root / 'warehouse.db'}").begin() as conn:  # where live labels arrive
        conn.execute(sa.text("CREATE TABLE churn_labels (customer_id INTEGER, churned INTEGER, observed_at TEXT)"))
    spec = write_spec(root / "shadow.yaml", shadow_spec())
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        Workspace(root).enter(mp)
        assert main(["-q", "run", str(spec), "--json"]) == EXIT_OK  # waiting as challenger is no rejection
    return root, json.loads(out.getvalue())["promotion"]


@pytest.fixture
def ws(shadowing, tmp_path, monkeypatch):
    root, _ = shadowing
    ws = copy_of(root, tmp_path, monkeypatch)
    shutil.copy(root / "shadow.yaml", tmp_path / "shadow.yaml")
    return ws


def test_the_chain_leaves_the_candidate_challenger_beside_the_champion(shadowing, ws):
    promotion = shadowing[1]
    assert (promotion["promoted"], promotion["shadow"], promotion["version"]) == (False, True, "2")
    assert "promotion.mode is shadow: v2 is challenger and scores beside champion v1" in promotion["reason"]
    reg = ws.registry()
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")
    assert reg.get_version(NAME, "2").tags[SHADOW_TAG] == "SHADOWING"


def monitor(ws, capsys) -> dict:
    assert main(["-q", "monitor", str(ws.root / "shadow.yaml"), "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)["live_promotion"]


def test_a_challenger_that_wins_on_live_labels_is_promoted_by_the_monitor(ws, capsys):
    reg = ws.registry()
    record_duel(reg.client, EXPERIMENT, NAME, "1", "2", WINS)
    live = monitor(ws, capsys)
    assert (live["outcome"], live["champion_before"], live["champion_after"]) == ("PROMOTED", "1", "2")
    assert [w["won"] for w in live["decision"]["windows"]] == [True, True]
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("2", None)
    entity = ws.catalog().get(FQN)
    assert entity["extension"]["championVersion"] == "2"
    assert json.loads(entity["extension"]["shadowEvidence"])["wins"] == 2
    assert "## Promoted on live labels" in entity["description"]
    assert monitor(ws, capsys)["outcome"] == "NO_CHALLENGER"  # a re-run does nothing
    assert reg.alias_version(NAME, CHAMPION) == "2"


def test_a_challenger_that_loses_on_live_labels_stays_challenger(ws, capsys):
    reg = ws.registry()
    record_duel(reg.client, EXPERIMENT, NAME, "1", "2", LOSES)
    assert main(["-q", "monitor", str(ws.root / "shadow.yaml")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "promotion on live labels: WAITING: challenger v2 vs champion v1 on live roc_auc: won 0 of the last 2" in out
    assert "gates failed: f1 min 0.5: f1=0.3000 < min 0.5" in out
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")
    assert "shadowDecision" in ws.catalog().get(FQN)["extension"]


def label_the_scored_rows(ws, copy_role: str) -> None:
    """Score with both models (the real shadow run), date the run three days back, then label every scored row
    with ``copy_role``'s predicted class, half observed two days ago and half yesterday: two complete windows
    of 24 h in which that model is right on every row (roc_auc 1.0) and the other is not."""
    from datetime import UTC, datetime, timedelta

    assert main(["-q", "score", str(ws.root / "shadow.yaml")]) == EXIT_OK
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with sa.create_engine(ws.warehouse_url).begin() as conn:
        roles = dict(
            conn.execute(sa.text("SELECT model_role, COUNT(*) FROM churn_predictions GROUP BY model_role")).all()
        )
        assert roles["champion"] == roles["challenger"] > 200  # the challenger scored the same rows
        conn.execute(
            sa.text("UPDATE churn_predictions SET scored_at = :t"),
            {"t": (midnight - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
        rows = conn.execute(
            sa.text("SELECT customer_id, prediction FROM churn_predictions WHERE model_role = :r ORDER BY customer_id"),
            {"r": copy_role},
        ).all()
        for i, (key, predicted) in enumerate(rows):
            day = 2 if i % 2 else 1
            observed = (midnight - timedelta(days=day) + timedelta(hours=12)).strftime("%Y-%m-%d %H:%M:%S")
            conn.execute(
                sa.text("INSERT INTO churn_labels VALUES (:k, :y, :t)"), {"k": key, "y": int(predicted), "t": observed}
            )


def test_real_labels_the_challenger_got_right_promote_it(ws, capsys):
    """No window written by hand: shadow scoring, labels in the warehouse, the monitor's live metrics, the
    decision and the move, all through the command line."""
    label_the_scored_rows(ws, "challenger")
    capsys.readouterr()
    live = monitor(ws, capsys)
    windows = live["decision"]["windows"]
    assert [w["won"] for w in windows] == [True, True], windows
    assert all(w["challenger"]["roc_auc"] == 1.0 > w["champion"]["roc_auc"] for w in windows)
    assert (live["outcome"], live["champion_after"]) == ("PROMOTED", "2")
    reg = ws.registry()
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("2", None)


def test_real_labels_the_champion_got_right_keep_the_challenger_waiting(ws, capsys):
    label_the_scored_rows(ws, "champion")
    capsys.readouterr()
    live = monitor(ws, capsys)
    assert [w["won"] for w in live["decision"]["windows"]] == [False, False]
    assert live["outcome"] == "WAITING"
    reg = ws.registry()
    assert (reg.alias_version(NAME, CHAMPION), reg.alias_version(NAME, CHALLENGER)) == ("1", "2")
