"""Model cards on the embedded stack: logged on the training run, the champion's card is the catalog description."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlpublish.cli import EXIT_OK, main
from mlpublish.errors import SpecError
from mlpublish.promotion import champion_card, champion_history
from mlpublish.registry.contract import CARD_HTML, CARD_MARKDOWN
from mlpublish.spec import load_spec
from mlpublish.steps.card import load_card
from mlpublish.workflows.chain import run_chain
from tests.support.helpers import weak_champion_spec

NAME = "customer_churn_predictor"
FQN = "mlflow-local.customer_churn_predictor"
TIME = {"timeColumn": "signup_date"}


def add_time_column(ws) -> tuple[str, str]:
    """The demo's feature table has no date: give it the customers' signup date; returns its min and max."""
    with sqlite3.connect(ws.warehouse) as db:
        db.execute("ALTER TABLE customer_features ADD COLUMN signup_date DATE")
        db.execute(
            "UPDATE customer_features SET signup_date = (SELECT c.signup_date FROM customers c "
            "WHERE c.customer_id = customer_features.customer_id)"
        )
        return db.execute(
            "SELECT MIN(signup_date), MAX(signup_date) FROM customer_features WHERE churned IS NOT NULL"
        ).fetchone()


def artifact(run_id: str, path: str) -> str:
    # the workspace's store: mlflow keeps the last tracking URI a chain activated in this process
    return Path(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).download_artifacts(run_id, path)).read_text(
        encoding="utf-8"
    )


def description(ws) -> str:
    return ws.catalog().get(FQN)["description"]


def test_cards_follow_the_champion_through_promote_reject_and_rollback(workspace):
    first, last = add_time_column(workspace)
    reg = workspace.registry()

    v1 = run_chain(load_spec(weak_champion_spec(workspace, data=TIME)))
    assert v1.promotion.promoted and v1.registration.version == "1"
    run1 = v1.training.run_id
    assert {a.path for a in reg.client.list_artifacts(run1, "model_card")} == {CARD_MARKDOWN, CARD_HTML}
    assert v1.registration.card_uri == f"runs:/{run1}/{CARD_MARKDOWN}"
    card1 = artifact(run1, CARD_MARKDOWN)
    assert card1.startswith(f"# Model card: {NAME} v1\n")
    assert f"| Time range | {first} to {last} (column signup_date) |" in card1
    for check in v1.validation.checks:
        assert f"| {check.name} |" in card1
    for metric, value in v1.evaluation.metrics.items():
        assert f"| {metric} | {value:.4f} |" in card1
    page = artifact(run1, CARD_HTML)
    assert page.startswith("<!DOCTYPE html>") and "<h2>Validation</h2>" in page and page.count("<table>") >= 5
    # the plots travel with the page: every image is a data: URI, none a link relative to MLflow's artifacts
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) >= 2 and all(src.startswith("data:image/png;base64,") for src in sources), sources
    assert "](../" not in card1 and "![" not in card1
    assert workspace.warehouse_url not in card1 + page and workspace.tracking_uri not in card1 + page
    tags = reg.client.get_run(run1).data.tags
    assert (tags["mlpublish.data_time_min"], tags["mlpublish.data_time_max"]) == (first, last)

    described = description(workspace)
    assert described == champion_card(reg, reg.get_version(NAME, "1"))
    assert described.startswith(f"# Model card: {NAME} v1\n") and "v1 is champion (since " in described
    assert "there is no earlier champion to restore" in described

    # a rejected candidate logs its card and leaves the catalog's description alone
    rejected = run_chain(
        load_spec(workspace.spec("reject.yaml", data=TIME, validation={"gates": [{"metric": "roc_auc", "min": 0.999}]}))
    )
    assert rejected.status == "FAILED" and rejected.registration.version is None
    card = load_card(reg, rejected.training.run_id)
    assert "**Status: REJECTED.** Validation FAILED" in card and "roc_auc min 0.999" in card
    assert "Nothing to roll back: this candidate was never registered. The champion stays v1." in card
    assert description(workspace) == described

    v2 = run_chain(load_spec(workspace.spec("better.yaml", data=TIME)))
    assert v2.promotion.promoted and v2.registration.version == "2"
    assert "It restores v1, the champion when v2 was registered." in artifact(v2.training.run_id, CARD_MARKDOWN)
    described = description(workspace)
    assert described.startswith(f"# Model card: {NAME} v2\n") and "Champion v1" in described
    assert described.endswith("It restores v1.\n") and f"mlpublish rollback {NAME}" in described

    assert main(["-q", "rollback", NAME]) == EXIT_OK
    back = description(workspace)
    assert back.startswith(f"# Model card: {NAME} v1\n") and back == champion_card(reg, reg.get_version(NAME, "1"))
    since = champion_history(reg, NAME)[-1]["at"]
    assert f"v1 is champion (since {since})" in back and "there is no earlier champion to restore" in back


def test_a_warehouse_password_never_reaches_the_card_or_the_catalog(workspace, warehouse_template, monkeypatch):
    """PostgreSQL here trusts local connections, so a URL with a password works and the password is a real
    value of the spec that the chain handles from start to end."""
    import json

    import pandas as pd
    import sqlalchemy as sa

    from tests.support.canary_secrets import WAREHOUSE_PASSWORD as password
    from tests.support.mlflow_server import postgres_database

    with postgres_database("card_wh") as url:
        secret_url = url.replace("://postgres@", f"://postgres:{password}@", 1)
        assert password in secret_url
        features = pd.read_sql_table("customer_features", sa.create_engine(f"sqlite:///{warehouse_template}"))
        features.to_sql("customer_features", sa.create_engine(url), index=False)
        # through ${VAR}, as a spec should: the file then holds no password (the run's secret scan reads it)
        monkeypatch.setenv("CARD_WAREHOUSE_URL", secret_url)
        result = run_chain(load_spec(workspace.spec("pg.yaml", data={"connection": "${CARD_WAREHOUSE_URL}"})))
        sa.create_engine(url).dispose()
    assert result.promotion.promoted
    run_id = result.training.run_id
    card, page = artifact(run_id, CARD_MARKDOWN), artifact(run_id, CARD_HTML)
    assert ".public.customer_features" in card  # the card did describe this warehouse's table
    entity = json.dumps(workspace.catalog().get(FQN))
    assert json.loads(entity)["description"].startswith(f"# Model card: {NAME} v1\n")
    for text in (card, page, entity):
        assert password not in text and secret_url not in text


def test_a_missing_time_column_is_refused_before_anything_is_written(workspace):
    path = workspace.spec("no-time.yaml", data={"timeColumn": "snapshot_at"})
    with pytest.raises(SpecError) as info:
        run_chain(load_spec(path))
    assert str(path) in str(info.value)
    assert any(
        where == "data.timeColumn" and "'snapshot_at' not found in warehouse.main.main.customer_features" in msg
        for where, msg in info.value.problems
    ), info.value.problems
    assert MlflowClient(workspace.tracking_uri).search_experiments(filter_string=f"name = 'mlpublish/{NAME}'") == []
