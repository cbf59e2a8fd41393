"""The data contract through the chain on SQLite: learned at train, diffed against the champion's at validate.

A second publish whose training rows lost a category is refused when the spec makes removed_category blocking,
and passes (the change reported) when it does not; the champion's contract is the one its run logged.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from mlpublish.cli import EXIT_OK, EXIT_REJECTED, main
from mlpublish.contracts import CONTRACT_ARTIFACT, DataContract
from tests.conftest import deep_merge

NAME = "customer_churn_predictor"
FQN = f"mlflow-local.{NAME}"
TABLE = "warehouse.main.main.customer_features"
# absolute gates only: the candidates here differ in their data, and the contract decides
CHEAP = {
    "validation": {"gates": [{"metric": "roc_auc", "min": 0.6}], "importances": {"enabled": False}},
    "data": {"contract": {"columns": {"support_tickets": {"minimum": 0, "maxNullFraction": 0.1}}}},
}


def run_cli(*args: str) -> int:
    return main(["-q", *args])


def contract_of(run_id: str) -> DataContract:
    path = MlflowClient().download_artifacts(run_id, CONTRACT_ARTIFACT)
    return DataContract.from_json(json.loads(Path(path).read_text()))


def test_a_lost_category_is_refused_when_blocking_and_reported_when_not(workspace, capsys, monkeypatch):
    from mlpublish.promotion import moves

    sent: list[Any] = []  # the champions' data contracts the catalog is sent

    def publish(catalog: Any, events: list[Any], what: str) -> None:
        sent.extend(e for e in events if e.kind == "upsert_data_contract")
        real_publish(catalog, events, what)

    real_publish = moves.publish
    monkeypatch.setattr(moves, "publish", publish)
    spec = workspace.spec(**CHEAP)
    assert run_cli("run", "--json", str(spec)) == EXIT_OK
    first = json.loads(capsys.readouterr().out)
    champion = contract_of(first["training"]["run_id"])
    plan = champion.column("plan")
    assert plan.categories == ["basic", "premium", "standard"] and plan.kind == "categorical"
    tickets = champion.column("support_tickets")
    assert tickets.type == "integer" and tickets.minimum == 0.0 and tickets.stated == ["in_range", "max_null_fraction"]
    assert champion.engine["library"] == "pandera" and "plan" in champion.engine["schema"]["columns"]
    assert first["training"]["contract"].startswith("6 columns")
    check = next(c for c in first["validation"]["checks"] if c["check"] == "contract")
    assert check["outcome"] == "pass" and check["detail"] == "no champion to compare with"
    (event,) = sent
    assert (event.table_fqn, event.name, event.model_fqn) == (TABLE, f"{NAME}-contract", FQN)
    assert DataContract.from_json(event.contract) == champion

    with sqlite3.connect(workspace.warehouse) as db:  # the premium plan is gone from the training rows
        db.execute("UPDATE customer_features SET plan = 'standard' WHERE plan = 'premium'")

    strict = workspace.spec(
        "strict.yaml", **deep_merge(CHEAP, {"data": {"contract": {"blocking": ["removed_category"]}}})
    )
    assert run_cli("run", str(strict)) == EXIT_REJECTED
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "data contract vs champion" in x)
    assert line.lstrip().startswith("FAIL") and "plan: removed_category premium" in line
    assert "{basic, premium, standard} -> {basic, standard}" in line
    assert str(MlflowClient().get_model_version_by_alias(NAME, "champion").version) == "1" and len(sent) == 1

    assert run_cli("run", "--json", str(spec)) == EXIT_OK  # default blocking: changed_type only
    second = json.loads(capsys.readouterr().out)
    check = next(c for c in second["validation"]["checks"] if c["check"] == "contract")
    assert check["outcome"] == "pass" and "none blocking" in check["detail"]
    changes = second["validation"]["contract_changes"]
    assert {"change": "removed_category", "column": "plan", "values": ["premium"], "blocking": False}.items() <= next(
        c for c in changes if c["change"] == "removed_category"
    ).items()
    assert second["promotion"]["promoted"]
    assert len(sent) == 2 and sent[1].contract["columns"][-1]["categories"] == ["basic", "standard"]
    card = Path(MlflowClient().download_artifacts(second["training"]["run_id"], "model_card/model_card.md")).read_text()
    assert "## Data contract" in card and "| plan | removed_category premium |" in card
