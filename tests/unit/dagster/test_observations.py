"""The training table's observation, logged by the asset that reads the table."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, AssetObservation, MetadataValue

from mlpublish_dagster import observations
from mlpublish_dagster.specs import discover


def test_the_data_version_tag_is_the_one_dagster_reads_back() -> None:
    # Dagster does not export the tag's name: this pins it to what its public event reports as the data version
    observation = AssetObservation(asset_key="t", tags={observations.DATA_VERSION_TAG: "42"})
    assert observation.data_version == "42"


def test_the_table_observation_names_the_feature_table_and_its_row_count(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ref,) = discover(specs)
    meta = {"row_count": MetadataValue.int(42)}
    monkeypatch.setattr(observations, "observe_table", lambda r, warehouse: ("42", meta) if r is ref else None)
    event = observations.table_observation(ref, warehouse=None)
    assert event.asset_key == AssetKey([ref.key, "feature_table"])
    assert event.data_version == "42" and event.metadata["row_count"].value == 42
