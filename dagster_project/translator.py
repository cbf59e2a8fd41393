"""How a spec's definitions appear in a Dagster project: override a method to place them elsewhere.

As ``DagsterDbtTranslator`` does for dbt models, :class:`MlpublishTranslator` decides, per spec, the asset keys,
the group, the owners, and the upstream asset the model's feature table is. The default keeps mlpublish's own
layout: ``<model>/<noun>`` keys in the group ``<model>``, the spec's owners, and an observed source asset
``<model>/feature_table``. A project whose feature tables are built by another integration (a dbt model, a Sling
stream) returns that asset's key from :meth:`~MlpublishTranslator.get_feature_table_key`: the chain then starts at
that asset, and the lineage runs unbroken from the sources to the predictions.
"""

from __future__ import annotations

from dataclasses import replace

from dagster import AssetKey

from mlpublish_dagster.specs import Placement, SpecRef

NOUNS = (
    "feature_table",
    "trained_model",
    "model_evaluation",
    "validated_model",
    "registered_model_version",
    "champion_model",
    "model_predictions",
    "drift_report",
    "live_promotion",  # promotion.mode: shadow only
)


class MlpublishTranslator:
    """The default placement of a spec's assets; subclass and override what a project places differently."""

    def get_asset_key(self, ref: SpecRef, noun: str) -> AssetKey:
        """The key of the asset ``noun`` (one of :data:`NOUNS`) of ``ref``'s model: ``<model>/<noun>``."""
        return AssetKey([ref.key, noun])

    def get_group_name(self, ref: SpecRef) -> str:
        """The group of the model's assets: its Dagster name."""
        return ref.key

    def get_owners(self, ref: SpecRef) -> list[str]:
        """The spec's owners in Dagster's form: ``team:<name>`` for a team (a bare name is a team, as in the
        catalog), a user by the e-mail address Dagster requires (a user named otherwise is left out)."""
        owners = []
        for owner in ref.owners:
            kind, _, name = owner.partition(":") if ":" in owner else ("team", "", owner)
            if kind == "team":
                owners.append(f"team:{name}")
            elif "@" in name:
                owners.append(name)
        return owners

    def get_feature_table_key(self, ref: SpecRef) -> AssetKey | None:
        """The existing asset that is ``ref``'s training table (None: mlpublish observes the table itself as the
        source asset ``<model>/feature_table``)."""
        return None


def place(ref: SpecRef, translator: MlpublishTranslator, resource_prefix: str = "") -> SpecRef:
    """``ref`` with its placement decided by ``translator`` (each method is asked once per spec)."""
    upstream = translator.get_feature_table_key(ref)
    keys = [(noun, translator.get_asset_key(ref, noun)) for noun in NOUNS]
    if upstream is not None:
        keys = [("feature_table", AssetKey.from_coercible(upstream)), *keys[1:]]
    placement = Placement(
        keys=tuple(keys),
        group=translator.get_group_name(ref),
        owners=tuple(translator.get_owners(ref)),
        upstream_feature_table=upstream is not None,
        resource_prefix=resource_prefix,
    )
    return replace(ref, placement=placement)
