"""The spec tests must not depend on the caller's environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus must not depend on the caller's environment."""
    for var in (
        "WAREHOUSE_URL",
        "MLPUBLISH_TEST_UNSET_VAR",
        "TEST_WAREHOUSE_URL",
        "UNSET_TEST_WAREHOUSE_URL",
        "MLPUBLISH_SPEC_VARIABLES",
    ):
        monkeypatch.delenv(var, raising=False)
