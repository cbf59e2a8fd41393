"""What trigger-time overrides may change (mlpublish.spec.override_policy): the environment's allowed and frozen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlpublish.spec import OverridePolicy, override_problems

FROZEN = ("name", "data")


def _refused(over, policy=None):
    return [where for where, _ in override_problems(over, policy, always_frozen=FROZEN, where="environment 'prod'")]


def test_default_policy_refuses_only_the_frozen_fields():
    assert _refused({"training": {"candidates": {"max_depth": [3]}}, "promotion": {"mode": "manual"}}) == []
    assert _refused({"name": "other", "data": {"trainingTable": "t"}}) == [
        "overrides.name",
        "overrides.data.trainingTable",
    ]


def test_frozen_section_refuses_what_is_below_it_and_what_replaces_it():
    policy = OverridePolicy(frozen=["validation.gates", "promotion"])
    assert _refused({"validation": {"gates": []}}, policy) == ["overrides.validation.gates"]
    assert _refused({"validation": None}, policy) == ["overrides.validation"]  # replaces the gates too
    assert _refused({"promotion": {"mode": "auto"}}, policy) == ["overrides.promotion.mode"]
    assert _refused({"validation": {"smokeTestRows": 10}}, policy) == []


def test_allowed_lists_the_only_sections_an_override_may_change():
    policy = OverridePolicy(allowed=["training", "validation.gates"])
    assert _refused({"training": {"split": {"seed": 3}}, "validation": {"gates": []}}, policy) == []
    assert _refused({"validation": {"requireMetadata": False}}, policy) == ["overrides.validation.requireMetadata"]
    assert _refused({"validation": {}}, policy) == ["overrides.validation"]
    assert _refused({"target": "x"}, OverridePolicy(allowed=[])) == ["overrides.target"]


def test_an_environment_never_opens_a_frozen_field():
    assert _refused({"data": {"connection": "x"}}, OverridePolicy(allowed=["data"])) == ["overrides.data.connection"]


def test_messages_name_the_field_and_the_rule():
    problems = override_problems(
        {"promotion": {"mode": "auto"}, "target": "y"},
        OverridePolicy(allowed=["training"], frozen=["promotion"]),
        always_frozen=FROZEN,
        where="environment 'prod' (specs/environments.yaml)",
    )
    assert problems == [
        (
            "overrides.promotion.mode",
            "cannot be overridden at trigger time: environment 'prod' (specs/environments.yaml) freezes promotion",
        ),
        (
            "overrides.target",
            "cannot be overridden at trigger time: environment 'prod' (specs/environments.yaml) allows only training",
        ),
    ]


@pytest.mark.parametrize("bad", ["validation..gates", "validation.gates[0]", "", "data connection"])
def test_sections_are_dotted_field_paths(bad):
    with pytest.raises(ValidationError):
        OverridePolicy(frozen=[bad])
