"""One spec's asset graph: the publish chain, then what comes after the champion, all in the model's group."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from mlpublish_dagster.assets import spec_assets
from mlpublish_dagster.resources import resources_for
from mlpublish_dagster.specs import discover

NOUNS = [
    "feature_table",
    "trained_model",
    "model_evaluation",
    "validated_model",
    "registered_model_version",
    "champion_model",
    "model_predictions",
    "drift_report",
]


def test_spec_assets_are_the_chain_then_the_scoring_assets_in_the_models_group(specs: Path) -> None:
    (ref,) = discover(specs)
    assets = spec_assets(ref)
    assert [a.key.path for a in assets] == [[ref.key, noun] for noun in NOUNS]
    graph = Definitions(assets=assets, resources=resources_for("local")).resolve_asset_graph()
    assert {graph.get(ref.asset_key(noun)).group_name for noun in NOUNS} == {ref.key}
    after_champion = {k.path[-1] for k in graph.get(ref.asset_key("champion_model")).child_keys}
    assert after_champion == {"model_predictions", "drift_report"}
