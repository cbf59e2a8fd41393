"""A challenger beside a published champion, for the shadow-scoring tests (tests/integration/test_shadow_sqlite.py,
tests/integration/spark/test_spark_shadow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.score_fixtures import NAME

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "support_tickets", "plan"]


def register_challenger(root: Path, warehouse_url: str) -> str:
    """A new version with alias challenger, in the MLflow store of ``root``: another forest (fewer, shallower
    trees, another seed) logged and registered directly (a second chain would cost as much again; its gates
    have tests of their own). Returns its version."""
    import mlflow
    import pandas as pd
    import sqlalchemy as sa
    from mlflow import MlflowClient

    from mlpublish.modelling import build_model, prepare_features, resolve_estimator
    from mlpublish.modelling.flavors import log_model

    engine = sa.create_engine(warehouse_url)
    frame = pd.read_sql_table("customer_features", engine)
    engine.dispose()
    X = prepare_features(frame, FEATURES, ["plan"])
    ref = resolve_estimator("sklearn.ensemble.RandomForestClassifier", "classification")
    model = build_model(ref, {"n_estimators": 12, "max_depth": 4, "random_state": 1}, ["plan"])
    model.fit(X, frame["churned"])
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # both URIs: an in-process chain leaves its store in MLflow's globals (tests/conftest.py puts them back
    # after the test), which a client without a registry URI would register into
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        exp = client.get_experiment_by_name(f"mlpublish/{NAME}")
        with mlflow.start_run(experiment_id=exp.experiment_id) as run:
            info = log_model(model, name="model", task="classification", example=X.head(5), code_from=[], modules=[])
    version = str(client.create_model_version(NAME, info.model_uri, run_id=run.info.run_id).version)
    client.set_registered_model_alias(NAME, "challenger", version)
    return version
