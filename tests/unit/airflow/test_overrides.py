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


@pytest.fixture
def trigger(tmp_path):
    """What Airflow does with a run's conf when the run is created (REST, UI, CLI): the serialized DAG's params
    deep-merged with the conf and validated (airflow/serialization/definitions/dag.py create_dagrun)."""
    from airflow.serialization.serialized_objects import DagSerialization

    from mlpublish_airflow.dag_factory import build_dag

    path = write_spec(tmp_path / "s.yaml", churn_dict())
    dag = DagSerialization.from_dict(DagSerialization.to_dict(build_dag(load_spec(path), str(path))))
    return lambda conf: dag.params.deep_merge(conf).validate()


@pytest.mark.parametrize(
    ("overrides", "unexpected"),
    [
        ({"validaton": {"gates": []}}, "validaton"),  # a misspelled section
        ({"validation": {"gatez": []}}, "gatez"),  # a misspelled field
        ({"validation": {"gates": [{"metric": "roc_auc", "mn": 0.8}]}}, "mn"),  # inside a list item
        ({"training": {"split": {"testsize": 0.3}}}, "testsize"),
        ({"name": "another_model"}, "name"),  # frozen fields are not in the schema at all
        ({"mlflow": {"trackingUri": "http://elsewhere"}}, "mlflow"),
        ({"data": {"trainingTable": "t"}}, "data"),
    ],
)
def test_the_trigger_refuses_a_misspelled_or_frozen_override_before_the_run_exists(trigger, overrides, unexpected):
    from airflow.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as err:
        trigger({"overrides": overrides})
    assert "overrides" in str(err.value) and repr(unexpected) in str(err.value)


def test_the_trigger_accepts_the_overrides_the_chain_accepts(trigger, tmp_path):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    path = str(write_spec(tmp_path / "x.yaml", churn_dict()))
    for overrides in (
        {},
        {"validation": {"gates": [{"metric": "roc_auc", "min": 0.8}]}},
        {"mlHyperParameters": [{"name": "n_estimators", "value": 25}, {"name": "random_state", "value": 0}]},
        {"training": {"split": {"testSize": 0.3}}, "description": "retrain\nwith a second line"},
        {"promotion": {"mode": "manual"}, "owners": ["team:ml"]},
    ):
        assert trigger({"overrides": overrides})["overrides"] == overrides
        load_spec_with_overrides(path, overrides)  # and the chain takes them too


def test_the_schema_forbids_extras_wherever_the_spec_models_do():
    from mlpublish_airflow.overrides import FROZEN_FIELDS, overrides_json_schema

    schema = overrides_json_schema()
    assert not set(FROZEN_FIELDS) & set(schema["properties"])

    def objects(node, path="overrides"):
        if isinstance(node, dict):
            if "properties" in node:
                yield path, node
            for key, sub in node.items():
                yield from objects(sub, f"{path}.{key}")
        elif isinstance(node, list):
            for sub in node:
                yield from objects(sub, path)

    found = list(objects(schema))
    assert len(found) > 10 and "$defs" not in schema
    assert [p for p, node in found if node.get("additionalProperties") is not False] == []


def test_scoring_query_cannot_be_overridden_at_trigger_time(tmp_path):
    from mlpublish_airflow.overrides import TRIGGER_FROZEN_PATHS, load_spec_with_overrides

    assert "scoring.query" in TRIGGER_FROZEN_PATHS
    path = str(write_spec(tmp_path / "s.yaml", churn_dict()))
    with pytest.raises(SpecError) as err:
        load_spec_with_overrides(path, {"scoring": {"query": "SELECT * FROM customer_features", "chunkSize": 10}})
    [(where, message)] = err.value.problems
    assert where == "overrides.scoring.query" and message.startswith("cannot be overridden at trigger time")
    # the rest of the section stays overridable
    assert load_spec_with_overrides(path, {"scoring": {"chunkSize": 10}}).scoring.chunkSize == 10


def test_the_trigger_schema_refuses_what_only_the_spec_file_may_set():
    import jsonschema

    from mlpublish_airflow.overrides import TRIGGER_FROZEN_PATHS, overrides_json_schema

    schema = overrides_json_schema()
    assert "scoring.query" in TRIGGER_FROZEN_PATHS
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"scoring": {"query": "SELECT 1"}}, schema)
    jsonschema.validate({"scoring": {"chunkSize": 1000}}, schema)  # the rest of the section stays overridable


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


def test_a_conf_key_nothing_reads_is_named_with_what_is_known(monkeypatch):
    from mlpublish_airflow.overrides import unknown_conf_keys

    monkeypatch.delenv("MLPUBLISH_AIRFLOW_CONF_KEYS", raising=False)
    assert unknown_conf_keys({"overrides": {}}) == []
    assert unknown_conf_keys(None) == [] and unknown_conf_keys({}) == []
    [(where, message)] = unknown_conf_keys({"override": {"validation": {}}})
    assert where == "conf.override" and "known: overrides" in message and "did you mean 'overrides'?" in message
    assert unknown_conf_keys({"fault": 1}, extra="fault, other") == []  # a deployment's own keys
    monkeypatch.setenv("MLPUBLISH_AIRFLOW_CONF_KEYS", "fail_register_once")
    assert unknown_conf_keys({"overrides": {}, "fail_register_once": True}) == []
    assert [w for w, _ in unknown_conf_keys({"x": 1})] == ["conf.x"]


def test_the_first_task_fails_on_a_misspelled_conf_key_before_loading_anything(monkeypatch):
    from types import SimpleNamespace

    from mlpublish_airflow.exceptions import SpecInvalid
    from mlpublish_airflow.publish import TrainModelOperator

    monkeypatch.delenv("MLPUBLISH_AIRFLOW_CONF_KEYS", raising=False)
    op = TrainModelOperator(task_id="train", spec_path="/nowhere/spec.yaml")
    monkeypatch.setattr(op, "connected_spec", lambda: pytest.fail("the spec must not be loaded"))
    with pytest.raises(SpecInvalid) as err:
        op.execute({"dag_run": SimpleNamespace(conf={"override": {"validation": {}}}), "ti": None})
    assert "conf.override" in str(err.value) and "did you mean 'overrides'?" in str(err.value)


def test_whoever_triggers_cannot_lift_the_approval_rule(tmp_path):
    from mlpublish_airflow.overrides import load_spec_with_overrides

    path = str(write_spec(tmp_path / "s.yaml", churn_dict(promotion={"approval": "required", "approvers": ["ada"]})))
    for override, field in (({"approval": "none"}, "approval"), ({"approvers": ["mallory"]}, "approvers")):
        with pytest.raises(SpecError) as err:
            load_spec_with_overrides(path, {"promotion": override})
        [(where, message)] = err.value.problems
        assert where == f"overrides.promotion.{field}" and message.startswith("cannot be overridden at trigger time")
    assert load_spec_with_overrides(path, {"promotion": {"mode": "manual"}}).promotion.approval == "required"
