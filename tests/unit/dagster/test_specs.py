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


@pytest.mark.timeout(120)  # the old discovery skipped them unexplained; reading one would hang: a guard, not a timing
@pytest.mark.parametrize("kind", ["device", "fifo", "symlink-out"])
def test_discover_refuses_a_device_a_fifo_or_a_symlink_out_naming_the_file(tmp_path: Path, kind: str) -> None:
    import os

    from mlpublish.errors import SpecError
    from tests.conftest import churn_dict, write_spec

    specs = tmp_path / "specs"
    specs.mkdir()
    write_spec(specs / "churn.yaml", churn_dict())
    bad = specs / "bad.yaml"
    if kind == "device":
        bad.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to(write_spec(tmp_path / "other.yaml", churn_dict(name="other_model")))
    with pytest.raises(SpecError) as info:
        discover(specs)
    assert str(info.value).startswith(str(bad))
    [(where, message)] = info.value.problems
    assert where == "<file>" and ("FIFO" in message if kind == "fifo" else "outside the folder" in message)
