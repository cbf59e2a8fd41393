"""Spec overrides at trigger time (mlpublish_airflow.overrides): merged into the spec and validated, literal
values, never another model or store, the environment kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec
from tests.support.canary_secrets import TEST_SECRET
from tests.support.environments import specs  # noqa: F401 (fixture)

airflow = pytest.importorskip("airflow.sdk")


def test_overrides_merge_into_the_spec_and_are_validated(tmp_path):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    path = str(write_spec(tmp_path / "s.yaml", churn_dict()))
    spec = load_spec_with_overrides(path, '{"validation": {"gates": [{"metric": "roc_auc", "min": 0.9}]}}')
    assert [g.describe() for g in spec.validation.gates] == ["roc_auc min 0.9"]
    assert spec.validation.smokeTestRows == 50  # the rest of the section is kept
    assert load_spec_with_overrides(path, {}) == load_spec(path)
    with pytest.raises(SpecError) as err:
        load_spec_with_overrides(path, {"training": {"split": {"testSize": 2}}})
    assert "with trigger overrides" in str(err.value) and "training.split.testSize" in str(err.value)


def test_overrides_are_literal_values_never_expanded_from_the_environment(tmp_path, monkeypatch):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    monkeypatch.setenv("MLP_TEST_SECRET", TEST_SECRET)
    monkeypatch.setenv("WAREHOUSE_URL", "sqlite:///from-env.db")
    path = str(write_spec(tmp_path / "s.yaml", churn_dict()))
    spec = load_spec_with_overrides(
        path, {"description": "leak: ${MLP_TEST_SECRET} $HOME", "limitations": ["costs $5"]}
    )
    assert spec.description == "leak: ${MLP_TEST_SECRET} $HOME"
    assert spec.limitations == ["costs $5"]
    assert spec.data.connection == "sqlite:///from-env.db"  # the spec file's own ${VAR} still expands


@pytest.mark.parametrize("field", ["name", "mlflow", "data", "catalog", "serviceName"])
def test_overrides_cannot_change_which_model_or_store(tmp_path, field):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    path = str(write_spec(tmp_path / "s.yaml", churn_dict()))
    with pytest.raises(SpecError) as err:
        load_spec_with_overrides(path, {field: {"x": 1}})
    assert f"overrides.{field}" in str(err.value)


def test_overrides_must_be_a_mapping(tmp_path):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    path = str(write_spec(tmp_path / "s.yaml", churn_dict()))
    for bad in ("[1, 2]", "{not json"):
        with pytest.raises(SpecError, match="overrides"):
            load_spec_with_overrides(path, bad)


def test_trigger_overrides_keep_the_environment(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish_airflow.overrides import load_spec_with_overrides

    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    spec = load_spec_with_overrides(str(specs / "churn.yaml"), {"promotion": {"mode": "manual"}})
    assert spec.name == "dev_customer_churn_predictor" and spec.promotion.mode == "manual"
    assert spec.environment_name == "dev" and spec.source_path == str(specs / "churn.yaml")


POLICY = """\
environments:
  dev: {modelNamePrefix: dev_}
  prod:
    overrides:
      allowed: [training, validation.gates]
      frozen: [validation.gates]
"""


def test_the_environment_says_what_an_override_may_change(tmp_path, monkeypatch):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    path = str(write_spec(tmp_path / "churn.yaml", churn_dict()))
    (tmp_path / "environments.yaml").write_text(POLICY)
    lower_gates = {"validation": {"gates": [{"metric": "roc_auc", "min": 0.1}]}}
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")  # no policy: today's behaviour
    assert load_spec_with_overrides(path, lower_gates).validation.gates[0].min == 0.1
    monkeypatch.setenv("MLPUBLISH_ENV", "prod")
    for over, field, rule in [
        (lower_gates, "overrides.validation.gates", "freezes validation.gates"),
        ({"promotion": {"mode": "auto"}}, "overrides.promotion.mode", "allows only training, validation.gates"),
        ({"validation": {"requireMetadata": False}}, "overrides.validation.requireMetadata", "allows only"),
        ({"target": "other"}, "overrides.target", "allows only"),
    ]:
        with pytest.raises(SpecError) as err:
            load_spec_with_overrides(path, over)
        assert (
            err.value.problems
            == [
                (
                    field,
                    f"cannot be overridden at trigger time: environment 'prod' ({tmp_path / 'environments.yaml'}) {rule}",
                )
            ]
            or (field, err.value.problems) == (field, [(field, err.value.problems[0][1])])
            and rule in str(err.value)
        )
    spec = load_spec_with_overrides(path, {"training": {"split": {"seed": 7}}})
    assert spec.training.split.seed == 7 and spec.environment_name == "prod"
