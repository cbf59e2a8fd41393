"""The Dagster resources against the environments file and the deployment's MLflow token
(the Airflow halves: tests/unit/spec/test_environments.py and tests/unit/airflow/test_hooks.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlpublish.spec import load_spec
from mlpublish_dagster.resources import MlflowResource, WarehouseResource
from tests.conftest import churn_dict, write_spec

CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture
def no_credentials(monkeypatch):
    for var in (*CREDENTIAL_VARS, "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)


def test_dagster_warehouse_resource_fills_only_what_the_environment_leaves_open(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = WarehouseResource(url="postgresql://deployment/warehouse")
    dev = resource.apply(load_spec(specs / "churn.yaml", env="dev"))
    assert dev.data.connection == "sqlite:///dev-warehouse.db"  # the environment names its warehouse
    prod = resource.apply(load_spec(specs / "churn.yaml", env="prod"))
    assert prod.data.connection == "postgresql://deployment/warehouse"  # prod names none: the deployment's


def test_dagster_token_only_for_a_spec_on_the_deployments_server(tmp_path, no_credentials):
    resource = MlflowResource(tracking_uri="http://mlflow:5000", token="tok")
    plain = load_spec(write_spec(tmp_path / "plain.yaml", churn_dict()))
    same = load_spec(write_spec(tmp_path / "same.yaml", churn_dict(mlflow={"trackingUri": "http://mlflow:5000"})))
    own = load_spec(write_spec(tmp_path / "own.yaml", churn_dict(mlflow={"trackingUri": "http://elsewhere"})))
    assert resource.credentials(plain).token == resource.credentials(same).token == "tok"
    assert resource.credentials(own) is None
    assert resource.apply(plain).mlflow.trackingUri == "http://mlflow:5000"
    assert not any(var in os.environ for var in CREDENTIAL_VARS)
    with resource.session(plain):
        assert os.environ["MLFLOW_TRACKING_TOKEN"] == "tok"
    with resource.session(own):
        assert "MLFLOW_TRACKING_TOKEN" not in os.environ
    assert not any(var in os.environ for var in CREDENTIAL_VARS)


def test_dagster_basic_auth_user_for_a_spec_on_the_deployments_server(tmp_path, no_credentials, monkeypatch):
    resource = MlflowResource(tracking_uri="http://mlflow:5000", username="trainer", password="pw-canary")
    plain = load_spec(write_spec(tmp_path / "plain.yaml", churn_dict()))
    own = load_spec(write_spec(tmp_path / "own.yaml", churn_dict(mlflow={"trackingUri": "http://elsewhere"})))
    assert "pw-canary" not in repr(resource.credentials(plain))
    with resource.session(plain):
        assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == (
            "trainer",
            "pw-canary",
        )
        assert "MLFLOW_TRACKING_TOKEN" not in os.environ
    assert resource.credentials(own) is None
    assert not any(var in os.environ for var in CREDENTIAL_VARS)
    # prod reads the user by name at run time when the deployment has one, and demands none otherwise
    from mlpublish_dagster.resources import resources_for

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert resources_for("prod")["mlflow"].username is None
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-canary")
    prod = resources_for("prod")["mlflow"]
    assert is_env(prod.username, "MLFLOW_TRACKING_USERNAME") and is_env(prod.password, "MLFLOW_TRACKING_PASSWORD")


def test_the_spark_resource_starts_a_session_only_for_specs_scored_on_spark(specs, monkeypatch):
    import mlpublish.spark_engine as spark_engine
    from mlpublish_dagster.resources import SparkResource

    started = []
    monkeypatch.setattr(spark_engine, "spark_session", lambda master, conf: started.append((master, conf)) or "s")
    resource = SparkResource(master="spark://127.0.0.1:7077", conf={"spark.executor.memory": "1g"})
    local = load_spec(specs / "churn.yaml")
    assert resource.session(local) is None and started == []
    on_spark = local.model_copy(update={"scoring": local.scoring.model_copy(update={"engine": "spark"})})
    assert resource.session(on_spark) == "s"
    assert started == [("spark://127.0.0.1:7077", {"spark.executor.memory": "1g"})]
    assert SparkResource().session(on_spark) == "s" and started[-1] == (None, None)  # the environment decides


OPTIONAL_VARS = ("MLFLOW_TRACKING_TOKEN", "OPENMETADATA_HOST_PORT", "OPENMETADATA_JWT_TOKEN")


def is_env(value: object, name: str) -> bool:
    """An ``EnvVar`` read at run time (a str subclass: a copied value would compare equal to its name)."""
    from dagster import EnvVar

    return isinstance(value, EnvVar) and value.env_var_name == name


def test_prod_demands_only_the_variables_of_the_parts_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish_dagster.resources import resources_for

    for var in OPTIONAL_VARS:
        monkeypatch.delenv(var, raising=False)
    bare = resources_for("prod", prefix="ml_")
    assert is_env(bare["ml_mlflow"].tracking_uri, "MLFLOW_TRACKING_URI")  # always used: demanded
    assert bare["ml_mlflow"].token is None  # a server without auth: no token demanded
    assert bare["ml_catalog"].openmetadata_host_port is None and bare["ml_catalog"].openmetadata_jwt_token is None
    assert is_env(bare["ml_catalog"].path, "MLPUBLISH_CATALOG")
    for var in OPTIONAL_VARS:
        monkeypatch.setenv(var, "set")
    full = resources_for("prod")
    assert is_env(full["mlflow"].token, "MLFLOW_TRACKING_TOKEN")  # read by name at run time, never copied
    assert is_env(full["catalog"].openmetadata_host_port, "OPENMETADATA_HOST_PORT")
    assert is_env(full["catalog"].openmetadata_jwt_token, "OPENMETADATA_JWT_TOKEN")
    monkeypatch.delenv("OPENMETADATA_HOST_PORT")  # a token without a server to give it to: not demanded
    assert resources_for("prod")["catalog"].openmetadata_jwt_token is None
