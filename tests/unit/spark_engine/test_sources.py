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
