"""OpenMetadata custom properties (mlpublish.catalog.openmetadata.properties): sent as text, declared once,
read back as their declared type."""

from __future__ import annotations

import pytest

from mlpublish.catalog.openmetadata.properties import as_property_type, property_values, undeclared


def test_properties_are_sent_as_text_and_declared_once() -> None:
    values = property_values({"a": "x", "b": 3, "c": {"z": 1, "y": [True]}})
    assert values == {"a": "x", "b": "3", "c": '{"y": [true], "z": 1}'}
    assert undeclared(values, {"b"}) == ["a", "c"]


def test_a_value_for_a_property_declared_with_another_type() -> None:
    assert as_property_type("1500", "integer") == 1500
    assert as_property_type("0.5", "number") == 0.5
    assert as_property_type("abc", "string") == "abc"
    for value, kind in (("abc", "integer"), ("x", "number"), ("2024-01-01", "date-cp")):
        with pytest.raises(ValueError):
            as_property_type(value, kind)
