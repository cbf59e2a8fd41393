"""Results of different candidates are never combined (an orchestrator mixing up runs)."""

from __future__ import annotations

import pytest

from mlpublish.errors import StepError
from mlpublish.results import RegisterResult, ValidateResult, same_candidate


def _validation(run_id: str) -> ValidateResult:
    return ValidateResult(model_name="m", run_id=run_id, status="PASSED", checks=[], champion_version=None)


def _registration(run_id: str) -> RegisterResult:
    return RegisterResult(model_name="m", run_id=run_id, status="PASSED", version="3", created=True)


def test_same_candidate_accepts_one_run_and_names_the_mix():
    same_candidate("promote", _validation("a"), _registration("a"))
    with pytest.raises(StepError, match=r"promote: .*different candidates.*RegisterResult=b.*ValidateResult=a"):
        same_candidate("promote", _validation("a"), _registration("b"))
