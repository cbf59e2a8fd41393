"""Models that are not scikit-learn classes, published, gated and scored like any other, on the local defaults
(SQLite warehouse, MLflow on SQLite, the local catalog); and a model trained elsewhere, published without training."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlpublish.cli import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, main
from tests.conftest import churn_dict, write_spec
from tests.support.team_models import write_team_models

NAME = "customer_churn_predictor"
GATES = {"gates": [{"metric": "roc_auc", "min": 0.5}]}


def trainer_spec(ws, trainer: str, **params):
    return ws.spec(
        replace={"training": {"estimator": f"teammodels.plain:{trainer}", "task": "classification"}},
        mlHyperParameters=[{"name": k, "value": v} for k, v in params.items()],
        validation=GATES,
    )


def versions(ws) -> list:
    return ws.registry().client.search_model_versions(f"name='{NAME}'")


def test_a_plain_python_class_is_published_gated_and_scored(workspace, monkeypatch, capsys):
    write_team_models(workspace.root / "team", monkeypatch)
    spec = trainer_spec(workspace, "train_threshold", scale=2.0)
    assert main(["-q", "run", str(spec)]) == EXIT_OK, capsys.readouterr().err
    capsys.readouterr()
    [version] = versions(workspace)
    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{NAME}/{version.version}")
    assert set(info.flavors) == {"python_function"} and info.metadata["mlpublish_flavor"] == "python"
    assert workspace.registry().alias_version(NAME, "champion") == str(version.version)
    report = workspace.registry().client.get_run(version.run_id).data.metrics
    assert 0.5 < report["test_roc_auc"] <= 1.0 and "test_ece" in report

    # scoring needs the team's code no more: the model carries it
    # neither the team's folder nor the code folders the chain's loads put on the path (monkeypatch restores it)
    sys.path[:] = [p for p in sys.path if not (Path(p) / "teammodels").exists()]
    for module in [m for m in sys.modules if m.split(".")[0] == "teammodels"]:
        monkeypatch.delitem(sys.modules, module)
    assert importlib.util.find_spec("teammodels") is None
    assert main(["-q", "score", str(spec), "--run-id", "plain-1", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["rows"] == 1500
    with sa.create_engine(workspace.warehouse_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT prediction, probability FROM churn_predictions")).fetchall()
    assert len(rows) == 1500 and {r[0] for r in rows} <= {0, 1} and all(0.0 <= r[1] <= 1.0 for r in rows)
    assert all((r[1] >= 0.5) == (r[0] == 1) for r in rows)


@pytest.mark.parametrize(
    ("trainer", "flavor"), [("train_lightgbm_booster", "lightgbm"), ("train_xgboost_booster", "xgboost")]
)
def test_a_native_booster_is_published_with_its_own_flavor_and_scored(workspace, monkeypatch, capsys, trainer, flavor):
    from mlflow.models import get_model_info

    write_team_models(workspace.root / "team", monkeypatch)
    spec = churn_dict(validation=GATES, mlHyperParameters=[{"name": "num_boost_round", "value": 20}])
    spec["mlFeatures"] = [f for f in spec["mlFeatures"] if f["dataType"] == "numerical"]  # a booster sees numbers
    spec["training"] = {"estimator": f"teammodels.plain:{trainer}", "task": "classification"}
    path = write_spec(workspace.root / "booster.yaml", spec)
    assert main(["-q", "run", str(path)]) == EXIT_OK, capsys.readouterr().err
    info = get_model_info(f"models:/{NAME}/1")
    assert set(info.flavors) == {flavor, "python_function"} and info.metadata["mlpublish_classes"] == "[0, 1]"
    assert main(["-q", "score", str(path), "--run-id", "booster-1"]) == EXIT_OK
    with sa.create_engine(workspace.warehouse_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT prediction, probability FROM churn_predictions")).fetchall()
    assert len(rows) == 1500 and all((r[1] >= 0.5) == (r[0] == 1) for r in rows if abs(r[1] - 0.5) > 1e-9)


def test_a_classifier_without_predict_proba_is_refused_at_train_and_nothing_is_registered(
    workspace, monkeypatch, capsys
):
    write_team_models(workspace.root / "team", monkeypatch)
    spec = trainer_spec(workspace, "train_labels_only")
    assert main(["-q", "run", str(spec)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "trainer teammodels.plain:train_labels_only returned a teammodels.plain.LabelsOnly" in err
    assert "which has no predict_proba()" in err and "roc_auc" in err and "this is a bug" not in err
    assert versions(workspace) == []


@pytest.mark.parametrize(
    ("mistake", "check"),
    [("proba_above_one", "'probabilities in [0, 1]'"), ("nan", "'predictions are finite'")],
)
def test_a_model_s_own_mistake_refuses_the_candidate_at_evaluate_naming_the_check_and_a_row(
    workspace, monkeypatch, capsys, mistake, check
):
    write_team_models(workspace.root / "team", monkeypatch)
    spec = trainer_spec(workspace, "train_broken", mistake=mistake)
    assert main(["-q", "run", str(spec)]) == EXIT_REJECTED
    err = capsys.readouterr().err
    assert f"refused by the check {check}" in err and "of the held-out rows (recency_days=" in err
    assert versions(workspace) == []


def test_a_model_trained_elsewhere_is_published_without_training(workspace, capsys):
    """A notebook's scikit-learn pipeline, logged with mlflow.sklearn in an experiment of its own."""
    import mlflow
    import mlflow.sklearn
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mlpublish.modelling import prepare_features
    from mlpublish.spec import load_spec

    spec = load_spec(workspace.spec())
    frame = pd_read(workspace.warehouse_url, spec.data.trainingTable)
    X = prepare_features(frame, spec.feature_names, spec.categorical_features)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(X, frame[spec.target])
    notebook = mlflow.MlflowClient().create_experiment("notebook")
    with mlflow.start_run(experiment_id=notebook) as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=X.head(3),
            pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )
    source = f"runs:/{run.info.run_id}/model"
    path = workspace.spec(
        "elsewhere.yaml",
        replace={"training": {"existingModel": source, "task": "classification"}},
        validation=GATES,
        mlHyperParameters=[{"name": "C", "value": 1.0}],
    )
    assert main(["-q", "run", str(path)]) == EXIT_OK, capsys.readouterr().err
    [version] = versions(workspace)
    assert version.run_id != run.info.run_id  # a run of the chain, with its held-out rows and tags
    tags = workspace.registry().client.get_run(version.run_id).data
    assert tags.params["mlpublish.estimator"] == f"existing model {source}"
    assert workspace.registry().alias_version(NAME, "champion") == str(version.version)


def pd_read(url: str, table: str):
    import pandas as pd

    with sa.create_engine(url).connect() as conn:
        return pd.read_sql_table(table, conn)


def test_a_native_booster_publishes_scores_and_monitors_on_postgresql(
    workspace, monkeypatch, capsys, warehouse_template
):
    """The same chain on a PostgreSQL warehouse: a LightGBM Booster (no scikit-learn class) is published and gated,
    scores every feature row through the binary COPY path and is monitored against its training rows."""
    import pandas as pd

    from tests.support.mlflow_server import postgres_database

    write_team_models(workspace.root / "team", monkeypatch)
    with postgres_database("byom") as url:
        features = pd.read_sql_table("customer_features", sa.create_engine(f"sqlite:///{warehouse_template}"))
        engine = sa.create_engine(url)
        features.to_sql("customer_features", engine, index=False)
        monkeypatch.setenv("WAREHOUSE_URL", url)
        spec = churn_dict(validation=GATES, mlHyperParameters=[{"name": "num_boost_round", "value": 20}])
        spec["mlFeatures"] = [f for f in spec["mlFeatures"] if f["dataType"] == "numerical"]  # a booster sees numbers
        spec["training"] = {"estimator": "teammodels.plain:train_lightgbm_booster", "task": "classification"}
        spec = write_spec(workspace.root / "booster.yaml", spec)
        assert main(["-q", "run", str(spec)]) == EXIT_OK, capsys.readouterr().err
        capsys.readouterr()
        from mlflow.models import get_model_info

        info = get_model_info(f"models:/{NAME}/1")
        assert "lightgbm" in info.flavors and workspace.registry().alias_version(NAME, "champion") == "1"

        assert main(["-q", "score", str(spec), "--run-id", "pg-1", "--json"]) == EXIT_OK
        assert json.loads(capsys.readouterr().out)["rows"] == len(features)
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT COUNT(*), MIN(probability), MAX(probability) FROM churn_predictions"))
            count, low, high = stored.one()
        assert count == len(features) and 0.0 <= low <= high <= 1.0 and low < high

        assert main(["-q", "monitor", str(spec), "--json"]) == EXIT_OK
        report = json.loads(capsys.readouterr().out)
        assert report["version"] == "1" and report["rows"] == len(features), report
        engine.dispose()
