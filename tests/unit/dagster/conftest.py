"""A spec folder with an environments file beside the spec, for the adapter's resources and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import churn_dict, write_spec

# (a test module of .venv's session is not imported from here: its lazy imports may need Airflow)
ENVIRONMENTS = """\
environments:
  dev:
    modelNamePrefix: dev_
    warehouse: {service: warehouse_dev, connection: "${DEV_WAREHOUSE:-sqlite:///dev-warehouse.db}"}
  prod:
    mlflow: {trackingUri: "sqlite:///prod-mlflow.db"}
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("MLPUBLISH_ENV", "MLPUBLISH_ENVIRONMENTS", "DEV_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)
    write_spec(tmp_path / "churn.yaml", churn_dict())
    (tmp_path / "environments.yaml").write_text(ENVIRONMENTS)
    return tmp_path
