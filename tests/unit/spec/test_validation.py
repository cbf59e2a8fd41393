"""The validation section (mlpublish.spec.validation): onFailure, slices and their bins, per-slice gates,
importances."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlpublish.errors import SpecError
from mlpublish.spec import Fairness, Gate, Slice, Validation, load_spec
from tests.conftest import CHURN_SPEC, churn_dict, write_spec


def test_on_failure_defaults_to_fail_and_accepts_skip(tmp_path):
    assert load_spec(CHURN_SPEC).validation.onFailure == "fail"
    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict(validation={"onFailure": "skip"})))
    assert spec.validation.onFailure == "skip"
    with pytest.raises(SpecError) as err:
        load_spec(write_spec(tmp_path / "bad.yaml", churn_dict(validation={"onFailure": "ignore"})))
    assert "validation.onFailure" in str(err.value) and "'fail' or 'skip'" in str(err.value)


@pytest.mark.parametrize(
    "bins",
    [
        [{"name": "only"}],
        [{"name": "a", "below": 5}, {"name": "b", "below": 9}],
        [{"name": "a", "below": 5}, {"name": "b", "below": 5}, {"name": "c"}],
        [{"name": "a", "below": 5}, {"name": "a"}],
    ],
)
def test_bad_bins_are_refused(bins):
    with pytest.raises(ValidationError):
        Slice(column="tenure", bins=bins)


def test_a_gate_per_slice_must_name_a_slice_set():
    with pytest.raises(ValidationError, match="perSlice 'region' names no slice"):
        Validation(
            gates=[Gate(metric="recall", maxDropVsChampion=0.02, perSlice="region")], slices=[Slice(column="plan")]
        )
    v = Validation(
        gates=[Gate(metric="recall", maxDropVsChampion=0.02, perSlice="tier")],
        slices=[Slice(column="plan", name="tier")],
        fairness=[Fairness(sensitiveColumn="gender", metric="selection_rate", bound=0.1)],
    )
    assert v.group_columns == ["plan", "gender"] and v.slice_set("tier").column == "plan"


def test_importances_settings_in_the_spec():
    v = Validation(gates=[{"metric": "roc_auc", "min": 0.5}], importances={"enabled": False})
    assert not v.importances.enabled and v.importances.repeats == 5 and v.importances.maxRows == 10000
    with pytest.raises(ValidationError, match="maxRows"):
        Validation(importances={"maxRows": 10})
