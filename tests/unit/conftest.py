"""Fixtures the unit tests of several packages share."""

from __future__ import annotations

import pytest


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No store, environment or catalog variable of the caller's, and the working directory a fresh folder."""
    for var in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "MLPUBLISH_CATALOG",
        "MLPUBLISH_ENV",
        "MLPUBLISH_ENVIRONMENTS",
        "MLPUBLISH_SPEC_VARIABLES",
        "OPENMETADATA_HOST_PORT",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
