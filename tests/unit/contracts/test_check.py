"""contracts.check and contracts.enforce: each rule, the row masks, the modes (small frames, no services)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from mlpublish.contracts.check import ContractViolated, check_chunk
from mlpublish.contracts.enforce import RULES_COLUMN, ContractGuard, rule_results
from mlpublish.contracts.model import ColumnContract, DataContract


def contract() -> DataContract:
    return DataContract(
        model="m",
        table="wh.db.features",
        rows=100,
        learnedAt="2026-01-01T00:00:00+00:00",
        columns=[
            ColumnContract(name="age", type="number", kind="numerical", nullable=False, minimum=18, maximum=99),
            ColumnContract(
                name="plan",
                type="string",
                kind="categorical",
                nullable=True,
                maxNullFraction=0.5,
                categories=["1", "basic", "premium"],
            ),
            ColumnContract(name="visits", type="integer", kind="numerical", nullable=True, minimum=0),
        ],
    )


def clean() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4], "age": [20.0, 30, 40, 99], "plan": ["basic", "premium", None, "basic"],
                         "visits": [0, 3, 5, 7]})  # fmt: skip


def by_rule(check) -> dict[str, object]:
    return {f"{v.column}.{v.rule}": v for v in check.violations}


def test_a_clean_chunk_breaks_nothing():
    checked = check_chunk(contract(), clean())
    assert checked.violations == [] and checked.fatal == [] and not checked.bad.any()
    assert checked.rows == 4 and checked.nulls == {"plan": 1}


def test_each_row_rule_names_column_observed_value_count_and_rows():
    frame = clean().assign(
        age=[17.0, None, 40, 120], plan=["gold", "premium", "silver", "gold"], visits=[0, -2, 5, "many"]
    )
    checked = check_chunk(contract(), frame)
    found = by_rule(checked)
    assert set(found) == {"age.not_null", "age.in_range", "plan.in_set", "visits.type", "visits.in_range"}
    assert found["age.in_range"].count == 2 and found["age.in_range"].observed == "value 17 < minimum 18"
    assert found["age.not_null"].count == 1
    assert found["plan.in_set"].count == 3
    assert found["plan.in_set"].observed.startswith("category 'gold', 'silver' not in [1, basic, premium]")
    assert found["visits.type"].observed == "value 'many' is not a number" and found["visits.type"].count == 1
    assert found["visits.in_range"].observed == "value -2 < minimum 0"
    assert checked.masks["age.in_range"].tolist() == [True, False, False, True]
    assert checked.masks["visits.type"].tolist() == [False, False, False, True]
    assert checked.bad.tolist() == [True, True, True, True]
    assert checked.rules_of_rows(np.array([1, 3])) == [
        "age.not_null; visits.in_range",
        "age.in_range; plan.in_set; visits.type",
    ]
    assert checked.fatal == []


def test_a_maximum_is_named_when_no_value_is_below_the_minimum():
    found = by_rule(check_chunk(contract(), clean().assign(age=[20.0, 100, 150, 30])))
    assert found["age.in_range"].observed == "value 150 > maximum 99" and found["age.in_range"].count == 2


def test_categories_compare_as_the_strings_the_model_sees():
    # an integer 1 (SQLite hands back numbers in a text column) is the category "1"
    frame = clean().assign(plan=pd.Series([1, "basic", 2, None], dtype=object))
    found = by_rule(check_chunk(contract(), frame))
    assert found["plan.in_set"].count == 1 and "'2'" in found["plan.in_set"].observed


def test_a_missing_column_and_a_changed_type_are_fatal():
    checked = check_chunk(contract(), clean().drop(columns="age"))
    assert [(v.column, v.rule, v.observed) for v in checked.fatal] == [("age", "present", "column missing")]
    checked = check_chunk(contract(), clean().assign(age=["a", "b", None, "d"]))
    assert [(v.column, v.rule) for v in checked.fatal] == [("age", "type")]
    assert checked.fatal[0].observed.startswith("type string, expected number")
    assert "age.type" not in checked.masks  # a whole column: no row is to blame


def test_max_null_fraction_is_chunk_level():
    checked = check_chunk(contract(), clean().assign(plan=[None, None, None, "basic"]))
    found = by_rule(checked)
    assert found["plan.max_null_fraction"].observed == "null fraction 0.75 > 0.5"
    assert found["plan.max_null_fraction"].count == 3
    assert checked.masks == {} and checked.fatal == [] and checked.nulls == {"plan": 3}


def test_boolean_and_datetime_types():
    c = DataContract(
        model="m",
        table="t",
        rows=1,
        learnedAt="2026-01-01T00:00:00+00:00",
        columns=[
            ColumnContract(name="flag", type="boolean", kind="categorical", nullable=True),
            ColumnContract(name="at", type="datetime", kind="categorical", nullable=True),
        ],
    )
    frame = pd.DataFrame({"flag": ["true", "no", "maybe"], "at": ["2026-01-02", "not a date", None]})
    found = by_rule(check_chunk(c, frame))
    assert found["flag.type"].count == 1 and "'maybe'" in found["flag.type"].observed
    assert found["at.type"].count == 1 and "'not a date'" in found["at.type"].observed


def broken() -> pd.DataFrame:
    return clean().assign(age=[17.0, 30, 40, 50], plan=["basic", "gold", None, "basic"])


def test_fail_raises_with_every_violation():
    guard = ContractGuard(contract(), "fail", label="m v1")
    with pytest.raises(ContractViolated) as err:
        guard.admit(broken())
    text = str(err.value)
    assert "data contract of m v1" in text and "onContractViolation: fail" in text
    assert "age: in_range (value 17 < minimum 18) in 1 row(s)" in text and "plan: in_set" in text
    assert guard.admit(clean())[0].shape == clean().shape  # a clean chunk passes


def test_warn_scores_every_row_and_counts():
    guard = ContractGuard(contract(), "warn", label="m v1")
    for _ in range(2):
        admitted, held = guard.admit(broken())
        assert len(admitted) == 4 and held is None
    summary = guard.summary("m v1")
    assert (summary.rows_checked, summary.rows_violating, summary.rows_quarantined) == (8, 4, 0)
    assert [(v.column, v.rule, v.count) for v in summary.violations] == [("age", "in_range", 2), ("plan", "in_set", 2)]
    assert "4 of 8 rows violating" in summary.line()


def test_warn_cannot_score_a_value_of_another_type():
    guard = ContractGuard(contract(), "warn", label="m v1")
    with pytest.raises(ContractViolated, match="visits: type"):
        guard.admit(clean().assign(visits=[1, "x", 2, 3]))


def test_quarantine_holds_back_the_offending_rows_with_their_rules():
    guard = ContractGuard(contract(), "quarantine", label="m v1", quarantine_table="wh.p_quarantine")
    admitted, held = guard.admit(broken())
    assert admitted["id"].tolist() == [3, 4]
    assert held["id"].tolist() == ["1", "2"]  # as text
    assert held[RULES_COLUMN].tolist() == ["age.in_range", "plan.in_set"]
    assert held["age"].tolist() == ["17.0", "30.0"]
    summary = guard.summary("m v1")
    assert summary.rows_quarantined == 2 and summary.quarantine_table == "wh.p_quarantine"


@pytest.mark.parametrize("mode", ["fail", "warn", "quarantine"])
def test_every_mode_fails_on_a_missing_column(mode):
    guard = ContractGuard(contract(), mode, label="m v1")
    with pytest.raises(ContractViolated, match="cannot be scored.*age: present"):
        guard.admit(clean().drop(columns="age"))


def test_a_guard_travels_and_merges_its_tally():
    guard = ContractGuard(contract(), "warn", label="m v1")
    task = pickle.loads(pickle.dumps(guard)).fresh()
    task.admit(broken())
    guard.merge(task.counts())
    guard.merge(task.counts())
    summary = guard.summary("m v1")
    assert summary.rows_checked == 8 and summary.violations[0].count == 2


def test_rule_results_one_per_rule():
    guard = ContractGuard(contract(), "warn", label="m v1")
    guard.admit(broken())
    results = rule_results(contract(), guard.summary("m v1"), 4)
    assert [(r["column"], r["rule"], r["status"]) for r in results] == [
        (r.column, r.rule, "Failed" if (r.column, r.rule) in {("age", "in_range"), ("plan", "in_set")} else "Success")
        for r in contract().rules()
    ]
    failed = next(r for r in results if r["status"] == "Failed")
    assert failed["observed"] == "value 17 < minimum 18" and failed["count"] == 1 and failed["rows"] == 4
