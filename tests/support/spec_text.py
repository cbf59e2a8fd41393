"""The demo spec's text and the helpers the spec tests build bad specs with (tests/unit/spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlpublish.errors import SpecError
from mlpublish.spec import parse_spec

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "specs" / "churn.yaml"
CHURN_TEXT = CHURN.read_text(encoding="utf-8")
SOURCE = "specs/bad-churn.yaml"


def churn() -> dict[str, Any]:
    return yaml.safe_load(CHURN_TEXT)


def dump(d: Any) -> str:
    return yaml.safe_dump(d, sort_keys=False)


def parse_error(text: str, source: str = SOURCE) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source)
    return info.value


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line number of the first line at or after ``start`` (0-based) containing ``needle``."""
    for i, line in enumerate(text.splitlines()[start:], start=start):
        if needle in line:
            return i + 1
    raise AssertionError(f"{needle!r} not in text")


def path_of(location: str) -> str:
    """The field path of a problem's location, without its " (line N)"."""
    return location.split(" (line ")[0]
