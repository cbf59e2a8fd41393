"""The dg component: scaffolded as ``dg scaffold defs`` does, configured in defs.yaml (a spec file, an inline spec,
a schedule, no sensors, a resource prefix), it builds what the factory builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import AssetKey
from dagster.components.testing import create_defs_folder_sandbox

from mlpublish.errors import SpecError
from mlpublish_dagster.component import STARTER_SPEC, MlpublishComponent
from mlpublish_dagster.factory import build_mlpublish_definitions
from tests.conftest import churn_dict, write_spec

TYPE = "mlpublish_dagster.component.MlpublishComponent"
MODEL = "customer_churn_predictor"


def summary(defs) -> dict[str, object]:
    """What a user sees of the definitions: assets, checks per asset, jobs, schedules, sensors."""
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys())
    return {
        "assets": keys,
        "checks": sorted(c.name for k in keys if graph.get(k).is_materializable for c in graph.get(k).check_keys),
        "jobs": sorted(j.name for j in defs.jobs),
        "schedules": sorted((s.name, s.cron_schedule) for s in defs.schedules),
        "sensors": sorted(s.name for s in defs.sensors),
    }


def test_the_scaffolded_component_builds_what_the_factory_builds(tmp_path: Path) -> None:
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(component_cls=MlpublishComponent, defs_path="churn")
        scaffolded = yaml.safe_load((path / "defs.yaml").read_text())
        assert scaffolded == {"type": TYPE, "attributes": {"spec_path": STARTER_SPEC}}
        write_spec(path / STARTER_SPEC, churn_dict())  # the starter spec, made cheap
        (path / "defs.yaml").write_text(
            yaml.safe_dump({**scaffolded, "attributes": {**scaffolded["attributes"], "deployment": "local"}})
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert isinstance(component, MlpublishComponent)
            built = summary(defs)
    write_spec(tmp_path / "churn.yaml", churn_dict())
    factory = summary(build_mlpublish_definitions(tmp_path, deployment="local"))
    # the notification sensors are the component's own, named after its folder (a project has one per model)
    factory["sensors"] = sorted(n if n.endswith("retraining_sensor") else f"churn_{n}" for n in factory["sensors"])
    assert built == factory
    assert AssetKey([MODEL, "champion_model"]) in built["assets"]


def test_an_inline_spec_with_its_own_schedule_no_sensors_and_prefixed_resources(tmp_path: Path) -> None:
    attributes = {
        "spec": churn_dict(),
        "deployment": "local",
        "schedule": "0 5 * * *",
        "sensors": False,
        "resource_prefix": "mlp_",
    }
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=MlpublishComponent,
            defs_path="inline",
            defs_yaml_contents={"type": TYPE, "attributes": attributes},
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            built = summary(defs)
            trained = defs.resolve_assets_def(AssetKey([MODEL, "trained_model"]))
    assert ("customer_churn_predictor_retraining_schedule", "0 5 * * *") in built["schedules"]
    assert built["sensors"] == []
    assert {"mlp_mlflow", "mlp_warehouse", "mlp_catalog"} <= trained.required_resource_keys


def test_a_bad_inline_spec_is_an_invalid_spec_asset_naming_defs_yaml() -> None:
    spec = churn_dict()
    spec["validation"]["gates"][0]["metric"] = "rocauc"
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=MlpublishComponent,
            defs_path="typo",
            defs_yaml_contents={"type": TYPE, "attributes": {"spec": spec, "deployment": "local"}},
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            (key,) = defs.resolve_all_asset_keys()
            (asset_spec,) = defs.resolve_assets_def(key).specs
    assert key == AssetKey(["invalid_spec", "typo"])  # named by the component's folder
    assert str(path / "defs.yaml") in asset_spec.description and "validation.gates[0].metric" in asset_spec.description


def test_two_components_of_one_project_share_the_resources_and_name_their_own_sensors() -> None:
    with create_defs_folder_sandbox() as sandbox:
        for name in ("first", "second"):
            attributes = {"spec": churn_dict(name=f"model_{name}"), "deployment": "local", "resource_prefix": "ml_"}
            sandbox.scaffold_component(
                component_cls=MlpublishComponent,
                defs_path=name,
                defs_yaml_contents={"type": TYPE, "attributes": attributes},
            )
        with sandbox.build_all_defs() as defs:  # Dagster merges the two: one resource object per key
            sensors = {s.name for s in defs.sensors}
            resources = set(defs.resources)
    assert {"ml_first_mlpublish_publish_notifications", "ml_second_mlpublish_publish_notifications"} <= sensors
    assert resources == {"ml_mlflow", "ml_warehouse", "ml_catalog", "ml_spark", "ml_result_io_manager"}


def test_the_translators_decisions_as_attributes_map_the_feature_table_onto_a_dbt_model() -> None:
    attributes = {
        "spec": churn_dict(),
        "deployment": "local",
        "asset_key_prefix": ["ml"],
        "group_name": "models",
        "feature_table_key": "analytics/{training_table}",
    }
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=MlpublishComponent,
            defs_path="churn",
            defs_yaml_contents={"type": TYPE, "attributes": attributes},
        )
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            graph = defs.resolve_asset_graph()
        bad = {**attributes, "feature_table_key": "analytics/{table}"}
        with sandbox.swap_defs_file(path / "defs.yaml", {"type": TYPE, "attributes": bad}):
            with pytest.raises(Exception) as info:  # dg wraps the component's error in its tree's
                with sandbox.load_component_and_build_defs(defs_path=path):
                    pass
    cause = info.value
    while cause is not None and not isinstance(cause, SpecError):
        cause = cause.__cause__
    assert cause is not None and str(path / "defs.yaml") in str(cause)
    assert "attributes.feature_table_key" in str(cause) and "{training_table} and {model}" in str(cause)
    trained = graph.get(AssetKey(["ml", MODEL, "trained_model"]))
    assert trained.parent_keys == {AssetKey(["analytics", "customer_features"])} and trained.group_name == "models"
