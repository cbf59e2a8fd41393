"""Spec discovery and the names Dagster knows a spec by."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey

from mlpublish_dagster.specs import dagster_name, discover


def test_discover_does_not_take_the_environments_file_for_a_spec(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [r.name for r in discover(specs)] == ["customer_churn_predictor"]
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    assert [r.name for r in discover(specs)] == ["dev_customer_churn_predictor"]


def test_an_asset_key_is_the_model_then_the_noun(specs: Path) -> None:
    (ref,) = discover(specs)
    assert ref.asset_key("champion_model") == AssetKey(["customer_churn_predictor", "champion_model"])
    assert dagster_name("Churn-Model v2") == "churn_model_v2" and dagster_name("2nd") == "m_2nd"
