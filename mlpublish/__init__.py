"""mlpublish: a gated publish chain for ML models on MLflow, with catalog metadata.

The core never imports an orchestrator; the Airflow and Dagster adapters live
outside this package and only translate what the core returns.
"""

__version__ = "0.1.0"
