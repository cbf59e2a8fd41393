"""mlpublish for Airflow 3: one operator per publish step, hooks for the MLflow, OpenMetadata,
warehouse and catalog connections, and the factory that builds one DAG per model spec; registered
as an Airflow provider (``provider``), with extra links (``links``) and outlet assets (``assets``).

Installed as ``mlpublish_airflow`` (``pip install 'mlpublish[airflow]'``). The
operators are thin translators: every decision is made by ``mlpublish.steps``.
"""

from typing import Any

# The operators are imported on first use (PEP 562): Airflow imports this package to read the provider info
# (``mlpublish_airflow.provider``) while it initialises, and the operators import Airflow.
_OPERATORS = {
    "PublishStepOperator": "mlpublish_airflow.publish",
    "TrainModelOperator": "mlpublish_airflow.publish",
    "EvaluateModelOperator": "mlpublish_airflow.publish",
    "ValidateModelOperator": "mlpublish_airflow.publish",
    "RegisterModelVersionOperator": "mlpublish_airflow.publish",
    "PromoteModelOperator": "mlpublish_airflow.publish",
    "ScoreModelOperator": "mlpublish_airflow.batch",
    "MonitorModelOperator": "mlpublish_airflow.batch",
    "PromoteOnLiveLabelsOperator": "mlpublish_airflow.live_promotion",
}
__all__ = list(_OPERATORS)


def __getattr__(name: str) -> Any:
    if name not in _OPERATORS:
        raise AttributeError(f"module 'mlpublish_airflow' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_OPERATORS[name]), name)
