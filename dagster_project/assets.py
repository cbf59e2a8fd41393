"""The asset graph of one spec, built from its file: the publish chain, then what comes after the champion.

    feature_table (observed) -> trained_model -> model_evaluation -> validated_model
        -> registered_model_version -> champion_model              (chain_assets.py)
        -> model_predictions, drift_report   (their own jobs)      (scoring_assets.py)
        drift_report -> live_promotion       (promotion.mode: shadow) (live_promotion.py)

The gates are blocking asset checks of ``validated_model`` (checks.py).
"""

from dagster import AssetsDefinition, SourceAsset

from mlpublish_dagster.chain_assets import chain_assets
from mlpublish_dagster.checks import check_results, check_specs
from mlpublish_dagster.live_promotion import live_promotion_asset
from mlpublish_dagster.scoring_assets import downstream_assets
from mlpublish_dagster.specs import SpecRef


def spec_assets(ref: SpecRef) -> list[SourceAsset | AssetsDefinition]:
    """The assets and checks of one spec; keys are ``<model>/<noun>``, the group is the model."""
    live = [live_promotion_asset(ref, ref.asset_key("drift_report"))] if ref.shadow else []
    return [*chain_assets(ref), *downstream_assets(ref, ref.asset_key("champion_model")), *live]


__all__ = ["spec_assets", "check_specs", "check_results", "downstream_assets"]
