"""A small spec and frame the data contract tests share (tests/unit/contracts, tests/unit/steps): numerical and
categorical features of every logical type."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import yaml

from mlpublish.spec import Spec, parse_spec


def contract_spec(contract: dict[str, Any] | None = None) -> Spec:
    raw = {
        "name": "toy",
        "algorithm": "RandomForestClassifier",
        "target": "y",
        "mlFeatures": [
            {"name": "age", "dataType": "numerical"},
            {"name": "balance", "dataType": "numerical"},
            {"name": "visits", "dataType": "numerical"},
            {"name": "plan", "dataType": "categorical"},
            {"name": "region", "dataType": "categorical"},
            {"name": "active", "dataType": "numerical"},
        ],
        "data": {"trainingTable": "toy", "contract": contract or {}},
        "training": {"estimator": "sklearn.ensemble.RandomForestClassifier"},
    }
    return parse_spec(yaml.safe_dump(raw), "toy.yaml")


def toy_frame() -> pd.DataFrame:
    """100 rows: age int 18..117; balance Decimal (PostgreSQL NUMERIC); visits whole floats with 10 nulls (an
    integer column a NULL turned float); plan strings; region codes 1..3 with 2 nulls; active booleans."""
    n = 100
    return pd.DataFrame(
        {
            "age": pd.Series(range(18, 18 + n), dtype="int64"),
            "balance": [Decimal(f"{i}.25") for i in range(n)],
            "visits": [None if i % 10 == 0 else float(i % 7) for i in range(n)],
            "plan": ["gold" if i % 3 == 0 else ("basic" if i % 3 == 1 else "silver") for i in range(n)],
            "region": [None if i in (5, 6) else float(1 + i % 3) for i in range(n)],
            "active": [i % 2 == 0 for i in range(n)],
            "y": [i % 2 for i in range(n)],
        }
    )
