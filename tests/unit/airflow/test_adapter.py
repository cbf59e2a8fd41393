"""The Airflow adapter's pure parts: spec overrides at trigger time, OpenLineage datasets,
validation.onFailure, and the package list in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from tests.conftest import CHURN_SPEC, churn_dict, write_spec
from tests.support.canary_secrets import TEST_SECRET

ROOT = Path(__file__).resolve().parents[3]
airflow = pytest.importorskip("airflow.sdk")


def test_on_failure_defaults_to_fail_and_accepts_skip(tmp_path):
    assert load_spec(CHURN_SPEC).validation.onFailure == "fail"
    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict(validation={"onFailure": "skip"})))
    assert spec.validation.onFailure == "skip"
    with pytest.raises(SpecError) as err:
        load_spec(write_spec(tmp_path / "bad.yaml", churn_dict(validation={"onFailure": "ignore"})))
    assert "validation.onFailure" in str(err.value) and "'fail' or 'skip'" in str(err.value)


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


def test_openlineage_datasets_name_tables_and_model_without_secrets(tmp_path):
    from mlpublish_airflow.lineage import datasets

    spec = load_spec(
        write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": "postgresql://etl:s3cret@db.example:5433/shop"}))
    )
    inputs, outputs = datasets(spec, "http://ml:pw@mlflow.example:5000")
    assert inputs[0] == ("postgres://db.example:5433", "shop.public.customer_features")
    # feature sources of the demo spec name the SQLite warehouse (main.main) in the same service
    assert ("postgres://db.example:5433", "main.main.orders") in inputs
    assert len(inputs) == len(set(inputs)) == 4
    assert outputs == [("http://ml:***@mlflow.example:5000", f"models/{spec.name}")]
    assert "s3cret" not in repr(inputs)
    assert datasets(spec, None, reads_tables=False, writes_model=False) == ([], [])


def test_openlineage_facets_are_none_without_the_provider():
    from mlpublish_airflow.lineage import operator_lineage

    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        assert operator_lineage([("ns", "t")], [("ns", "m")]) is None
    else:
        lineage = operator_lineage([("ns", "t")], [("ns", "m")])
        assert [d.name for d in lineage.inputs] == ["t"] and [d.name for d in lineage.outputs] == ["m"]


def test_every_core_package_is_listed_for_setuptools():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mlpublish").rglob("__init__.py")}
    assert on_disk <= listed
    assert config["package-dir"]["mlpublish_airflow"] == "operators"


def test_operators_do_no_io_at_construction(tmp_path):
    from mlpublish_airflow import TrainModelOperator

    op = TrainModelOperator(
        task_id="train", spec_path=str(tmp_path / "missing.yaml"), overrides="{{ params.overrides }}"
    )
    assert op.spec_path.endswith("missing.yaml") and op.template_fields == ("spec_path", "overrides")
    with pytest.raises(TypeError):
        TrainModelOperator("train", spec_path="x")  # keyword-only


def test_operators_report_openlineage_inputs_and_outputs(tmp_path, monkeypatch):
    pytest.importorskip("airflow.providers.openlineage")
    from airflow.providers.openlineage.extractors import OperatorLineage

    from mlpublish_airflow import EvaluateModelOperator, TrainModelOperator

    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", "http://mlflow.example:5000")
    path = str(write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": "sqlite:////data/wh.db"})))
    lineage = TrainModelOperator(task_id="train", spec_path=path).get_openlineage_facets_on_complete(None)
    assert isinstance(lineage, OperatorLineage)
    assert [(d.namespace, d.name) for d in lineage.inputs][:2] == [
        ("sqlite:///data/wh.db", "main.main.customer_features"),
        ("sqlite:///data/wh.db", "main.main.orders"),
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("http://mlflow.example:5000", "models/customer_churn_predictor")
    ]
    evaluate = EvaluateModelOperator(task_id="evaluate", spec_path=path).get_openlineage_facets_on_complete(None)
    assert evaluate.outputs == [] and len(evaluate.inputs) == 4
