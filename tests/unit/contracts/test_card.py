"""The model card's Data contract section: every column's rules (learned or stated), the diff vs the champion,
escaped as the rest of the card."""

from __future__ import annotations

from mlpublish.contracts.diff import diff_contracts
from mlpublish.contracts.learn import learn_contract
from mlpublish.evaluation.gates import CheckResult
from mlpublish.model_card import build_card, render_html
from mlpublish.results import Candidate, EvaluateResult, TrainResult, ValidateResult
from mlpublish.spec.contract import ContractSpec
from tests.support.contract_data import contract_spec

HOSTILE = "<script>alert(1)</script>|x"


def section(card: str) -> str:
    return card.split("## Data contract", 1)[1].split("\n## ", 1)[0]


def card_of(spec, contract, changes, detail: str = "no champion to compare with") -> str:
    train = TrainResult(
        model_name=spec.name,
        run_id="a" * 32,
        experiment_id="1",
        model_uri="models:/m-1",
        model_id="m-1",
        task="classification",
        select_by="roc_auc",
        params={},
        candidates=[Candidate(params={}, score=None)],
        train_rows=75,
        test_rows=25,
        dataset_digest="d",
        training_fqn="wh.db.sc.toy",
        fit_seconds=0.1,
    )
    evaluation = EvaluateResult(
        model_name=spec.name, run_id=train.run_id, metrics={"roc_auc": 0.8}, champion_version="2", champion_metrics=None
    )
    check = CheckResult(check="contract", name="data contract vs champion", outcome="pass", detail=detail)
    validation = ValidateResult(
        model_name=spec.name,
        run_id=train.run_id,
        status="PASSED",
        checks=[check],
        champion_version="2",
        contract_changes=changes,
    )
    return build_card(spec, train, evaluation, validation, None, {}, contract)


def test_each_column_with_its_rules_learned_or_stated(frame):
    spec = contract_spec({"columns": {"age": {"minimum": 0}, "region": {"nullable": False}}})
    contract = learn_contract(frame, spec, table_fqn="wh.db.sc.toy", learned_at="2026-01-01T00:00:00+00:00")
    text = section(card_of(spec, contract, []))
    assert "Learned from 100 rows of wh.db.sc.toy at 2026-01-01T00:00:00+00:00 (pandera " in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert set(rows) == {"Column", *spec.feature_names}
    assert rows["age"] == "| age | integer (numerical) | not null | 0 to 117 |  | stated: in_range |"
    assert rows["plan"] == "| plan | string (categorical) | not null |  | basic, gold, silver | learned |"
    assert "| nullable, at most 20.0% (observed 10.0%) |" in rows["visits"]
    assert "| not null |" in rows["region"] and "stated: not_null" in rows["region"]
    assert "### Against the champion's contract\n\nno champion to compare with" in text


def test_the_changes_against_the_champion_and_hostile_values_escaped(frame):
    spec = contract_spec()
    champion = learn_contract(frame, spec, table_fqn="t", learned_at="x")
    lost = frame.assign(plan=frame["plan"].replace("gold", HOSTILE))
    candidate = learn_contract(lost, spec, table_fqn="t", learned_at="x")
    changes = diff_contracts(champion, candidate, ContractSpec(blocking=["removed_category"]))
    card = card_of(spec, candidate, changes, "blocking ...")
    text = section(card)
    assert "<script>" not in card and "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in text
    assert "| plan | removed_category gold | {basic, gold, silver} |" in text and text.count("| yes |") == 1
    assert "| plan | added_category &lt;script&gt;" in text
    assert "<script>" not in render_html(card, "card")


def test_a_run_without_contract_says_so():
    spec = contract_spec()
    text = section(card_of(spec, None, []))
    assert "No data contract was logged with this run" in text
