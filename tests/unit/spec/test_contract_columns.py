"""data.contract names feature columns only: `mlpublish check` refuses any other, naming the field and its line."""

from __future__ import annotations

from mlpublish.spec import parse_spec
from tests.support.spec_text import churn, dump, line_of, parse_error, path_of


def test_a_stated_column_or_added_column_that_is_no_feature_is_refused():
    d = churn()
    d["data"]["contract"] = {
        "columns": {"recency_days": {"minimum": 0}, "churned": {"nullable": False}},
        "addedColumns": ["plan", "customer_id"],
    }
    text = dump(d)
    problems = {path_of(loc): (loc, msg) for loc, msg in parse_error(text).problems}
    assert set(problems) == {"data.contract.columns.churned", "data.contract.addedColumns[1]"}
    loc, msg = problems["data.contract.columns.churned"]
    assert msg == "'churned' is not a feature: a contract holds mlFeatures only"
    # the line of its value (the mapping under the key), as for every field
    assert loc.endswith(f"(line {line_of(text, '    churned:') + 1})")
    assert "'customer_id' is not a feature" in problems["data.contract.addedColumns[1]"][1]


def test_feature_columns_are_accepted():
    d = churn()
    d["data"]["contract"] = {"columns": {"plan": {"categories": ["basic", "premium"]}}, "addedColumns": ["plan"]}
    spec = parse_spec(dump(d), "churn.yaml")
    assert spec.data.contract.columns["plan"].categories == ["basic", "premium"]
