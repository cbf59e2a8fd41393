"""A candidate's contract against the champion's: every kind of change, which block, and how they read."""

from __future__ import annotations

from typing import Any

from mlpublish.contracts.diff import diff_contracts
from mlpublish.contracts.model import ColumnContract, DataContract
from mlpublish.spec.contract import CONTRACT_CHANGES, ContractSpec


def col(name: str, **fields: Any) -> ColumnContract:
    base: dict[str, Any] = {"type": "integer", "kind": "numerical", "nullable": False, "minimum": 0.0, "maximum": 9.0}
    return ColumnContract(name=name, **{**base, **fields})


def contract(*columns: ColumnContract) -> DataContract:
    return DataContract(
        model="m", table="wh.db.sc.t", rows=10, learnedAt="2026-01-01T00:00:00+00:00", columns=list(columns)
    )


PLAN = {"type": "string", "kind": "categorical", "minimum": None, "maximum": None}
CHAMPION = contract(col("age"), col("plan", categories=["basic", "gold", "silver"], **PLAN), col("gone"))


def changes(candidate: DataContract, **spec: Any) -> list[tuple[str, str, str, str, list[str], bool]]:
    found = diff_contracts(CHAMPION, candidate, ContractSpec(**spec))
    return [(c.change, c.column, c.before, c.after, c.values, c.blocking) for c in found]


def test_the_same_contract_has_no_change():
    assert diff_contracts(CHAMPION, CHAMPION, ContractSpec()) == []


def test_every_kind_of_change_names_column_before_and_after():
    candidate = contract(
        col("age", type="number", minimum=-1.0, nullable=True, maxNullFraction=0.1),
        col("plan", categories=["basic", "gold", "platinum"], **PLAN),
        col("new"),
    )
    assert changes(candidate) == [
        ("changed_type", "age", "integer (numerical)", "number (numerical)", [], True),  # default blocking
        ("changed_range", "age", "[0, 9]", "[-1, 9]", [], False),
        ("changed_nullability", "age", "not null", "nullable", [], False),
        ("removed_category", "plan", "{basic, gold, silver}", "{basic, gold, platinum}", ["silver"], False),
        ("added_category", "plan", "{basic, gold, silver}", "{basic, gold, platinum}", ["platinum"], False),
        ("added_column", "new", "absent", "integer (numerical)", [], False),
        ("removed_column", "gone", "integer (numerical)", "absent", [], False),
    ]
    assert {c[0] for c in changes(candidate)} == set(CONTRACT_CHANGES)


def test_blocking_follows_the_candidates_spec():
    candidate = contract(col("age"), col("plan", categories=["basic", "gold"], **PLAN))
    found = diff_contracts(CHAMPION, candidate, ContractSpec(blocking=["removed_category", "removed_column"]))
    assert [(c.change, c.blocking) for c in found] == [("removed_category", True), ("removed_column", True)]
    assert found[0].describe() == "plan: removed_category silver ({basic, gold, silver} -> {basic, gold})"
    assert found[1].describe() == "gone: removed_column (integer (numerical) -> absent)"
    assert not any(c.blocking for c in diff_contracts(CHAMPION, candidate, ContractSpec(blocking=[])))


def test_a_column_in_added_columns_is_no_finding():
    candidate = contract(*CHAMPION.columns, col("new"))
    assert changes(candidate, addedColumns=["new"]) == []
    assert [c[0] for c in changes(candidate)] == ["added_column"]


def test_a_kind_change_is_a_type_change_and_a_dropped_category_set_no_category_change():
    candidate = contract(col("age", kind="categorical", minimum=None, maximum=None), col("plan", **PLAN), col("gone"))
    found = changes(candidate)
    assert found[0][:4] == ("changed_type", "age", "integer (numerical)", "integer (categorical)")
    assert found[1][:4] == ("changed_range", "age", "[0, 9]", "no range")
    assert len(found) == 2  # plan: learnCategories off on one side accepts every value, no category change


def test_a_one_sided_bound_reads_as_open():
    candidate = contract(col("age", maximum=None), *CHAMPION.columns[1:])
    assert changes(candidate) == [("changed_range", "age", "[0, 9]", "[0, inf]", [], False)]
