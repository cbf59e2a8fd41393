"""A spec folder with an environments file (dev, and a readOnly prod), for the tests of the environments
and of what honours them: the spec loader, the publish context, the CLI, the Airflow adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import churn_dict, write_spec

ENVIRONMENTS = """\
environments:
  dev:
    modelNamePrefix: dev_
    serviceName: mlflow-dev
    mlflow: {trackingUri: "sqlite:///dev-mlflow.db"}
    warehouse: {service: warehouse_dev, connection: "${DEV_WAREHOUSE:-sqlite:///dev-warehouse.db}"}
    catalog: {url: dev-catalog.db, pipelineService: pipelines-dev}
  prod:
    mlflow: {trackingUri: "sqlite:///prod-mlflow.db", registryUri: "sqlite:///prod-registry.db"}
    readOnly: true
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    monkeypatch.delenv("DEV_WAREHOUSE", raising=False)
    write_spec(tmp_path / "churn.yaml", churn_dict())
    (tmp_path / "environments.yaml").write_text(ENVIRONMENTS)
    return tmp_path
