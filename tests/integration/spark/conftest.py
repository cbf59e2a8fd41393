"""One published champion on PostgreSQL for every Spark test module (the chain runs once)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.score_fixtures import copy_of, postgres_champion


@pytest.fixture(scope="session")
def pg_published(tmp_path_factory, warehouse_template):
    root = tmp_path_factory.mktemp("spark_published")
    with postgres_champion(root, warehouse_template, "mlp_spark") as (url, rows):
        yield root, url, rows


@pytest.fixture
def ws(pg_published, tmp_path, monkeypatch):
    root, url, _ = pg_published
    ws = copy_of(root, tmp_path, monkeypatch, warehouse_url=url)
    yield ws
    with sa.create_engine(url).begin() as conn:  # the modules share the database: leave no predictions behind
        conn.execute(sa.text("DROP TABLE IF EXISTS churn_predictions"))


def by_key(engine, run_id, table="churn_predictions"):
    """{key: (prediction, probability, model_version, model_run_id)} of one scoring run; fails on a repeated key."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT customer_id, prediction, probability, model_version, model_run_id "
                f"FROM {table} WHERE scoring_run_id = :r"
            ),
            {"r": run_id},
        ).fetchall()
    out = {r[0]: r[1:] for r in rows}
    assert len(out) == len(rows), "a key was written twice"
    return out


def assert_same_predictions(local, other):
    assert local.keys() == other.keys() and local
    for key, (pred, proba, *run) in local.items():
        o_pred, o_proba, *o_run = other[key]
        assert o_pred == pred and o_run == run, key
        assert abs(o_proba - proba) <= 1e-9, key


def shifted_copy(url: str, table: str) -> None:
    """``table``: customer_features shifted as the demo's drift shifts it (the shared table stays as it is)."""
    from mlpublish.demo.data import DRIFT_SQL

    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(sa.text(f"CREATE TABLE {table} AS SELECT * FROM customer_features"))
        for sql in DRIFT_SQL:
            conn.execute(sa.text(sql.replace("customer_features", table)))


def openmetadata_seeded(local, spec, settings):
    """The OpenMetadata sink (local catalog ``local`` as its outbox) on an emulator already holding what the
    published chain put there: the model (its features, without their source tables) and its training table."""
    from mlpublish.catalog.entity import table_event
    from mlpublish.catalog.events import UpsertMlModel
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog

    model = local.get(spec.fqn)
    (training,) = [e["fromEntity"]["fqn"] for e in local.lineage(spec.fqn, depth=1)["upstreamEdges"]]
    features = [{"name": f["name"], "dataType": f["dataType"]} for f in model["mlFeatures"]]
    entity = {**{k: model[k] for k in ("name", "algorithm", "target", "service")}, "mlFeatures": features}
    catalog = OpenMetadataCatalog(settings, local)
    columns = {c["name"]: c["dataType"] for c in local.get(training)["columns"]}
    catalog.publish([table_event(training, columns), UpsertMlModel(fqn=spec.fqn, entity=entity)])
    return catalog, training
