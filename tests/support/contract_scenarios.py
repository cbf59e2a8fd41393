"""Drifted and broken rows scored under each scoring.onContractViolation mode: the same scenarios on every
warehouse (SQLite: tests/integration/test_score_monitor_sqlite.py, PostgreSQL: test_score_postgres.py).

The source is a copy of the training table with three broken rows: a new category (plan 'gold'), a null where
the champion never saw one (recency_days) and a value below the training minimum (monetary -5); or a column
missing, or a column of another type. The contract is built from the training rows and logged in the
champion's run by hand (tests/support/contracts.py) until train logs its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from tests.support.contracts import champion_contract, contract_of
from tests.support.score_fixtures import NAME, context

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "support_tickets", "plan"]
BROKEN = "contract_broken_features"
QUARANTINE = "churn_predictions_quarantine"
EXPECTED = {("plan", "in_set"), ("recency_days", "not_null"), ("monetary", "in_range")}


@contextmanager
def broken_source(ws: Any) -> Iterator[tuple[Any, list]]:
    """The champion with a contract, and BROKEN: the training table with three broken rows (their keys)."""
    import pandas as pd

    eng = sa.create_engine(ws.warehouse_url)
    frame = pd.read_sql_table("customer_features", eng)
    contract = contract_of(frame, FEATURES, ["plan"], model=NAME, table="customer_features")
    ids = sorted(frame["customer_id"].tolist())[:3]
    with eng.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {BROKEN}"))
        conn.execute(sa.text(f"CREATE TABLE {BROKEN} AS SELECT * FROM customer_features"))
        for sql, key in (
            ("UPDATE {t} SET plan = 'gold' WHERE customer_id = :k", ids[0]),
            ("UPDATE {t} SET recency_days = NULL WHERE customer_id = :k", ids[1]),
            ("UPDATE {t} SET monetary = -5 WHERE customer_id = :k", ids[2]),
        ):
            conn.execute(sa.text(sql.format(t=BROKEN)), {"k": key})
    try:
        with champion_contract(contract):
            yield eng, ids
    finally:
        with eng.begin() as conn:
            for t in (BROKEN, QUARANTINE, "churn_predictions"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {t}"))
        eng.dispose()


def recorded_events(monkeypatch: pytest.MonkeyPatch) -> list:
    """The RecordContractResults events the steps emit, caught on their way to the catalog."""
    from mlpublish.catalog.events import RecordContractResults
    from mlpublish.deployment.context import PublishContext

    seen: list = []
    emit = PublishContext.emit

    def spy(self, *events):
        seen.extend(e for e in events if isinstance(e, RecordContractResults))
        return emit(self, *events)

    monkeypatch.setattr(PublishContext, "emit", spy)
    return seen


def rows_of(eng: Any, table: str, run_id: str) -> int:
    with eng.connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return 0
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE scoring_run_id = :r"), {"r": run_id}).scalar()


def score(ws: Any, mode: str, run_id: str, **scoring: Any) -> Any:
    from mlpublish.steps import score_batch

    spec = ws.spec(scoring={"sourceTable": BROKEN, "onContractViolation": mode, "chunkSize": 500, **scoring})
    return score_batch(context(spec), scoring_run_id=run_id)


def fail_writes_nothing(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    events = recorded_events(monkeypatch)
    with broken_source(ws) as (eng, _):
        with pytest.raises(WarehouseError) as err:
            score(ws, "fail", "c-fail")
        text = str(err.value)
        assert "onContractViolation: fail" in text and re.search(r"\(rows \d+-\d+\)", text), text
        assert "plan: in_set (category 'gold' not in [" in text and "in 1 row(s)" in text
        assert rows_of(eng, "churn_predictions", "c-fail") == 0 and rows_of(eng, QUARANTINE, "c-fail") == 0
    failed = {(r["column"], r["rule"]) for r in events[-1].results if r["status"] == "Failed"}
    assert failed <= EXPECTED and ("plan", "in_set") in failed  # the rules the first chunk broke


def warn_scores_every_row(ws: Any, monkeypatch: pytest.MonkeyPatch, total: int) -> None:
    events = recorded_events(monkeypatch)
    with broken_source(ws) as (eng, _):
        result = score(ws, "warn", "c-warn")
        assert result.rows == total and rows_of(eng, "churn_predictions", "c-warn") == total
        c = result.contract
        assert (c.rows_checked, c.rows_violating, c.rows_quarantined) == (total, 3, 0)
        assert {(v.column, v.rule) for v in c.violations} == EXPECTED and all(v.count == 1 for v in c.violations)
        monetary = next(v for v in c.violations if v.column == "monetary")
        assert monetary.observed.startswith("value -5 < minimum ")
        assert rows_of(eng, QUARANTINE, "c-warn") == 0
    (event,) = events
    assert event.contract_name == f"{NAME}-contract" and event.run_id == "c-warn"
    assert event.table_fqn.endswith(".customer_features")
    by_rule = {(r["column"], r["rule"]): r for r in event.results}
    assert {k for k, r in by_rule.items() if r["status"] == "Failed"} == EXPECTED
    assert by_rule[("plan", "present")]["status"] == "Success" and by_rule[("plan", "present")]["rows"] == total


def quarantine_holds_back_the_broken_rows(ws: Any, total: int) -> None:
    with broken_source(ws) as (eng, ids):
        for _ in range(2):  # a retried run replaces its own quarantined rows, as its predictions
            result = score(ws, "quarantine", "c-q")
            assert result.rows == total - 3 and result.contract.rows_quarantined == 3
            assert result.contract.quarantine_table.endswith(QUARANTINE)
            assert rows_of(eng, "churn_predictions", "c-q") == total - 3
            assert rows_of(eng, QUARANTINE, "c-q") == 3
        with eng.connect() as conn:
            held = conn.execute(
                sa.text(
                    f"SELECT customer_id, plan, recency_days, monetary, violated_rules, model_version, model_name "
                    f"FROM {QUARANTINE} ORDER BY violated_rules"
                )
            ).fetchall()
            scored = {r[0] for r in conn.execute(sa.text("SELECT customer_id FROM churn_predictions"))}
        assert [r[4] for r in held] == ["monetary.in_range", "plan.in_set", "recency_days.not_null"]
        assert {r[0] for r in held} == {str(i) for i in ids} and not scored & set(ids)
        assert held[1][1] == "gold" and held[2][2] is None and float(held[0][3]) == -5
        assert {(r[5], r[6]) for r in held} == {(result.version, NAME)}


def unscorable_fails_in_every_mode(ws: Any) -> None:
    from mlpublish.steps import score_batch

    cols = ", ".join(c if c != "tenure_days" else "'t' || CAST(tenure_days AS TEXT) AS tenure_days" for c in FEATURES)
    with broken_source(ws) as (eng, _):
        for mode in ("fail", "warn", "quarantine"):
            # a column of another type (a query: its declared types are not known before the rows are read)
            spec = ws.spec(
                scoring={"query": f"SELECT customer_id, {cols} FROM customer_features", "onContractViolation": mode}
            )
            with pytest.raises(WarehouseError, match=r"cannot be scored.*tenure_days: type \(type string, expected"):
                score_batch(context(spec), scoring_run_id=f"c-type-{mode}")
            assert rows_of(eng, "churn_predictions", f"c-type-{mode}") == 0
            assert rows_of(eng, QUARANTINE, f"c-type-{mode}") == 0
            # a missing column
            missing = ", ".join(c for c in FEATURES if c != "plan")
            spec = ws.spec(
                scoring={"query": f"SELECT customer_id, {missing} FROM customer_features", "onContractViolation": mode}
            )
            with pytest.raises(WarehouseError, match="'plan' not found"):
                score_batch(context(spec), scoring_run_id=f"c-missing-{mode}")


def monitor_counts_without_failing(ws: Any, monkeypatch: pytest.MonkeyPatch, total: int) -> None:
    from mlpublish.steps.monitor import monitor_drift

    events = recorded_events(monkeypatch)
    with broken_source(ws):
        spec = ws.spec(scoring={"sourceTable": BROKEN, "onContractViolation": "fail"})
        result = monitor_drift(context(spec))
    assert result.rows == total
    assert result.contract.rows_violating == 3 and {(v.column, v.rule) for v in result.contract.violations} == EXPECTED
    assert events[-1].run_id == result.monitor_run_id
