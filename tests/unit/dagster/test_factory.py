"""The factory in another Dagster project: nothing built at import, prefixed resources beside the project's own,
a translator that maps the feature table onto the project's upstream (dbt-like) asset, specs refused at load as
``mlpublish check`` refuses them."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    ConfigurableResource,
    DagsterInvariantViolationError,
    Definitions,
    asset,
)

from mlpublish.errors import SpecError
from mlpublish_dagster.factory import build_mlpublish_definitions
from mlpublish_dagster.translator import MlpublishTranslator
from tests.conftest import churn_dict, write_spec

MODEL = "customer_churn_predictor"
DBT_MODEL = AssetKey(["analytics", "customer_features"])
RAW_ORDERS = AssetKey(["raw", "orders"])


class ProjectWarehouse(ConfigurableResource):
    """The project's own warehouse resource, under the key mlpublish uses too."""

    dsn: str = "postgresql://analytics"


@asset(key=RAW_ORDERS, group_name="raw")
def raw_orders() -> None: ...


@asset(key=DBT_MODEL, deps=[RAW_ORDERS], group_name="dbt", kinds={"dbt"})
def customer_features(warehouse: ProjectWarehouse) -> None: ...


@asset(group_name="finance")
def revenue_report() -> None: ...


PROJECT = Definitions(
    assets=[raw_orders, customer_features, revenue_report], resources={"warehouse": ProjectWarehouse()}
)


class DbtFeatureTables(MlpublishTranslator):
    """The project's layout: every model under ``ml/``, in the group ``ml``, fed by its dbt model."""

    def get_asset_key(self, ref, noun):
        return AssetKey(["ml", ref.key, noun])

    def get_group_name(self, ref):
        return "ml"

    def get_feature_table_key(self, ref):
        return AssetKey(["analytics", ref.training_table])


def test_importing_the_code_location_builds_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mlpublish_dagster.definitions as location

    monkeypatch.setenv("MLPUBLISH_SPECS_DIR", str(tmp_path / "nowhere"))
    location = importlib.reload(location)  # no specs folder, and yet it imports
    with pytest.raises(SpecError, match="MLPUBLISH_SPECS_DIR: not a folder of model specs"):
        location.defs()  # what Dagster calls when it loads the code location


def test_without_a_prefix_the_resources_collide_with_the_projects(specs: Path) -> None:
    with pytest.raises(DagsterInvariantViolationError, match="warehouse"):
        Definitions.merge(PROJECT, build_mlpublish_definitions(specs, deployment="local"))


def test_a_project_merges_with_prefixed_resources_and_continuous_lineage(specs: Path) -> None:
    mlpublish = build_mlpublish_definitions(
        specs, resource_prefix="mlpublish_", translator=DbtFeatureTables(), deployment="local"
    )
    defs = Definitions.merge(PROJECT, mlpublish)
    Definitions.validate_loadable(defs)
    assert isinstance(defs.resources["warehouse"], ProjectWarehouse)
    assert {"mlpublish_mlflow", "mlpublish_warehouse", "mlpublish_catalog", "mlpublish_result_io_manager"} <= set(
        defs.resources
    )
    graph = defs.resolve_asset_graph()
    key = lambda noun: AssetKey(["ml", MODEL, noun])  # noqa: E731
    assert graph.get(key("trained_model")).parent_keys == {DBT_MODEL}
    assert not graph.has(AssetKey([MODEL, "feature_table"])) and not graph.has(key("feature_table"))
    lineage = AssetSelection.assets(key("model_predictions")).upstream().resolve(graph)
    assert {RAW_ORDERS, DBT_MODEL, key("champion_model")} <= lineage  # raw table to predictions, unbroken
    assert AssetKey(["revenue_report"]) not in lineage
    node = graph.get(key("validated_model"))
    assert node.group_name == "ml" and node.owners == ["team:data-science"]
    assets = defs.resolve_assets_def(key("trained_model"))
    assert assets.required_resource_keys >= {"mlpublish_mlflow", "mlpublish_warehouse", "mlpublish_catalog"}
    assert "warehouse" not in assets.required_resource_keys
    job = defs.resolve_job_def(f"{MODEL}_publish")  # resolves the job's resources: every prefixed key is bound
    assert {k for k in job.asset_layer.executable_asset_keys} == {
        key(n) for n in ("trained_model", "model_evaluation", "validated_model", "registered_model_version")
    } | {key("champion_model")}
    sensor = next(s for s in defs.sensors if s.name == f"{MODEL}_retraining_sensor")
    assert sensor.required_resource_keys == {"mlpublish_mlflow"}


def test_a_gate_on_a_metric_the_task_does_not_compute_is_refused_at_load(tmp_path: Path) -> None:
    spec = churn_dict()
    spec["validation"]["gates"][0]["metric"] = "rocauc"
    write_spec(tmp_path / "typo.yaml", spec)
    defs = build_mlpublish_definitions(tmp_path, deployment="local")
    keys = set(defs.resolve_all_asset_keys())
    assert keys == {AssetKey(["invalid_spec", "typo"])}  # the model is not served: mlpublish check refuses it too
    (description,) = (s.description for s in defs.resolve_assets_def(AssetKey(["invalid_spec", "typo"])).specs)
    assert "validation.gates[0].metric" in description and "'rocauc' is not computed for classification" in description


def test_in_a_fleet_each_models_jobs_select_only_that_models_assets(tmp_path: Path) -> None:
    names = ["churn_a", "churn_b", "churn_c"]
    for name in names:
        write_spec(tmp_path / f"{name}.yaml", churn_dict(name=name))
    defs = build_mlpublish_definitions(tmp_path, deployment="local")
    chain = ("trained_model", "model_evaluation", "validated_model", "registered_model_version", "champion_model")
    for name in names:
        key = lambda noun, name=name: AssetKey([name, noun])  # noqa: E731
        jobs = {
            "publish": {key(n) for n in chain},
            "scoring": {key("model_predictions")},
            "monitoring": {key("drift_report")},
        }
        for kind, expected in jobs.items():
            assert set(defs.resolve_job_def(f"{name}_{kind}").asset_layer.executable_asset_keys) == expected, kind
        sensor = next(s for s in defs.sensors if s.name == f"{name}_retraining_sensor")
        assert sensor.job_name == f"{name}_publish"
    jobs_of = {"retraining": "publish", "scoring": "scoring", "monitoring": "monitoring"}
    expected = {f"{n}_{what}_schedule": f"{n}_{job}" for n in names for what, job in jobs_of.items()}
    by_schedule = {s.name: s.job_name for s in defs.schedules}
    assert by_schedule and by_schedule == {name: expected[name] for name in by_schedule}
    assert {name.split("_schedule")[0].rsplit("_", 1)[0] for name in by_schedule} == set(names)
