"""Spec YAML reading (mlpublish.spec.yamlio): field locations as line numbers, ${VAR} expansion, hostile YAML."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import (
    MAX_YAML_ALIASES,
    parse_spec,
)
from tests.support.spec_text import CHURN_TEXT, SOURCE, churn, dump, line_of, parse_error

# --------------------------------------------------------------------------
# Line numbers


def test_nested_field_error_names_its_line_in_the_original_file() -> None:
    text = CHURN_TEXT.replace("testSize: 0.25", "testSize: abc")
    exc = parse_error(text)
    expected = line_of(CHURN_TEXT, "split: {testSize: 0.25")
    assert exc.problems[0][0] == f"training.split.testSize (line {expected})"


def test_field_error_in_a_list_item_names_its_line() -> None:
    start = line_of(CHURN_TEXT, "- name: tenure_days")  # 1-based, so it is the 0-based index of the next line
    target = line_of(CHURN_TEXT, "dataType: numerical", start)
    lines = CHURN_TEXT.splitlines(keepends=True)
    lines[target - 1] = lines[target - 1].replace("numerical", "numeric")
    exc = parse_error("".join(lines))
    assert exc.problems == [
        (f"mlFeatures[3].dataType (line {target})", "Input should be 'numerical' or 'categorical' (got 'numeric')")
    ]


def test_line_of_a_block_style_nested_field() -> None:
    d = churn()
    d["training"]["split"]["foo"] = 1
    text = dump(d)
    exc = parse_error(text)
    expected = line_of(text, "foo: 1")
    assert exc.problems[0][0] == f"training.split.foo (line {expected})"


# --------------------------------------------------------------------------
# Environment expansion


def _with_connection(value: str) -> str:
    d = churn()
    d["data"]["connection"] = value
    return dump(d)


def test_env_default_is_used_when_unset() -> None:
    spec = parse_spec(_with_connection("${TEST_WAREHOUSE_URL:-sqlite:///fallback.db}"))
    assert spec.data.connection == "sqlite:///fallback.db"


def test_env_default_is_used_when_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WAREHOUSE_URL", "")
    spec = parse_spec(_with_connection("${TEST_WAREHOUSE_URL:-sqlite:///fallback.db}"))
    assert spec.data.connection == "sqlite:///fallback.db"


def test_env_value_wins_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WAREHOUSE_URL", "postgresql://wh/db")
    spec = parse_spec(_with_connection("${TEST_WAREHOUSE_URL:-sqlite:///fallback.db}"))
    assert spec.data.connection == "postgresql://wh/db"
    spec = parse_spec(_with_connection("${TEST_WAREHOUSE_URL}"))
    assert spec.data.connection == "postgresql://wh/db"


def test_env_values_are_not_reparsed_or_reexpanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WAREHOUSE_URL", "x: ${HOME}\n- y")
    spec = parse_spec(_with_connection("${TEST_WAREHOUSE_URL}"))
    assert spec.data.connection == "x: ${HOME}\n- y"


def test_double_dollar_is_a_literal_dollar() -> None:
    d = churn()
    d["description"] = "costs $$5, not $${MLPUBLISH_TEST_UNSET_VAR}"
    spec = parse_spec(dump(d))
    assert spec.description == "costs $5, not ${MLPUBLISH_TEST_UNSET_VAR}"


def test_demo_spec_picks_up_warehouse_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://warehouse/main")
    assert parse_spec(CHURN_TEXT).data.connection == "postgresql://warehouse/main"


# --------------------------------------------------------------------------
# Hostile YAML that gets past the guards (known bugs, see reasons)


class _Deadline(Exception):
    pass


def _parse_with_deadline(text: str, seconds: float) -> None:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Deadline()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        parse_spec(text, SOURCE)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM to bound the run time")
def test_alias_bomb_below_the_alias_limit_is_refused_quickly() -> None:
    levels = 24  # 2 aliases per level: 46 aliases in all, under MAX_YAML_ALIASES
    bomb = ["x-bomb:", "  l0: &l0 [a, b]"] + [f"  l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, levels)]
    text = CHURN_TEXT + "\n".join(bomb) + "\n"
    assert text.count("*l") < MAX_YAML_ALIASES
    try:
        _parse_with_deadline(text, 10.0)
    except SpecError:
        pass
    except _Deadline:
        pytest.fail("parse_spec was still expanding a 46-alias YAML bomb after 2 s")
    else:
        pytest.fail("an alias bomb was accepted")


def test_recursive_anchor_is_a_spec_error() -> None:
    exc = parse_error(CHURN_TEXT + "x-loop: &loop [*loop]\n")
    assert any(loc.startswith("<root>") for loc, _ in exc.problems)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name: !!python/object:os.system x\n", "could not determine a constructor"),
        ("? [a, b]\n: 1\n", "found unhashable key"),
        ("x: !!binary notbase64@@\n", "failed to decode base64"),
        ("schedule: 2024-13-45\n", "a value cannot be read: month must be in 1..12"),
    ],
)
def test_values_yaml_cannot_construct_are_spec_errors(text, fragment):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "hostile.yaml")
    assert any(fragment in msg for _, msg in info.value.problems)
