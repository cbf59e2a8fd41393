"""Each model kind is logged with its own MLflow flavor and loads back the same way (mlpublish.modelling.flavors)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from mlpublish.errors import StepError
from mlpublish.modelling import contract_view
from mlpublish.modelling.flavors import code_paths, flavor_of, load_model, log_model
from tests.support.team_models import write_team_models

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def rows() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tenure_days": rng.uniform(0, 900, 300), "frequency": rng.poisson(4, 300).astype(float)})
    y = pd.Series((X["tenure_days"] + rng.normal(0, 150, 300) < 400).astype(int), name="churned")
    return X, y


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template: Path) -> Path:
    """A local MLflow store (SQLite, artifacts in a folder) of this test."""
    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def logged(model: Any, task: str, X: pd.DataFrame, code_from: list[Any] | None = None) -> str:
    with mlflow.start_run():
        info = log_model(model, name="model", task=task, example=X.head(5), code_from=code_from or [], modules=[])
    return info.model_uri


def flavors_of(uri: str) -> set[str]:
    from mlflow.models import Model

    return set(Model.load(mlflow.artifacts.download_artifacts(artifact_uri=uri)).flavors)


def sklearn_pipeline(X: pd.DataFrame, y: pd.Series) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


def xgb_classifier(X: pd.DataFrame, y: pd.Series) -> Any:
    import xgboost

    return xgboost.XGBClassifier(n_estimators=10, max_depth=2).fit(X, y)


def lgbm_classifier(X: pd.DataFrame, y: pd.Series) -> Any:
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)


def xgb_booster(X: pd.DataFrame, y: pd.Series) -> Any:
    import xgboost

    return xgboost.train({"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(X, label=y), 10)


def lgbm_booster(X: pd.DataFrame, y: pd.Series) -> Any:
    import lightgbm

    return lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, label=y), 10)


@pytest.mark.parametrize(
    ("fit", "flavor", "mlflow_flavor"),
    [
        (sklearn_pipeline, "sklearn", "sklearn"),
        (xgb_classifier, "xgboost", "xgboost"),
        (lgbm_classifier, "lightgbm", "lightgbm"),
        (xgb_booster, "xgboost", "xgboost"),
        (lgbm_booster, "lightgbm", "lightgbm"),
    ],
)
def test_each_library_model_is_logged_with_its_own_flavor_and_loads_back_with_the_same_probabilities(
    store: Path, rows: tuple[pd.DataFrame, pd.Series], fit: Any, flavor: str, mlflow_flavor: str
) -> None:
    X, y = rows
    fitted = fit(X, y)
    assert flavor_of(fitted) == flavor
    view = contract_view(fitted, "classification", [0, 1])
    uri = logged(view, "classification", X)
    assert {mlflow_flavor, "python_function"} <= flavors_of(uri)
    loaded = load_model(uri)
    assert list(loaded.classes_) == [0, 1]
    np.testing.assert_allclose(loaded.predict_proba(X), view.predict_proba(X), rtol=1e-6)
    assert np.array_equal(loaded.predict(X), view.predict(X))
    info = mlflow.models.get_model_info(uri)
    assert info.signature.inputs.input_names() == list(X.columns)
    assert info.metadata["mlpublish_task"] == "classification"


def test_a_plain_class_is_a_pyfunc_whose_code_travels_with_it_to_a_fresh_process(
    store: Path, rows: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = rows
    team = write_team_models(store / "team", monkeypatch)
    from teammodels.plain import train_threshold

    model = train_threshold(X, y, scale=2.0)
    assert flavor_of(model) == "python"
    assert code_paths(model, train_threshold) == [str(team)]
    view = contract_view(model, "classification", [0, 1])
    uri = logged(view, "classification", X, code_from=[train_threshold])
    assert flavors_of(uri) == {"python_function"}
    X.to_parquet(store / "rows.parquet")
    # a fresh interpreter, in another folder, without the team's folder on its path
    script = textwrap.dedent(
        f"""
        import json, sys
        import pandas as pd
        assert not any("team" in p for p in sys.path)
        from mlpublish.modelling.flavors import load_model
        model = load_model({uri!r})
        X = pd.read_parquet({str(store / "rows.parquet")!r})
        print(json.dumps({{"classes": list(map(int, model.classes_)), "p": model.predict_proba(X)[:, 1].tolist()}}))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=store, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["classes"] == [0, 1]
    np.testing.assert_allclose(got["p"], view.predict_proba(X)[:, 1], rtol=1e-9)


CONSTANT = """
import numpy as np
from mlflow.pyfunc import PythonModel


class Constant(PythonModel):
    def predict(self, context, model_input, params=None):  # no type hints: MLflow would read them
        return np.full(len(model_input), 1.5)
"""


def test_a_python_model_is_logged_as_it_is_and_predicts_through_its_pyfunc(
    store: Path, rows: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the team's own package (its code travels with the model), never a class of this project's tests
    (write_team_models(store / "team", monkeypatch) / "pyfuncs.py").write_text(CONSTANT)
    from teammodels.pyfuncs import Constant

    X, _ = rows
    assert flavor_of(Constant()) == "pyfunc"
    loaded = load_model(logged(Constant(), "regression", X))
    assert loaded.predict(X.head(3)).tolist() == [1.5, 1.5, 1.5]
    assert not hasattr(loaded, "predict_proba")


def test_a_regressor_of_no_known_flavor_round_trips(
    store: Path, rows: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _ = rows
    write_team_models(store / "team", monkeypatch)
    from teammodels.plain import train_mean

    model = train_mean(X, X["frequency"], slope=0.01)
    loaded = load_model(logged(contract_view(model, "regression"), "regression", X))
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert getattr(loaded, "classes_", None) is None


def test_a_flavor_whose_library_is_missing_names_the_extra_to_install(
    store: Path, rows: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = rows
    uri = logged(lgbm_classifier(X, y), "classification", X)
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm now raises ImportError
    with pytest.raises(StepError, match=r"lightgbm is not installed here: install the extra 'models'"):
        load_model(uri)


def test_a_folder_that_is_no_mlflow_model_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(StepError, match=f"{tmp_path} is not an MLflow model"):
        load_model(str(tmp_path))


def test_a_model_uri_that_does_not_exist_is_refused_by_name(store: Path) -> None:
    with pytest.raises(StepError, match="cannot download the model runs:/0123456789abcdef/model: "):
        load_model("runs:/0123456789abcdef/model")


def test_a_local_mlflow_model_directory_loads_like_a_logged_model(
    store: Path, rows: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.sklearn

    X, y = rows
    model = sklearn_pipeline(X, y)
    mlflow.sklearn.save_model(
        model, str(store / "saved"), serialization_format="cloudpickle", pip_requirements=["scikit-learn"]
    )
    loaded = load_model(str(store / "saved"))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
