"""CLI helpers (mlpublish.cli.common): the model names commands print in an environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.environments import specs  # noqa: F401 (fixture)


def test_cli_names_in_an_environment(specs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpublish.cli.common import model_name

    monkeypatch.chdir(specs)
    monkeypatch.setenv("MLPUBLISH_ENV", "dev")
    # commands and cards print the prefixed name: both spellings mean the same model
    assert (
        model_name("customer_churn_predictor")
        == model_name("dev_customer_churn_predictor")
        == "dev_customer_churn_predictor"
    )
