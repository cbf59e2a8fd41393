"""A published champion shared by the score/monitor tests (the chain runs once per module), and per-test copies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, churn_dict, write_spec

NAME = "customer_churn_predictor"
FQN = "mlflow-local.customer_churn_predictor"


def publish_champion(root: Path, warehouse_url: str, spec: dict | None = None) -> None:
    """Run the whole chain of ``spec`` (default: the cheap ``churn_dict()``) in ``root`` (MLflow and catalog
    files there) against ``warehouse_url``."""
    from mlpublish.spec import load_spec
    from mlpublish.workflows.chain import run_chain

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("MLPUBLISH_CATALOG", str(root / "catalog.db"))
        mp.setenv("WAREHOUSE_URL", warehouse_url)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mp.delenv("MLPUBLISH_ARTIFACT_ROOT", raising=False)
        result = run_chain(load_spec(write_spec(root / "spec.yaml", spec or churn_dict())))
    assert result.promotion.promoted, result.promotion.reason


def copy_of(published: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str | None = None) -> Workspace:
    """A private copy of the published registry, catalog (and SQLite warehouse) for one test.

    The runs' artifacts stay where the chain logged them (absolute paths in the
    registry), read-only for the copies.
    """
    for name in ("mlflow.db", "catalog.db", "warehouse.db"):
        for suffix in ("", "-wal", "-shm"):  # the local catalog runs in WAL mode
            if (published / f"{name}{suffix}").exists():
                shutil.copy(published / f"{name}{suffix}", tmp / f"{name}{suffix}")
    ws = Workspace(tmp)
    if warehouse_url:
        ws.warehouse_url = warehouse_url
    return ws.enter(monkeypatch)


def context(spec_path: Any) -> Any:
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec

    return PublishContext.create(load_spec(spec_path))


def prediction_rows(engine: Any, table: str = "churn_predictions") -> list[tuple]:
    """Rows of the predictions table without scored_at (a retry has its own timestamp), sorted."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT customer_id, prediction, probability, model_name, model_version, model_run_id, scoring_run_id "
                f"FROM {table}"
            )
        ).fetchall()
    return sorted(tuple(r) for r in rows)


@contextmanager
def postgres_champion(root: Path, warehouse_template: Path, db_prefix: str) -> Iterator[tuple[str, int]]:
    """A champion trained on a fresh PostgreSQL warehouse holding only the feature table (the spec's source
    tables, warehouse.main.main.*, are then another warehouse's, which the chain leaves to the catalog).
    Yields the warehouse URL and the number of feature rows; the database is dropped afterwards."""
    import pandas as pd
    import sqlalchemy as sa

    from tests.support.mlflow_server import postgres_database

    with postgres_database(db_prefix) as url:
        features = pd.read_sql_table("customer_features", sa.create_engine(f"sqlite:///{warehouse_template}"))
        features.to_sql("customer_features", sa.create_engine(url), index=False)
        publish_champion(root, url)
        yield url, len(features)
