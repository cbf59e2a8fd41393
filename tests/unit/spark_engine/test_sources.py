"""The Spark engine's JDBC options (mlpublish.spark_engine.sources): the driver they need and where it is
looked for; PostgreSQL only."""

from __future__ import annotations

import pytest

from mlpublish.spark_engine.session import SparkEngineError
from mlpublish.spark_engine.sources import jdbc_options
from mlpublish.warehouse import Warehouse


def test_missing_jdbc_driver_names_the_path_the_variable_and_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("MLPUBLISH_SPARK_JDBC_JAR", str(tmp_path / "nope.jar"))
    wh = Warehouse("postgresql://u:secret@db:5432/wh", "warehouse")
    with pytest.raises(SparkEngineError) as err:
        jdbc_options(wh)
    text = str(err.value)
    assert str(tmp_path / "nope.jar") in text and "MLPUBLISH_SPARK_JDBC_JAR" in text
    assert "libpostgresql-jdbc-java" in text
    (tmp_path / "nope.jar").write_text("")
    opts = jdbc_options(wh)
    assert (
        opts["url"] == "jdbc:postgresql://db:5432/wh?reWriteBatchedInserts=true"
        and opts["user"] == "u"
        and opts["password"] == "secret"
    )


def test_a_sqlite_warehouse_is_refused_with_what_to_use_instead():
    with pytest.raises(SparkEngineError, match="PostgreSQL only.*sqlite.*sourceParquet"):
        jdbc_options(Warehouse("sqlite:///w.db", "warehouse"))


class _RecordingReader:
    """Spark's DataFrameReader as far as a JDBC read goes: records the options, loads nothing."""

    def __init__(self) -> None:
        self.options_given: dict[str, str] = {}

    def format(self, name: str) -> _RecordingReader:
        assert name == "jdbc"
        return self

    def options(self, **options: str) -> _RecordingReader:
        self.options_given.update(options)
        return self

    def load(self) -> str:
        return "frame"


def test_the_query_is_checked_and_read_in_read_only_sessions(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from mlpublish.errors import WarehouseError
    from mlpublish.spark_engine.sources import READ_ONLY_SESSION, SparkSource
    from tests.support.hostile_sql import STACKED

    (tmp_path / "pg.jar").write_text("")
    monkeypatch.setenv("MLPUBLISH_SPARK_JDBC_JAR", str(tmp_path / "pg.jar"))
    wh = Warehouse("postgresql://u:pa/SE@CRET@db:5432/wh", "warehouse")  # a password with / and @

    def scoring(query: str) -> SimpleNamespace:
        return SimpleNamespace(sourceParquet=None, sourceSparkTable=None, query=query)

    with pytest.raises(WarehouseError, match=r"^scoring\.query is not one valid SELECT statement.*column 32"):
        SparkSource(None, scoring(STACKED), wh, ["customer_id"], table=None)
    reader = _RecordingReader()
    source = SparkSource(SimpleNamespace(read=reader), scoring("SELECT * FROM t -- note"), wh, ["id"], table=None)
    assert source.frame() == "frame"
    given = reader.options_given
    assert given["sessionInitStatement"] == READ_ONLY_SESSION == "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    assert given["dbtable"] == "(SELECT * FROM t -- note\n) mlp_q"  # the comment cannot swallow the parenthesis
    assert given["password"] == "pa/SE@CRET" and given["url"].startswith("jdbc:postgresql://db:5432/wh")
