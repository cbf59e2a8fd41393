"""The pyfunc wrapper of a model of no known flavor (its own module: it imports mlflow, and is pickled by name)."""

from __future__ import annotations

from typing import Any

from mlflow.pyfunc import PythonModel


class ContractModel(PythonModel):
    """A model with ``predict`` (and perhaps ``predict_proba``) that no MLflow flavor knows, as an MLflow pyfunc.

    ``classes``: the labels of a classifier's ``predict_proba`` columns, when the model does not say them itself.
    """

    def __init__(self, model: Any, classes: list[Any] | None = None):
        self.model, self.classes = model, classes

    # no type hints: MLflow would read them as the pyfunc's input schema (the signature says it)
    def predict(self, context, model_input, params=None):
        return self.model.predict(model_input)
