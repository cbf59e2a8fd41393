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


def conn(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_the_provider_types_need_no_warning_and_read_their_form_fields(tmp_path, monkeypatch, no_credentials, recwarn):
    pytest.importorskip("airflow.sdk")
    from mlpublish_airflow.hooks import MlflowHook, OpenMetadataHook

    conn(monkeypatch, "mlflow_default", conn_type="mlpublish_mlflow", extra={"tracking_uri": "https://ml.example/x"})
    conn(
        monkeypatch,
        "openmetadata_default",
        conn_type="mlpublish_openmetadata",
        host="om",
        port=8585,
        password="jwt",
        extra={"strict": True},
    )
    assert MlflowHook().tracking_uri() == "https://ml.example/x"
    settings = OpenMetadataHook().settings()
    assert (settings.host_port, settings.jwt_token, settings.strict) == ("http://om:8585/api", "jwt", True)
    assert not [w for w in recwarn if "deprecated" in str(w.message)]


def test_http_connections_still_work_with_a_warning_naming_the_new_type(monkeypatch, no_credentials):
    pytest.importorskip("airflow.sdk")
    from airflow.exceptions import AirflowProviderDeprecationWarning

    from mlpublish_airflow.hooks import MlflowHook, OpenMetadataHook

    conn(monkeypatch, "mlflow_default", conn_type="http", host="mlflow", port=5000)
    conn(monkeypatch, "openmetadata_default", conn_type="http", host="om", port=8585)
    with pytest.warns(AirflowProviderDeprecationWarning, match="'mlflow_default'.*'mlpublish_mlflow'"):
        assert MlflowHook().tracking_uri() == "http://mlflow:5000"
    with pytest.warns(AirflowProviderDeprecationWarning, match="'openmetadata_default'.*'mlpublish_openmetadata'"):
        assert OpenMetadataHook().settings().host_port == "http://om:8585/api"


def test_warehouse_connection_takes_the_place_of_warehouse_url(tmp_path, monkeypatch):
    pytest.importorskip("airflow.sdk")
    from mlpublish_airflow.hooks import WarehouseHook

    monkeypatch.setenv("WAREHOUSE_URL", "sqlite:///from-env.db")
    by_env = load_spec(write_spec(tmp_path / "env.yaml", churn_dict()))  # data.connection: ${WAREHOUSE_URL:-...}
    assert by_env.data.connection == "sqlite:///from-env.db"
    assert WarehouseHook().apply(by_env) == by_env  # no connection: the environment decides, as before
    conn(
        monkeypatch,
        "mlpublish_warehouse",
        conn_type="mlpublish_warehouse",
        host="wh",
        port=5432,
        login="etl",
        password="p@ss/word",
        schema="analytics",
    )
    url = "postgresql://etl:p%40ss%2Fword@wh:5432/analytics"  # the password escaped
    assert WarehouseHook().apply(by_env).data.connection == url
    assert WarehouseHook(warehouse_conn_id="mlpublish_warehouse").url() == url  # as Connection.get_hook() builds it
    monkeypatch.delenv("WAREHOUSE_URL")
    by_default = load_spec(write_spec(tmp_path / "default.yaml", churn_dict()))
    assert WarehouseHook().apply(by_default).data.connection == url
    data = {**churn_dict()["data"], "connection": "sqlite:///named-by-the-spec.db"}
    own = load_spec(write_spec(tmp_path / "own.yaml", churn_dict(data=data)))
    assert WarehouseHook().apply(own) == own  # a URL the spec names stays


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"conn_type": "mlpublish_catalog", "extra": {"url": "/var/lib/catalog.db"}}, "/var/lib/catalog.db"),
        ({"conn_type": "sqlite", "host": "/data/catalog.db"}, "sqlite:////data/catalog.db"),
        ({"conn_type": "postgres", "host": "pg", "login": "c", "password": "x", "schema": "cat"}, "postgresql://c:x@pg/cat"),
    ],
)  # fmt: skip
def test_catalog_connection_takes_the_place_of_mlpublish_catalog(tmp_path, monkeypatch, fields, url):
    pytest.importorskip("airflow.sdk")
    from mlpublish_airflow.hooks import CatalogStoreHook

    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict()))
    assert spec.catalog.url is None
    assert CatalogStoreHook().apply(spec) == spec
    conn(monkeypatch, "mlpublish_catalog", **fields)
    assert CatalogStoreHook().apply(spec).catalog.url == url
    own = load_spec(write_spec(tmp_path / "own.yaml", churn_dict(catalog={"url": str(tmp_path / "own.db")})))
    assert CatalogStoreHook().apply(own) == own


def test_a_store_connection_without_a_host_is_refused_by_name(monkeypatch):
    pytest.importorskip("airflow.sdk")
    from mlpublish_airflow.exceptions import ConnectionInvalid
    from mlpublish_airflow.hooks import WarehouseHook

    conn(monkeypatch, "mlpublish_warehouse", conn_type="mlpublish_warehouse", login="x")
    with pytest.raises(ConnectionInvalid, match="'mlpublish_warehouse'"):
        WarehouseHook().url()
