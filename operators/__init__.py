"""mlpublish for Airflow 3: one operator per publish step, hooks for the MLflow, OpenMetadata,
warehouse and catalog connections, and the factory that builds one DAG per model spec; registered
as an Airflow provider (``provider``), with extra links (``links``) and outlet assets (``assets``).

Installed as ``mlpublish_airflow`` (``pip install 'mlpublish[airflow]'``). The
operators are thin translators: every decision is made by ``mlpublish.steps``.
"""

from mlpublish_airflow.batch import MonitorModelOperator, ScoreModelOperator
from mlpublish_airflow.publish import (
    EvaluateModelOperator,
    PromoteModelOperator,
    PublishStepOperator,
    RegisterModelVersionOperator,
    TrainModelOperator,
    ValidateModelOperator,
)

__all__ = [
    "PublishStepOperator",
    "TrainModelOperator",
    "EvaluateModelOperator",
    "ValidateModelOperator",
    "RegisterModelVersionOperator",
    "PromoteModelOperator",
    "ScoreModelOperator",
    "MonitorModelOperator",
]
