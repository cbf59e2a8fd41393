"""Dagster publishes a model that is no scikit-learn class, like any other: the same assets, checks and champion."""

from __future__ import annotations

from dagster import DagsterInstance

from tests.conftest import churn_dict, write_spec
from tests.support.dagster_support import registry_state, spec_folder
from tests.support.team_models import write_team_models

NAME = "customer_churn_predictor"


def test_a_plain_python_class_is_published_through_the_dagster_job(workspace, monkeypatch):
    from mlflow.models import get_model_info

    from mlpublish_dagster.definitions import build_definitions

    write_team_models(workspace.root / "team", monkeypatch)
    folder = spec_folder(workspace.root / "dagster")
    spec = churn_dict(
        validation={"gates": [{"metric": "roc_auc", "min": 0.5}]}, mlHyperParameters=[{"name": "scale", "value": 2.0}]
    )
    spec["training"] = {"estimator": "teammodels.plain:train_threshold", "task": "classification"}
    write_spec(folder / "churn.yaml", spec)
    defs = build_definitions(folder, "local")
    result = defs.resolve_job_def(f"{NAME}_publish").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    state = registry_state(workspace.tracking_uri, NAME)
    assert state["registered"] and state["aliases"]["champion"] == "1", state
    info = get_model_info(f"models:/{NAME}/1")
    assert set(info.flavors) == {"python_function"} and info.metadata["mlpublish_flavor"] == "python"
