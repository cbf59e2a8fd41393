"""Learning a contract from training rows (pandera) and the spec's stated rules on top."""

from __future__ import annotations

import pandas as pd
import pytest

from mlpublish.contracts import DataContract
from mlpublish.contracts.learn import (
    MAX_CATEGORIES,
    QUANTILES,
    category_strings,
    learn_contract,
    learned_max_null_fraction,
    summary,
)
from tests.support.contract_data import contract_spec

AT = "2026-03-01T00:00:00+00:00"


def learn(frame, **contract):
    return learn_contract(frame, contract_spec(contract), table_fqn="wh.db.sc.toy", learned_at=AT)


def test_types_kinds_and_the_contracts_identity(frame):
    c = learn(frame)
    assert [col.name for col in c.columns] == ["age", "balance", "visits", "plan", "region", "active"]
    types = {col.name: (col.type, col.kind) for col in c.columns}
    assert types == {
        "age": ("integer", "numerical"),
        "balance": ("number", "numerical"),  # Decimal objects, as the model sees them: numbers
        "visits": ("integer", "numerical"),  # whole floats with nulls: the NULLs made them float
        "plan": ("string", "categorical"),
        "region": ("integer", "categorical"),
        "active": ("boolean", "numerical"),
    }
    assert (c.model, c.table, c.rows, c.learnedAt) == ("toy", "wh.db.sc.toy", 100, AT)
    assert summary(c) == f"6 columns, {len(c.rules())} rules (0 stated), learned from 100 rows"


def test_a_float_column_with_fractions_or_without_nulls_is_a_number():
    spec = contract_spec()
    whole = pd.DataFrame({"age": [1.0, 2.0, 3.0], "balance": [1.5, None, 2.0], "visits": [1.0, 2.0, 4.0]})
    whole = whole.assign(plan=["a", "b", "c"], region=["x", "y", "z"], active=[True, False, True])
    c = learn_contract(whole, spec, table_fqn="t", learned_at=AT)
    assert [c.column(n).type for n in ("age", "balance", "visits")] == ["number", "number", "number"]


def test_nulls_nullable_and_the_learned_max_null_fraction(frame):
    c = learn(frame)
    assert c.column("age").nullable is False and c.column("age").maxNullFraction is None
    visits = c.column("visits")
    assert visits.nullable is True and visits.nullFraction == pytest.approx(0.10)
    assert visits.maxNullFraction == pytest.approx(0.20)  # 0.10 + max(0.05, 0.10)
    region = c.column("region")
    assert region.nullFraction == pytest.approx(0.02) and region.maxNullFraction == pytest.approx(0.07)
    assert learned_max_null_fraction(0.7) == 1.0 and learned_max_null_fraction(0.0) == pytest.approx(0.05)
    rules = {r.name for r in c.rules()}
    assert "age.not_null" in rules and "visits.max_null_fraction" in rules and "visits.not_null" not in rules


def test_ranges_and_quantiles_of_numerical_features(frame):
    c = learn(frame)
    age = c.column("age")
    assert (age.minimum, age.maximum) == (18.0, 117.0)
    assert list(age.quantiles) == [f"{q:g}" for q in QUANTILES]
    assert age.quantiles["0.5"] == pytest.approx(67.5)
    balance = c.column("balance")
    assert (balance.minimum, balance.maximum) == (0.25, 99.25)
    assert c.column("plan").minimum is None and c.column("plan").quantiles == {}
    assert c.column("active").minimum is None  # booleans have no range
    off = learn(frame, learnRanges=False)
    assert off.column("age").minimum is None and off.column("age").maximum is None
    assert off.column("age").quantiles == age.quantiles  # quantiles are observed, not rules


def test_categories_as_sorted_strings(frame):
    c = learn(frame)
    assert c.column("plan").categories == ["basic", "gold", "silver"]
    assert c.column("region").categories == ["1", "2", "3"]  # not "1.0": the floats were whole
    assert c.column("age").categories is None
    assert learn(frame, learnCategories=False).column("plan").categories is None
    assert list(category_strings(pd.Series([2.0, None, 1.5]))) == ["2.0", "1.5"]


def test_an_identifier_like_column_learns_no_category_set(frame):
    many = pd.concat([frame] * (MAX_CATEGORIES // 100 + 1), ignore_index=True)
    many["plan"] = [f"id-{i}" for i in range(len(many))]
    assert learn(many).column("plan").categories is None
    assert learn(frame.assign(region=None)).column("region").categories is None  # nothing seen: no set


def test_stated_rules_replace_the_learned_ones_and_are_marked(frame):
    c = learn(
        frame,
        columns={
            "age": {"minimum": 0},
            "plan": {"categories": ["gold", "basic", "platinum"]},
            "region": {"nullable": False},
            "visits": {"maxNullFraction": 0.5},
            "balance": {"nullable": True},
        },
    )
    age = c.column("age")
    assert (age.minimum, age.maximum, age.stated) == (0.0, 117.0, ["in_range"])  # the learned maximum stays
    assert c.column("plan").categories == ["basic", "gold", "platinum"] and c.column("plan").stated == ["in_set"]
    region = c.column("region")
    assert (region.nullable, region.maxNullFraction, region.stated) == (False, None, ["not_null"])
    assert region.nullFraction == pytest.approx(0.02)  # still what training saw
    visits = c.column("visits")
    assert (visits.nullable, visits.maxNullFraction, visits.stated) == (True, 0.5, ["max_null_fraction"])
    balance = c.column("balance")
    assert (balance.nullable, balance.maxNullFraction) == (True, None)  # nullable, any share: no rule
    stated = {r.name for r in c.rules() if r.stated}
    assert stated == {"age.in_range", "plan.in_set", "region.not_null", "visits.max_null_fraction"}
    assert summary(c).endswith("(4 stated), learned from 100 rows")


def test_stated_rules_hold_without_learning(frame):
    c = learn(
        frame,
        learnRanges=False,
        learnCategories=False,
        columns={"age": {"maximum": 150}, "plan": {"categories": [1, "x"]}},
    )
    assert (c.column("age").minimum, c.column("age").maximum) == (None, 150.0)
    assert c.column("plan").categories == ["1", "x"]
    assert c.column("balance").minimum is None


def test_the_pandera_schema_is_kept_and_the_contract_round_trips(frame):
    c = learn(frame, addedColumns=["active"])
    assert c.engine["library"] == "pandera" and c.engine["version"]
    schema = c.engine["schema"]
    assert schema["schema_type"] == "dataframe" and set(schema["columns"]) == set(frame.columns) - {"y"}
    assert schema["columns"]["age"]["dtype"] == "int64"
    assert schema["columns"]["visits"]["nullable"] is True
    assert c.addedColumns == ["active"]
    assert DataContract.from_json(c.to_json()) == c
