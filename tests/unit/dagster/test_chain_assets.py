"""The publish chain's assets: their inputs, the gate checks on validated_model, the champion's page."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mlpublish.results import NOTHING_NEW, PromoteResult
from mlpublish_dagster.chain_assets import chain_assets, champion_metadata
from mlpublish_dagster.checks import check_specs
from mlpublish_dagster.specs import discover


def test_each_step_reads_the_results_before_it_and_the_gates_block_validated_model(specs: Path) -> None:
    (ref,) = discover(specs)
    source, trained, evaluation, validated, registered, champion = chain_assets(ref)
    assert source.key == ref.asset_key("feature_table") and source.is_observable
    assert trained.asset_deps[trained.key] == {source.key}
    assert set(champion.keys_by_input_name.values()) == {validated.key, registered.key, evaluation.key}
    assert {s.name for s in validated.check_specs} == {s.name for s in check_specs(ref)}
    assert all(s.blocking for s in validated.check_specs)
    assert {a.get_io_manager_key_for_asset_key(a.key) for a in (trained, evaluation, registered)} == {
        "result_io_manager"
    }
    assert {"mlflow", "warehouse", "catalog"} <= set(champion.required_resource_keys)


def promotion(**fields) -> PromoteResult:
    base = dict(model_name="m", version="2", promoted=True, mode="auto", champion_before="1", champion_after="2")
    return PromoteResult(**{**base, "reason": "v2 beats v1", **fields})


def test_the_champion_page_says_promoted_not_promoted_or_nothing_new() -> None:
    ctx = SimpleNamespace(spec=SimpleNamespace(fqn="svc.m"), registry=SimpleNamespace(tracking_uri="sqlite:///x"))
    ctx.name = "m"
    entity = {"version": 0.2, "tags": [{"tagFQN": "Validation.PASSED"}]}
    meta = champion_metadata(ctx, promotion(), entity, {"champion": "2"})
    assert meta["outcome"].value == "PROMOTED" and meta["champion_version"].value == "2"
    assert meta["catalog_entity_version"].value == "0.2" and meta["catalog_validation_tag"].value == "Validation.PASSED"
    kept = champion_metadata(ctx, promotion(promoted=False, champion_after="1"), {}, {})
    assert kept["outcome"].value == "NOT PROMOTED" and kept["catalog_validation_tag"].value == "none"
    same = champion_metadata(ctx, promotion(promoted=False, same_as_champion="1"), {}, {})
    assert same["outcome"].value == NOTHING_NEW
    shadowing = champion_metadata(ctx, promotion(promoted=False, champion_after="1", shadow=True), {}, {})
    assert shadowing["outcome"].value == "SHADOWING" and shadowing["shadow"].value is True
