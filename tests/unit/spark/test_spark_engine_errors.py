"""The Spark engine says what is missing (the extra, Java, the JDBC driver) and which setting points to it;
a spec asks for Spark only where Spark can honour it."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from mlpublish.errors import SpecError, StepError
from mlpublish.spark_engine import session as spark
from mlpublish.spark_engine.session import SparkEngineError
from mlpublish.spark_engine.sources import jdbc_options
from mlpublish.spec import load_spec
from mlpublish.steps.score import engine_of
from mlpublish.warehouse import Warehouse
from tests.conftest import churn_dict, write_spec


def test_missing_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(SparkEngineError, match=r"spark extra .*mlpublish\[spark\]"):
        spark.spark_session("local[1]")


def test_missing_java_names_java_home_and_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    with pytest.raises(SparkEngineError, match="Java 17 .*JAVA_HOME"):
        spark.java_binary()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(SparkEngineError, match=f"JAVA_HOME={tmp_path / 'jdk'} has no bin/java"):
        spark.java_binary()
    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").write_text("")
    assert spark.java_binary() == str(tmp_path / "jdk" / "bin" / "java")


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


@pytest.mark.parametrize("raw", ["{not json", '["a"]'])
def test_bad_spark_conf_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("MLPUBLISH_SPARK_CONF", raw)
    with pytest.raises(SparkEngineError, match="MLPUBLISH_SPARK_CONF"):
        spark.env_conf()


def test_spark_conf_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLPUBLISH_SPARK_CONF", '{"spark.executor.memory": "1g", "spark.executor.cores": 1}')
    assert spark.env_conf() == {"spark.executor.memory": "1g", "spark.executor.cores": "1"}


def test_spark_only_fields_need_the_spark_engine(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict(scoring={"sourceParquet": "/data/rows"})))
    ctx = SimpleNamespace(spec=spec)
    with pytest.raises(StepError, match=r"scoring.sourceParquet need\(s\) the Spark engine.*--engine spark"):
        engine_of(ctx, None)
    assert engine_of(ctx, "spark") == "spark"
    spec = load_spec(write_spec(tmp_path / "t.yaml", churn_dict(scoring={"engine": "spark"})))
    assert engine_of(SimpleNamespace(spec=spec), None) == "spark"
    assert engine_of(SimpleNamespace(spec=spec), "local") == "local"


def test_one_source_and_one_target_at_most(tmp_path):
    with pytest.raises(SpecError, match="scoring.sourceTable or scoring.sourceParquet, not both"):
        load_spec(write_spec(tmp_path / "a.yaml", churn_dict(scoring={"sourceTable": "t", "sourceParquet": "/p"})))
    with pytest.raises(SpecError, match="predictionsParquet or scoring.predictionsSparkTable"):
        load_spec(
            write_spec(
                tmp_path / "b.yaml",
                churn_dict(scoring={"predictionsParquet": "/p", "predictionsSparkTable": "db.t"}),
            )
        )
    with pytest.raises(SpecError, match="engine"):
        load_spec(write_spec(tmp_path / "c.yaml", churn_dict(scoring={"engine": "dask"})))


def test_spark_errors_say_what_our_code_said_in_one_line_without_secrets():
    task_error = Exception(
        "[PYTHON_EXCEPTION] An exception was thrown from the Python worker.\nTraceback (most recent call last):\n"
        "  File \"modelling.py\", line 9\nmlpublish.errors.WarehouseError: feature 'plan' holds 3.5\n\tat org.apache"
    )
    assert spark.spark_error(task_error) == "feature 'plan' holds 3.5"
    assert spark.spark_error(Exception("cannot reach postgresql://u:s3cret@db/wh\nmore")) == (
        "cannot reach postgresql://u:***@db/wh"
    )
    assert spark.spark_error(Exception("")) == "Exception"
