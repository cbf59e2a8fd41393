"""After the champion: batch predictions and the drift report hang below it, on Spark when the spec says so."""

from __future__ import annotations

from pathlib import Path

from mlpublish_dagster.scoring_assets import downstream_assets
from mlpublish_dagster.specs import discover


def test_predictions_and_drift_depend_on_the_champion_and_may_use_spark(specs: Path) -> None:
    (ref,) = discover(specs)
    champion = ref.asset_key("champion_model")
    predictions, drift = downstream_assets(ref, champion)
    assert (predictions.key, drift.key) == (ref.asset_key("model_predictions"), ref.asset_key("drift_report"))
    for asset in (predictions, drift):
        assert asset.asset_deps[asset.key] == {champion}
        assert asset.group_names_by_key[asset.key] == ref.key
        assert {"mlflow", "warehouse", "catalog", "spark"} <= set(asset.required_resource_keys)
    assert predictions.specs_by_key[predictions.key].kinds == {"mlflow", "sql"}
