"""Airflow DAG file: one mlpublish DAG per model spec in MLPUBLISH_SPECS_DIR (default: the project's specs/).

Parsing reads the spec files only (no MLflow, scikit-learn or OpenMetadata import, no
database or network). Retries of every task: MLPUBLISH_AIRFLOW_RETRIES (default 1),
MLPUBLISH_AIRFLOW_RETRY_DELAY_SECONDS (default 60).
"""

import os
from datetime import timedelta
from pathlib import Path

from mlpublish_airflow.dag_factory import build_dags

SPECS_DIR = os.environ.get("MLPUBLISH_SPECS_DIR") or str(Path(__file__).resolve().parents[1] / "specs")

globals().update(
    build_dags(
        SPECS_DIR,
        retries=int(os.environ.get("MLPUBLISH_AIRFLOW_RETRIES", "1")),
        retry_delay=timedelta(seconds=float(os.environ.get("MLPUBLISH_AIRFLOW_RETRY_DELAY_SECONDS", "60"))),
    )
)
