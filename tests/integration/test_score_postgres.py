"""score on a real PostgreSQL warehouse: COPY in one transaction, server-side cursor, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from tests.conftest import ROOT
from tests.support import contract_scenarios
from tests.support.score_fixtures import context, copy_of, postgres_champion, prediction_rows

pytestmark = pytest.mark.integration

FEATURES = "recency_days, frequency, monetary, tenure_days, support_tickets, plan"


@pytest.fixture(scope="module")
def pg_published(tmp_path_factory, warehouse_template):
    root = tmp_path_factory.mktemp("pg_published")
    with postgres_champion(root, warehouse_template, "mlp_score") as (url, _):
        yield root, url
        # engines of the tests hold connections: the database is dropped WITH (FORCE)


@pytest.fixture
def ws(pg_published, tmp_path, monkeypatch):
    root, url = pg_published
    ws = copy_of(root, tmp_path, monkeypatch, warehouse_url=url)
    yield ws
    with sa.create_engine(url).begin() as conn:  # tests share the database: leave no predictions behind
        conn.execute(sa.text("DROP TABLE IF EXISTS churn_predictions"))


def test_copy_scoring_is_idempotent_per_run(ws):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    spec = ws.spec(scoring={"chunkSize": 500})
    first = score_batch(context(spec), scoring_run_id="pg-1")
    rows = prediction_rows(eng)
    assert first.rows == len(rows) == 1500 and first.table_fqn.endswith(".public.churn_predictions")
    score_batch(context(spec), scoring_run_id="pg-1")
    assert prediction_rows(eng) == rows
    score_batch(context(spec), scoring_run_id="pg-2")
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM churn_predictions")).scalar_one() == 3000
        types = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'churn_predictions'"
                )
            ).fetchall()
        )
    assert types["prediction"] == "bigint" and types["probability"] == "double precision"
    assert types["scored_at"] == "timestamp with time zone"


def test_server_error_mid_stream_rolls_back_the_whole_run(ws):
    from mlpublish.steps import score_batch

    eng = sa.create_engine(ws.warehouse_url)
    score_batch(context(ws.spec(scoring={"chunkSize": 100})), scoring_run_id="pg-night")
    before = prediction_rows(eng)
    with eng.begin() as conn:  # a fresh table is scanned in the order it was written
        conn.execute(sa.text("CREATE TABLE ordered_input AS SELECT * FROM customer_features ORDER BY customer_id"))
    # The server computes rows as the cursor fetches them (no ORDER BY: a sort would compute them all
    # before the first fetch), so the division fails only once the cursor reaches customer 1201.
    query = (
        "SELECT customer_id, recency_days, frequency, tenure_days, support_tickets, plan, "
        "monetary / CASE WHEN customer_id > 1200 THEN 0 ELSE 1 END AS monetary FROM ordered_input"
    )
    written = []
    with pytest.raises(WarehouseError) as err:
        score_batch(
            context(ws.spec("q.yaml", scoring={"query": query, "chunkSize": 100})),
            scoring_run_id="pg-night",
            on_chunk=lambda n, rows: written.append(rows),
        )
    assert "division by zero" in str(err.value) and "nothing written" in str(err.value)
    assert written and written[-1] >= 1000
    assert prediction_rows(eng) == before


def _worker(mode: str, env: dict[str, str], *specs: Path) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.score_worker", mode, *map(str, specs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_stays_flat_as_the_input_grows(ws):
    """Scoring 30x more rows must not raise peak RSS noticeably; the naive baseline's does (the test's control)."""
    eng = sa.create_engine(ws.warehouse_url)
    with eng.begin() as conn:
        for name, copies in (("small_input", 2), ("large_input", 60)):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE {name} AS SELECT customer_id + g * 100000 AS customer_id, {FEATURES} "
                    f"FROM customer_features CROSS JOIN generate_series(0, {copies - 1}) g"
                )
            )
    small = ws.spec("small.yaml", scoring={"sourceTable": "small_input", "chunkSize": 2000})
    large = ws.spec("large.yaml", scoring={"sourceTable": "large_input", "chunkSize": 2000})
    ours_small, ours_large = _worker("ours", ws.env(), small, large)
    (naive,) = _worker("naive", ws.env(), large)
    assert (ours_small["rows"], ours_large["rows"], naive["rows"]) == (3000, 90000, 90000)
    growth = (ours_large["growth_kb"] - ours_small["growth_kb"]) / 1024
    naive_growth = naive["growth_kb"] / 1024
    print(
        f"peak RSS growth: ours {ours_small['growth_kb'] / 1024:.1f} MB after 3k rows, "
        f"{ours_large['growth_kb'] / 1024:.1f} MB after 90k more; naive {naive_growth:.1f} MB for 90k rows"
    )
    assert naive_growth > 30, "the control should grow with the input; if not, this measurement cannot tell"
    assert growth < 10, f"peak RSS grew {growth:.1f} MB while scoring 90k rows after 3k"


# The champion's data contract enforced (tests/support/contract_scenarios.py; the same on SQLite)
def _rows(ws) -> int:
    with sa.create_engine(ws.warehouse_url).connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM customer_features")).scalar()


def test_contract_fail_writes_nothing(ws, monkeypatch):
    contract_scenarios.fail_writes_nothing(ws, monkeypatch)


def test_contract_warn_scores_every_row_and_reports(ws, monkeypatch):
    contract_scenarios.warn_scores_every_row(ws, monkeypatch, _rows(ws))


def test_contract_quarantine_holds_back_the_broken_rows(ws):
    contract_scenarios.quarantine_holds_back_the_broken_rows(ws, _rows(ws))


def test_contract_missing_column_or_changed_type_fails_every_mode(ws):
    contract_scenarios.unscorable_fails_in_every_mode(ws)


def test_contract_monitor_counts_and_never_fails(ws, monkeypatch):
    contract_scenarios.monitor_counts_without_failing(ws, monkeypatch, _rows(ws))
