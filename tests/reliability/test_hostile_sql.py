"""Issue 33: a hostile ``scoring.query`` never changes the warehouse (real PostgreSQL and SQLite).

Two defences, each tested alone. The check (``mlpublish check``, load_spec) refuses every hostile query with the
field and the position. Then, with that check switched off in the reader too (the parser bypassed), the readers
themselves are called with each query: the type probe, the monitor's chunked read, the count and the scoring
loop (which writes predictions on one connection while it reads). Every read runs where writes are refused
(PostgreSQL: sessions whose transactions are read-only; SQLite: ``PRAGMA query_only``, and its driver runs one
statement at a time), so afterwards the warehouse holds the same tables with the same rows, and no new one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from mlpublish.warehouse import Warehouse
from tests.conftest import churn_dict, write_spec
from tests.support.hostile_sql import HOSTILE_QUERIES, STACKED
from tests.support.mlflow_server import postgres_database

pytestmark = pytest.mark.integration

COLUMNS = ["customer_id", "recency_days", "frequency", "monetary", "tenure_days", "support_tickets", "plan"]
# what a query could do beyond the catalogue: the pwned table of the issue, rows of support_tickets
QUERIES = [pytest.param(q, id=i) for i, q, _ in HOSTILE_QUERIES] + [
    pytest.param(
        "SELECT * FROM customer_features) x; COMMIT; CREATE TABLE pwned AS SELECT 1 AS a; "
        "DELETE FROM support_tickets; SELECT * FROM (SELECT * FROM customer_features",
        id="stacked-commit-first",
    ),
    pytest.param(
        "SELECT * FROM customer_features) x; SELECT * INTO pwned FROM customer_features; "
        "SELECT * FROM (SELECT * FROM customer_features",
        id="stacked-select-into",
    ),
]


def _state(url: str) -> dict[str, int]:
    """Table name -> row count: what no query may change (the scoring loop's own predictions table aside)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {
                n: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()
                for n in sorted(names)
                if n != "hostile_predictions"
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory, warehouse_template) -> Iterator[dict[str, str]]:
    """The demo warehouse twice: a SQLite file and a PostgreSQL database (customer_features, support_tickets)."""
    import pandas as pd

    root = tmp_path_factory.mktemp("hostile_sql")
    sqlite_path = root / "warehouse.db"
    shutil.copy(warehouse_template, sqlite_path)
    source = sa.create_engine(f"sqlite:///{warehouse_template}")
    with postgres_database("hostile_sql") as pg:
        target = sa.create_engine(pg)
        for table in ("customer_features", "support_tickets"):
            pd.read_sql_table(table, source).to_sql(table, target, index=False)
        target.dispose()
        yield {"sqlite": f"sqlite:///{sqlite_path}", "postgresql": pg}
    source.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def warehouse(request, warehouses) -> str:
    return warehouses[request.param]


@pytest.mark.parametrize("query", QUERIES)
def test_check_refuses_the_query_naming_the_field(tmp_path, warehouse, query):
    path = write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": warehouse}, scoring={"query": query}))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [(where, message)] = info.value.problems
    assert where.startswith("scoring.query (line ") and ("line " in message or "found" in message)


def test_the_issues_example_through_the_cli_changes_nothing(tmp_path, warehouses):
    url = warehouses["postgresql"]
    before = _state(url)
    spec = write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": url}, scoring={"query": STACKED}))
    for command in ("check", "score"):
        out = subprocess.run(
            [str(Path(sys.executable).parent / "mlpublish"), command, str(spec)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 2, out.stdout + out.stderr
        assert "scoring.query (line " in out.stdout + out.stderr and "column 32" in out.stdout + out.stderr
    assert _state(url) == before


@pytest.mark.parametrize("query", QUERIES)
def test_with_the_parser_bypassed_the_readers_cannot_write(monkeypatch, warehouse, query):
    from mlpublish.warehouse import sources
    from mlpublish.warehouse.scoring import ScoringRun, ScoringSource, write_predictions

    monkeypatch.setattr(sources, "query_problem", lambda *_: None)  # as if the check had missed it
    before = _state(warehouse)
    assert {"customer_features", "support_tickets"} <= set(before) and "pwned" not in before
    wh = Warehouse(warehouse, "warehouse")
    source = ScoringSource(wh, COLUMNS, table=None, query=query)
    run = ScoringRun("m", "1", "run", "hostile", datetime(2026, 1, 1, tzinfo=UTC))

    def predict(frame):
        return frame[["customer_id"]].assign(prediction=0)

    attempts = {
        "types": source.types,
        "frames": lambda: list(source.frames(100)),
        "count": source.count,
        "scoring loop": lambda: write_predictions(
            wh,
            source,
            predict,
            table_name="hostile_predictions",
            keys=["customer_id"],
            probability=False,
            run=run,
            chunk_size=100,
        ),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
        except Exception:  # the database refuses the query (syntax, read-only): what matters is below
            pass
        assert _state(warehouse) == before, name
    wh.dispose()


def test_a_read_engine_session_cannot_write_and_the_writer_still_can(warehouse):
    wh = Warehouse(warehouse, "warehouse")
    with wh.read_engine.connect() as conn:
        with pytest.raises(sa.exc.SQLAlchemyError) as info:
            conn.exec_driver_sql("CREATE TABLE pwned (a int)")
    assert "read-only" in str(info.value) or "readonly" in str(info.value)
    with wh.engine.begin() as conn:  # the writer's pool never gets a read-only connection
        conn.exec_driver_sql("CREATE TABLE mlp_writer_check (a int)")
        conn.exec_driver_sql("DROP TABLE mlp_writer_check")
    wh.dispose()
    assert "pwned" not in _state(warehouse)
