"""Fairness disparities (mlpublish.evaluation.fairness): computed as fairlearn does, bounded, compared with the
champion, and needing two groups with enough rows."""

from __future__ import annotations

import numpy as np
import pytest

from mlpublish.evaluation.fairness import compute_disparity, fairness_checks
from mlpublish.spec import Fairness


def test_disparity_is_fairlearns_and_is_bounded_and_compared_with_the_champion():
    sensitive = np.array(["g0"] * 4 + ["g1"] * 4 + ["tiny"])
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1])
    candidate = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1])  # selection rate g0 .75, g1 0
    champion = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1])  # g0 .5, g1 .25
    spec = Fairness(sensitiveColumn="grp", metric="selection_rate", bound=0.3, maxWorseVsChampion=0.1, minRows=2)
    d = compute_disparity(spec, sensitive, y, candidate, champion, 1)
    assert d.candidate == pytest.approx(0.75) and d.champion == pytest.approx(0.25)
    assert d.groups == {"g0": 0.75, "g1": 0.0} and d.left_out == ["tiny"] and d.rows["tiny"] == 1
    bound, versus = fairness_checks(0, spec, d, "2", True)
    assert bound.outcome == "fail" and bound.check == "fairness" and "0.7500 > 0.3" in bound.detail
    assert versus.outcome == "fail" and "worse by 0.5000 exceeds 0.1" in versus.detail
    ratio = Fairness(sensitiveColumn="grp", metric="true_positive_rate", measure="ratio", bound=0.8, minRows=2)
    d = compute_disparity(ratio, sensitive, y, champion, None, 1)  # tpr g0 1.0, g1 .5
    assert d.candidate == pytest.approx(0.5)
    assert fairness_checks(0, ratio, d, None, True)[0].outcome == "fail"


def test_a_disparity_needs_two_groups_with_enough_rows():
    spec = Fairness(sensitiveColumn="grp", metric="selection_rate", bound=0.3, minRows=30)
    d = compute_disparity(spec, np.array(["g0", "g1"]), np.array([1, 0]), np.array([1, 0]), None, 1)
    (check,) = fairness_checks(0, spec, d, None, True)
    assert check.outcome == "fail" and "a disparity needs two" in check.detail
