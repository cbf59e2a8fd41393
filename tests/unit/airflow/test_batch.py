"""Airflow's ``spark_default`` connection becomes the Spark engine's master and conf; nothing starts for the
local engine or when the environment names the master."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

pytest.importorskip("airflow")

SPARK_SPEC = SimpleNamespace(scoring=SimpleNamespace(engine="spark"))
LOCAL_SPEC = SimpleNamespace(scoring=SimpleNamespace(engine="local"))


@pytest.fixture
def sessions(monkeypatch):
    import mlpublish.spark_engine

    started: list[tuple] = []
    monkeypatch.setattr(mlpublish.spark_engine, "spark_session", lambda m, c: started.append((m, c)) or "session")
    monkeypatch.delenv("MLPUBLISH_SPARK_MASTER", raising=False)
    return started


@pytest.mark.parametrize(
    ("host", "port", "master"),
    [("spark://spark-master", 7077, "spark://spark-master:7077"), ("spark-master", 7077, "spark://spark-master:7077"),
     ("local[4]", None, "local[4]"), ("yarn", None, "yarn")],
)  # fmt: skip
def test_the_connection_names_the_master_and_its_conf(monkeypatch, sessions, host, port, master):
    from mlpublish_airflow.batch import spark_for

    conn = {"conn_type": "spark", "host": host, "extra": {"conf": {"spark.executor.memory": "2g"}}}
    if port:
        conn["port"] = port
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(conn))
    assert spark_for(SPARK_SPEC) == "session"
    assert sessions == [(master, {"spark.executor.memory": "2g"})]


def test_no_session_from_the_connection_for_the_local_engine_or_a_master_in_the_environment(monkeypatch, sessions):
    from mlpublish_airflow.batch import spark_for

    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps({"conn_type": "spark", "host": "spark://m"}))
    assert spark_for(LOCAL_SPEC) is None
    monkeypatch.setenv("MLPUBLISH_SPARK_MASTER", "spark://other:7077")
    assert spark_for(SPARK_SPEC) is None  # the core builds it from the environment
    monkeypatch.delenv("MLPUBLISH_SPARK_MASTER")
    monkeypatch.delenv("AIRFLOW_CONN_SPARK_DEFAULT")
    assert spark_for(SPARK_SPEC) is None and sessions == []
