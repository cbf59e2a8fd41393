"""The default translator keeps mlpublish's layout; a spec's owners become Dagster owners."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dagster import AssetKey

from mlpublish_dagster.specs import discover
from mlpublish_dagster.translator import NOUNS, MlpublishTranslator, place


def test_the_default_placement_is_model_slash_noun_in_the_models_group(specs: Path) -> None:
    (ref,) = discover(specs)
    placed = place(ref, MlpublishTranslator())
    assert [placed.asset_key(noun) for noun in NOUNS] == [AssetKey([ref.key, noun]) for noun in NOUNS]
    assert placed.group == ref.key and not placed.placement.upstream_feature_table
    assert placed.resource_key("mlflow") == "mlflow"


def test_owners_are_teams_and_users_with_an_email_address(specs: Path) -> None:
    (ref,) = discover(specs)
    ref = replace(ref, owners=("data-science", "team:risk", "user:ana@example.com", "user:bob"))
    # Dagster accepts a team or an e-mail address: a user named otherwise cannot be an owner there
    assert MlpublishTranslator().get_owners(ref) == ["team:data-science", "team:risk", "ana@example.com"]


def test_an_upstream_feature_table_and_a_prefix_are_part_of_the_placement(specs: Path) -> None:
    class Upstream(MlpublishTranslator):
        def get_feature_table_key(self, ref):
            return ["analytics", ref.training_table]  # anything AssetKey accepts

    (ref,) = discover(specs)
    placed = place(ref, Upstream(), resource_prefix="ml_")
    assert placed.asset_key("feature_table") == AssetKey(["analytics", ref.training_table])
    assert placed.placement.upstream_feature_table and placed.resource_key("warehouse") == "ml_warehouse"
