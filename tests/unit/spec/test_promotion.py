"""The promotion section (mlpublish.spec.promotion): shadow mode needs the challenger's predictions and the labels,
and a required approval comes after the live decision, not at the end of the chain."""

from __future__ import annotations

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import parse_spec
from mlpublish.spec.models import Promotion
from tests.support.spec_text import churn, dump, path_of

LABELS = {"table": "churn_labels", "timeColumn": "observed_at"}


def shadow(**sections):
    spec = churn()
    spec["promotion"] = {"mode": "shadow"}
    for name, value in sections.items():
        spec.setdefault(name, {}).update(value)
    return dump(spec)


def test_shadow_mode_names_the_fields_it_needs():
    with pytest.raises(SpecError) as info:
        parse_spec(shadow(), "churn.yaml")
    problems = {path_of(loc): msg for loc, msg in info.value.problems}
    assert set(problems) == {"scoring.shadow", "monitoring.labels"}
    assert "promotion.mode: shadow needs scoring.shadow: true" in problems["scoring.shadow"]
    assert "promotion.mode: shadow needs monitoring.labels" in problems["monitoring.labels"]
    with pytest.raises(SpecError) as info:
        parse_spec(shadow(scoring={"shadow": True}), "churn.yaml")
    assert [path_of(loc) for loc, _ in info.value.problems] == ["monitoring.labels"]


def test_shadow_mode_with_both_loads_and_other_modes_need_neither():
    spec = parse_spec(shadow(scoring={"shadow": True}, monitoring={"labels": LABELS}), "churn.yaml")
    assert spec.promotion.mode == "shadow" and spec.promotion.shadow.windowN == 2
    assert parse_spec(dump(churn()), "churn.yaml").promotion.mode == "auto"


def test_a_required_approval_in_shadow_mode_comes_after_the_live_decision():
    live = Promotion(mode="shadow", approval="required")
    assert not live.needs_approval and live.live_approval  # the chain does not wait for an approver
    assert Promotion(mode="auto", approval="required").needs_approval
    assert not Promotion(mode="shadow").live_approval and not Promotion(mode="shadow").needs_approval
