"""A bad spec never fails the code location: the good specs load and each bad one is an asset of its own that
names the file and the field, and whose materialisation fails with the spec's error."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from mlpublish.errors import SpecError
from mlpublish_dagster.definitions import build_definitions
from mlpublish_dagster.invalid_specs import INVALID_GROUP
from mlpublish_dagster.specs import survey
from tests.conftest import churn_dict, write_spec


@pytest.fixture
def folder(specs: Path) -> Path:
    write_spec(specs / "other.yaml", churn_dict(name="other_model"))
    write_spec(specs / "bad_split.yaml", churn_dict(name="bad_split", training={"split": {"testSize": 1.5}}))
    (specs / "bad_field.yml").write_text(
        (specs / "churn.yaml").read_text().replace("target: churned", "target: churned\ntargett: x")
    )
    write_spec(specs / "twin.yaml", churn_dict(name="Other Model"))  # the Dagster name of other_model again
    return specs


def asset_defs(defs) -> dict[AssetKey, object]:
    return {key: defs.resolve_assets_def(key) for key in defs.resolve_all_asset_keys()}


def test_the_location_loads_the_good_specs_and_one_asset_per_bad_spec(folder: Path) -> None:
    defs = build_definitions(folder, "local")
    keys = set(defs.resolve_all_asset_keys())
    for model in ("customer_churn_predictor", "other_model"):
        assert AssetKey([model, "champion_model"]) in keys
        assert defs.resolve_job_def(f"{model}_publish") is not None
    invalid = {k for k in keys if k.path[0] == "invalid_spec"}
    assert invalid == {
        AssetKey(["invalid_spec", "bad_split"]),
        AssetKey(["invalid_spec", "bad_field"]),
        AssetKey(["invalid_spec", "twin"]),
    }
    split = defs.resolve_assets_def(AssetKey(["invalid_spec", "bad_split"]))
    spec = split.specs_by_key[AssetKey(["invalid_spec", "bad_split"])]
    assert spec.group_name == INVALID_GROUP
    assert str(folder / "bad_split.yaml") in spec.description and "training.split.testSize" in spec.description
    assert "training.split.testSize" in spec.metadata["error"].value
    field = defs.resolve_assets_def(AssetKey(["invalid_spec", "bad_field"])).specs_by_key
    assert "unknown field 'targett'" in next(iter(field.values())).description
    twin = next(iter(defs.resolve_assets_def(AssetKey(["invalid_spec", "twin"])).specs_by_key.values()))
    assert "already used by 'other_model'" in twin.description


def test_materialising_the_bad_specs_asset_fails_with_its_error(folder: Path) -> None:
    defs = build_definitions(folder, "local")
    bad = defs.resolve_assets_def(AssetKey(["invalid_spec", "bad_split"]))
    with pytest.raises(SpecError) as info:
        materialize([bad])
    assert info.value.path == str(folder / "bad_split.yaml") and "training.split.testSize" in str(info.value)


def test_a_cron_dagster_refuses_makes_that_spec_invalid_only(specs: Path) -> None:
    write_spec(specs / "feb30.yaml", churn_dict(name="feb30", monitoring={"schedule": "0 0 30 2 *"}))
    refs, invalid = survey(specs)
    assert {r.name for r in refs} == {"customer_churn_predictor", "feb30"} and invalid == []  # the spec is valid
    defs = build_definitions(specs, "local")
    keys = set(defs.resolve_all_asset_keys())
    assert AssetKey(["customer_churn_predictor", "champion_model"]) in keys
    assert not any(k.path[0] == "feb30" for k in keys)
    spec = next(iter(defs.resolve_assets_def(AssetKey(["invalid_spec", "feb30"])).specs_by_key.values()))
    assert "monitoring.schedule" in spec.description and "'0 0 30 2 *'" in spec.description


def test_a_yaml_and_a_yml_of_the_same_stem_are_two_assets(tmp_path: Path) -> None:
    write_spec(tmp_path / "good.yaml", churn_dict())
    write_spec(tmp_path / "b.yaml", churn_dict(name="b1", training={"split": {"testSize": 1.5}}))
    write_spec(tmp_path / "b.yml", churn_dict(name="b2", training={"split": {"testSize": 2}}))
    keys = set(build_definitions(tmp_path, "local").resolve_all_asset_keys())
    assert {AssetKey(["invalid_spec", "b"]), AssetKey(["invalid_spec", "b_yml"])} <= keys
