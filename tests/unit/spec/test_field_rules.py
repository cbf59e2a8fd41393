"""The patterns and checks fields share (mlpublish.spec.field_rules): names, cron expressions, store locations."""

from __future__ import annotations

import re

import pytest

from mlpublish.spec import (
    NAME_PATTERN,
)
from mlpublish.spec.field_rules import check_cron, check_location


def test_name_pattern_accepts_a_space() -> None:
    assert re.match(NAME_PATTERN, "Revenue Predictions")


@pytest.mark.parametrize("value", [None, "0 3 * * 1", "*/15  *  * * *", "@daily", "@hourly"])
def test_a_five_field_cron_or_a_preset_is_kept_as_written(value) -> None:
    assert check_cron(value) == value


@pytest.mark.parametrize("value", ["0 3 * *", "0 3 * * 1 2024", "weekly", ""])
def test_anything_else_is_not_a_cron(value) -> None:
    with pytest.raises(ValueError, match="five-field cron expression or a preset like @daily") as err:
        check_cron(value)
    assert repr(value) in str(err.value)


@pytest.mark.parametrize("value", [None, "mlruns", "/srv/mlflow/artifacts", "s3://bucket/a..b", "churn v2"])
def test_a_location_without_control_characters_or_parent_segments_is_kept(value) -> None:
    assert check_location(value) == value


@pytest.mark.parametrize("value", ["runs\nx", "a\x00b", "del\x7f"])
def test_a_location_with_a_control_character_is_refused(value) -> None:
    with pytest.raises(ValueError, match="control character"):
        check_location(value)


@pytest.mark.parametrize("value", ["../mlruns", "a/../../b", "..", "C:\\data\\..\\x"])
def test_a_location_with_a_parent_segment_is_refused(value) -> None:
    with pytest.raises(ValueError, match=r"'\.\.' path segments"):
        check_location(value)
