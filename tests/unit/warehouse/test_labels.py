"""Labels joined to predictions (mlpublish.warehouse.labels) on a SQLite file: each label meets the latest
scoring run that scored its keys at or before the label time, one row per role; errors name table and column."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from mlpublish.errors import WarehouseError
from mlpublish.warehouse import Warehouse
from mlpublish.warehouse.labels import labelled_predictions

PREDICTIONS = [
    # key, prediction, probability, role, version, scoring run, scored at
    (1, 0, 0.20, "champion", "1", "r1", "2026-03-01 10:00:00.000000"),
    (1, 1, 0.70, "challenger", "2", "r1", "2026-03-01 10:00:00.000000"),
    (1, 1, 0.60, "champion", "1", "r2", "2026-03-02 10:00:00.000000"),
    (1, 1, 0.90, "challenger", "2", "r2", "2026-03-02 10:00:00.000000"),
    (2, 0, 0.10, "champion", "1", "r1", "2026-03-01 10:00:00.000000"),
    (2, 0, 0.30, "challenger", "2", "r1", "2026-03-01 10:00:00.000000"),
    (3, 1, 0.80, "champion", "3", "r3", "2026-03-03 10:00:00.000000"),  # a later champion, no challenger
]


@pytest.fixture
def wh(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE preds (id BIGINT, prediction BIGINT, probability FLOAT, model_name TEXT, "
                "model_role TEXT, model_version TEXT, model_run_id TEXT, scoring_run_id TEXT, scored_at TIMESTAMP)"
            )
        )
        for row in PREDICTIONS:
            conn.execute(
                sa.text("INSERT INTO preds VALUES (:k, :p, :q, 'm', :r, :v, 'run', :s, :t)"),
                dict(zip("kpqrvst", row, strict=True)),
            )
        conn.execute(sa.text("CREATE TABLE labels (id INTEGER, outcome INTEGER, seen TEXT)"))
        for key, outcome, seen in [
            (1, 1, "2026-03-01T12:00:00Z"),  # after run 1 only
            (1, 1, "2026-03-02T11:00:00+00:00"),  # after run 2: run 2's rows
            (2, 0, "2026-03-02T09:00:00+02:00"),  # 07:00 UTC: run 1 is the latest that scored key 2
            (3, 0, "2026-03-03T09:59:00Z"),  # before key 3 was ever scored: no prediction to judge
            (2, None, "2026-03-02T12:00:00Z"),  # no outcome: not a label
        ]:
            conn.execute(sa.text("INSERT INTO labels VALUES (:k, :o, :s)"), {"k": key, "o": outcome, "s": seen})
    return Warehouse(url, "w")


def read(wh, **kw):
    args = dict(
        labels_table="labels",
        predictions_table="preds",
        keys=["id"],
        label_column="outcome",
        time_column="seen",
        until=datetime(2026, 3, 10, tzinfo=UTC),
    )
    return labelled_predictions(wh, **{**args, **kw})


def test_each_label_meets_the_latest_scoring_run_before_it_for_both_roles(wh):
    frame = read(wh).sort_values(["label_time", "model_role"])
    got = [
        (r.label_time.strftime("%d %H:%M"), r.model_role, r.model_version, r.prediction, r.probability, r.label)
        for r in frame.itertuples()
    ]
    assert got == [
        ("01 12:00", "challenger", "2", 1, 0.70, 1),
        ("01 12:00", "champion", "1", 0, 0.20, 1),
        ("02 07:00", "challenger", "2", 0, 0.30, 0),
        ("02 07:00", "champion", "1", 0, 0.10, 0),
        ("02 11:00", "challenger", "2", 1, 0.90, 1),
        ("02 11:00", "champion", "1", 1, 0.60, 1),
    ]
    assert str(frame["label_time"].dt.tz) == "UTC"


def test_only_labels_in_since_until_are_read(wh):
    frame = read(wh, since=datetime(2026, 3, 2, tzinfo=UTC), until=datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert set(frame["label_time"].dt.strftime("%d %H:%M")) == {"02 07:00"}


def test_a_table_from_before_model_role_is_all_champion(wh):
    with wh.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE old AS SELECT id, prediction, model_version, scored_at FROM preds"))
    frame = read(wh, predictions_table="old")
    assert set(frame["model_role"]) == {"champion"} and frame["probability"].isna().all()


def test_missing_tables_and_columns_are_named_and_no_predictions_yet_joins_nothing(wh):
    with pytest.raises(
        WarehouseError, match=r"labels table \(monitoring.labels.table\) w.main.main.nolabels: .*not found"
    ):
        read(wh, labels_table="nolabels")
    with pytest.raises(
        WarehouseError, match=r"w.main.main.labels has no column 'observed' \(monitoring.labels.timeColumn\)"
    ):
        read(wh, time_column="observed")
    with pytest.raises(WarehouseError, match=r"has no column 'churned' \(monitoring.labels.labelColumn\)"):
        read(wh, label_column="churned")
    # nothing scored yet is no mistake: no prediction to judge, nothing joined (the monitor records no window)
    assert read(wh, predictions_table="nopreds").empty
    with wh.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE preds_without_version (customer_id INTEGER, prediction REAL)")
    with pytest.raises(WarehouseError, match=r"predictions table w.main.main.preds_without_version has no column"):
        read(wh, predictions_table="preds_without_version")


def test_the_join_only_reads(wh):
    before = sa.inspect(wh.engine).get_table_names()
    read(wh)
    assert sa.inspect(wh.engine).get_table_names() == before
