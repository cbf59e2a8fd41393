"""The contract tests' frame (tests/support/contract_data.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.contract_data import toy_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return toy_frame()
