"""A core error in an asset is a Dagster failure carrying the core's message."""

from __future__ import annotations

import pytest
from dagster import Failure

from mlpublish.errors import MlpublishError
from mlpublish_dagster.runtime import run_step


def test_run_step_returns_the_steps_result() -> None:
    assert run_step(lambda a, b: a + b, 1, 2) == 3


def test_a_core_error_fails_the_step_with_its_message_and_class() -> None:
    def step() -> None:
        raise MlpublishError("churn.yaml: validation.gates: no gate applied")

    with pytest.raises(Failure) as failed:
        run_step(step)
    assert "no gate applied" in (failed.value.description or "")
    assert failed.value.metadata["error"].value == "MlpublishError"
    assert isinstance(failed.value.__cause__, MlpublishError)


def test_other_errors_pass_through() -> None:
    with pytest.raises(ZeroDivisionError):
        run_step(lambda: 1 / 0)
