"""The Spark session (mlpublish.spark_engine.session) says what is missing (the extra, Java) and which setting
points to it; the Spark conf from the environment; Spark's errors in one line without secrets."""

from __future__ import annotations

import sys

import pytest

from mlpublish.spark_engine import session as spark
from mlpublish.spark_engine.session import SparkEngineError


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


@pytest.mark.parametrize("raw", ["{not json", '["a"]'])
def test_bad_spark_conf_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("MLPUBLISH_SPARK_CONF", raw)
    with pytest.raises(SparkEngineError, match="MLPUBLISH_SPARK_CONF"):
        spark.env_conf()


def test_spark_conf_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLPUBLISH_SPARK_CONF", '{"spark.executor.memory": "1g", "spark.executor.cores": 1}')
    assert spark.env_conf() == {"spark.executor.memory": "1g", "spark.executor.cores": "1"}


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
