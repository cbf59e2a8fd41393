"""scoring.query is one read-only SELECT (mlpublish.spec.sql_query): refused at check with the field and where."""

from __future__ import annotations

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from mlpublish.spec.sql_query import query_problem, sql_dialect
from tests.conftest import churn_dict, write_spec
from tests.support.hostile_sql import HOSTILE_QUERIES


@pytest.mark.parametrize(("query", "said"), [pytest.param(q, s, id=i) for i, q, s in HOSTILE_QUERIES])
@pytest.mark.parametrize("connection", ["postgresql://u@127.0.0.1/wh", "sqlite:///wh.db"])
def test_a_hostile_query_is_refused_at_check_naming_the_field_and_what_was_found(tmp_path, query, said, connection):
    path = write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": connection}, scoring={"query": query}))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [(where, message)] = info.value.problems
    assert where.startswith("scoring.query (line ")
    assert said.split()[0] in message and ("refused" in message or "not" in message or "holds" in message)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT customer_id, recency_days FROM customer_features WHERE plan <> 'x;y'",
        "WITH recent AS (SELECT * FROM customer_features WHERE tenure_days < 90) SELECT * FROM recent",
        "SELECT * FROM customer_features UNION ALL SELECT * FROM customer_features_archive",
        "SELECT * FROM customer_features /* ; DROP TABLE support_tickets */",
        "SELECT * FROM customer_features -- a trailing comment",
        "SELECT * FROM customer_features;",
        "SELECT now(), random(), coalesce(a, 1), CAST(b AS float), upper(c) FROM t",
    ],
)
def test_an_ordinary_query_passes(query):
    assert query_problem(query, "postgres") is None
    assert query_problem(query, "sqlite") is None


def test_the_dialect_decides_what_a_comment_or_a_string_is():
    # PostgreSQL nests block comments and has dollar quotes: both hide the ';' there, not in SQLite
    nested = "SELECT 1 AS a /* /* */ ; DROP TABLE t; -- */"
    dollar = "SELECT $$ ; DROP TABLE t; $$ AS a"
    assert query_problem(nested, "postgres") is None and query_problem(dollar, "postgres") is None
    assert "statements" in query_problem(nested, "sqlite") and query_problem(dollar, "sqlite")
    # a backslash does not escape a quote in a standard PostgreSQL string: the DROP is a statement
    assert "statements" in query_problem(r"SELECT '\' ; DROP TABLE t; --' AS a", "postgres")


def test_positions_and_findings_are_named():
    assert query_problem("SELECT 1; SELECT 2", "postgres") == (
        "holds 2 statements (a second one starts after the ';' at line 1, column 9); expected exactly one SELECT"
    )
    assert "a DELETE inside the query" in query_problem("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x")
    assert "line 1, column 12" in query_problem("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x")
    assert query_problem("  ") == "is empty; expected one SELECT statement"


def test_the_dialect_comes_from_the_connection():
    assert sql_dialect("postgresql+psycopg2://u:p@h/db") == "postgres"
    assert sql_dialect("sqlite:///x.db") == "sqlite"
    assert sql_dialect("mysql+pymysql://h/db") == "mysql"
    assert sql_dialect("somedb://h") is None and sql_dialect(None) is None
