"""The contract notification and report lines of a scoring or monitor run's data contract checks."""

from __future__ import annotations

from mlpublish.contracts.enforce import ContractSummary
from mlpublish.contracts.model import Violation
from mlpublish.notify import Source, contract_notification
from mlpublish.results import ScoreResult
from mlpublish.workflows.report import contract_lines


def result(contract: ContractSummary | None) -> ScoreResult:
    return ScoreResult(
        model_name="churn",
        version="3",
        model_run_id="r",
        scoring_run_id="s-1",
        rows=97,
        table_fqn="wh.db.p",
        source="wh.db.f",
        seconds=1.0,
        contract=contract,
    )


def summary(**kw) -> ContractSummary:
    violations = [Violation(column="plan", rule="in_set", observed="category 'gold' not in [basic]", count=3)]
    return ContractSummary(
        contract="churn v3",
        mode="quarantine",
        rows_checked=100,
        rows_violating=3,
        rows_quarantined=3,
        quarantine_table="wh.db.p_quarantine",
        violations=violations,
        **kw,
    )


def test_a_broken_contract_notifies_its_counts_and_violations():
    n = contract_notification(result(summary()), source=Source(orchestrator="cli"))
    assert (n.event, n.outcome, n.version, n.run_id) == ("contract", "VIOLATED", "3", "s-1")
    assert n.title == "churn: 3 of 100 rows broke the data contract of v3 (scoring run s-1)"
    assert "3 quarantined in wh.db.p_quarantine" in n.summary
    assert "plan: in_set (category 'gold' not in [basic]) in 3 row(s)" in n.summary
    assert n.to_json()["event"] == "contract"


def test_no_contract_or_a_clean_run_notifies_nothing():
    assert contract_notification(result(None), source=Source(orchestrator="cli")) is None
    clean = ContractSummary(contract="churn v3", mode="warn", rows_checked=100)
    assert contract_notification(result(clean), source=Source(orchestrator="cli")) is None


def test_report_lines():
    lines = contract_lines(summary())
    assert lines[0] == (
        "contract   churn v3 (quarantine): 100 rows checked, 3 violating, 3 quarantined in wh.db.p_quarantine"
    )
    assert "plan" in lines[1] and "in_set" in lines[1] and "category 'gold'" in lines[1]
    assert "not checked" in contract_lines(None)[0]
