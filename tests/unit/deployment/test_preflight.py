"""preflight's checks of a spec against its estimator: hyperparameter names, a model trained elsewhere."""

from __future__ import annotations

import pytest
import yaml

from mlpublish.deployment.preflight import preflight
from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from tests.conftest import churn_dict


def checked(tmp_path, monkeypatch, training: dict, params: list[dict]):
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.delenv("MLPUBLISH_ALLOWED_MODULES", raising=False)
    spec = {**churn_dict(mlHyperParameters=params), "training": training}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return preflight(load_spec(path), check_warehouse=False, check_catalog=False)


def test_a_class_taking_kwargs_accepts_any_parameter_name(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLPUBLISH_ALLOWED_MODULES", "lightgbm")
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    spec = {**churn_dict(mlHyperParameters=[{"name": "verbose", "value": -1}])}
    spec["training"] = {"estimator": "lightgbm.LGBMClassifier", "candidates": {"num_leaves": [7]}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    pf = preflight(load_spec(path), check_warehouse=False, check_catalog=False)
    assert pf.task == "classification" and pf.estimator.param_names() is None


def test_an_explicit_signature_is_checked_and_the_error_lists_its_names(tmp_path, monkeypatch) -> None:
    with pytest.raises(SpecError) as info:
        checked(
            tmp_path,
            monkeypatch,
            {"estimator": "sklearn.linear_model.LogisticRegression"},
            [{"name": "verbose2", "value": 1}],
        )
    [(where, message)] = info.value.problems
    assert where == "mlHyperParameters[0].name"
    assert message.startswith(
        "sklearn.linear_model.LogisticRegression has no parameter 'verbose2' (its parameters: C, "
    )
    assert "max_iter" in message


def test_an_existing_model_skips_the_estimator_and_its_parameters(tmp_path, monkeypatch) -> None:
    pf = checked(
        tmp_path,
        monkeypatch,
        {"existingModel": "runs:/0123abcd/model", "task": "classification", "selectBy": "f1"},
        [{"name": "anything", "value": 1}],
    )
    assert pf.estimator.existing and pf.estimator.path == "runs:/0123abcd/model" and pf.task == "classification"
