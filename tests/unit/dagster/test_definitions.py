"""The code location's entry point: Dagster calls it twice per load, and the second call reuses the first build
only while the specs folder and the environment are unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dagster import AssetKey

import mlpublish_dagster.definitions as location
from tests.conftest import churn_dict, write_spec


def test_a_second_call_reuses_the_build_until_a_spec_or_the_environment_changes(
    specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLPUBLISH_SPECS_DIR", str(specs))
    monkeypatch.setattr(location, "_last", None)
    first = location.defs()
    assert location.defs() is first  # Dagster's second call of the same load
    write_spec(specs / "other.yaml", churn_dict(name="other_model"))  # a spec added
    second = location.defs()
    assert second is not first and AssetKey(["other_model", "trained_model"]) in set(second.resolve_all_asset_keys())
    spec = specs / "other.yaml"
    spec.write_text(spec.read_text().replace("other_model", "renamed_model", 1))  # a spec edited in place
    os.utime(spec, ns=(spec.stat().st_atime_ns, spec.stat().st_mtime_ns + 1_000_000))
    third = location.defs()
    assert AssetKey(["renamed_model", "trained_model"]) in set(third.resolve_all_asset_keys())
    monkeypatch.setenv("MLPUBLISH_DEPLOYMENT", "prod")  # the environment changed: built again
    assert location.defs() is not third
