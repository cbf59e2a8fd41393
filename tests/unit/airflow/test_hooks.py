"""The Airflow connection's login and the Dagster resource's token reach MLflow through a scoped session,
never by writes into the process environment; a spec that names its own server never gets them.
The Dagster half runs in .venv-dagster: tests/unit/dagster/test_resources.py."""

from __future__ import annotations

import json
import os

import pytest

from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture
def no_credentials(monkeypatch):
    for var in (*CREDENTIAL_VARS, "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)


def test_airflow_connection_login_is_handed_over_not_written(tmp_path, monkeypatch, no_credentials):
    pytest.importorskip("airflow.sdk")
    from mlpublish_airflow.hooks import MlflowHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "http", "host": "mlflow", "port": 5000, "login": "alice", "password": "pw"}),
    )
    plain = load_spec(write_spec(tmp_path / "plain.yaml", churn_dict()))
    spec, credentials = MlflowHook().connect(plain)
    assert spec.mlflow.trackingUri == "http://mlflow:5000"
    assert credentials.variables() == {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "pw"}
    assert MlflowHook().tracking_uri() == "http://mlflow:5000"
    assert not any(var in os.environ for var in CREDENTIAL_VARS)
    own = load_spec(write_spec(tmp_path / "own.yaml", churn_dict(mlflow={"trackingUri": "http://elsewhere"})))
    assert MlflowHook().connect(own) == (own, None)
