"""One factory opens the registry, the catalog and the warehouse; its URI precedence is the one of before."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.deployment import for_environment, for_spec
from mlpublish.errors import WarehouseError
from mlpublish.spec import load_spec
from mlpublish.spec.environments import environment_named
from tests.conftest import churn_dict, write_spec


def test_a_spec_names_its_stores_else_the_variables_else_the_working_directory(clean_env, monkeypatch):
    plain = load_spec(write_spec(clean_env / "plain.yaml", churn_dict()))
    assert for_spec(plain).tracking_uri == for_spec(plain).registry_uri == f"sqlite:///{clean_env / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://registry")
    assert (for_spec(plain).tracking_uri, for_spec(plain).registry_uri) == ("http://tracking", "http://registry")
    own = load_spec(write_spec(clean_env / "own.yaml", churn_dict(mlflow={"trackingUri": "sqlite:///own.db"})))
    # a spec's own tracking server, and the deployment-wide registry (the spec's rule, unlike an environment's)
    assert (for_spec(own).tracking_uri, for_spec(own).registry_uri) == ("sqlite:///own.db", "http://registry")


def test_an_environment_keeps_its_registry_on_its_own_tracking_server(clean_env, monkeypatch):
    (clean_env / "environments.yaml").write_text(
        "environments:\n  dev:\n    mlflow: {trackingUri: 'sqlite:///dev.db'}\n    catalog: {url: dev-catalog.db, "
        "pipelineService: dev-pipes}\n"
    )
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "http://registry")
    dev = for_environment(environment_named("dev", clean_env))
    assert (dev.tracking_uri, dev.registry_uri) == ("sqlite:///dev.db", "sqlite:///dev.db")
    assert (dev.catalog_url, dev.pipeline_service) == ("dev-catalog.db", "dev-pipes")
    none = for_environment(None)
    assert (none.tracking_uri, none.registry_uri) == (f"sqlite:///{clean_env / 'mlflow.db'}", "http://registry")


def test_it_opens_the_registry_catalog_and_warehouse(clean_env, warehouse_template):
    spec = load_spec(
        write_spec(clean_env / "s.yaml", churn_dict(data={"connection": f"sqlite:///{warehouse_template}"}))
    )
    deployment = for_spec(spec, catalog_url=str(clean_env / "deployment-catalog.db"))
    assert deployment.open_registry().tracking_uri == deployment.tracking_uri
    assert Path(deployment.open_catalog().path) == clean_env / "deployment-catalog.db"  # the spec names none
    warehouse = deployment.open_warehouse()
    try:
        assert warehouse.row_count(spec.data.trainingTable) > 0
    finally:
        warehouse.dispose()
    with pytest.raises(WarehouseError, match="no spec was given"):
        for_environment(None).open_warehouse()


def test_no_password_in_a_repr(clean_env):
    spec = load_spec(
        write_spec(
            clean_env / "s.yaml",
            churn_dict(
                mlflow={"trackingUri": "postgresql://u:secret-pw@db/mlflow"},
                data={"connection": "postgresql://u:pw2@db/wh"},
            ),
        )
    )
    text = repr(for_spec(spec))
    assert "secret-pw" not in text and "pw2" not in text
