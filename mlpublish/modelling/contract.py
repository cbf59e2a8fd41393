"""The one model contract: what every model the chain publishes must offer, whatever its class.

A fitted model has ``predict(X)`` (one value per row of the pandas DataFrame ``X``); a classifier
whose selection metric or gates read probabilities also has ``predict_proba(X)`` (one column per
class, in ``classes_`` order). ``classes_`` is optional: without it the classes are the sorted
labels the model was trained on. Native XGBoost and LightGBM ``Booster`` objects, which predict
from their own data structures, are seen through :class:`BoosterView`.

Every step reads a model through this contract (:func:`contract_view`), never through
scikit-learn's estimator machinery, so a plain Python class works like a scikit-learn one.
"""

from __future__ import annotations

from typing import Any

from mlpublish.errors import StepError

# metrics read from predict_proba: a classifier gated or selected on one of them must have it
PROBABILITY_METRICS = frozenset({"roc_auc", "log_loss", "brier", "ece"})


def describe(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_booster(obj: Any) -> bool:
    """A native XGBoost or LightGBM Booster (not its scikit-learn wrapper)."""
    cls = type(obj)
    return cls.__name__ == "Booster" and cls.__module__.split(".")[0] in ("xgboost", "lightgbm")


def check_contract(model: Any, source: str, task: str, needs: list[str]) -> None:
    """Refuse a fitted ``model`` that lacks what ``task`` and the metrics ``needs`` call for.

    The error names where the model comes from (``source``: "trainer pkg.mod:train", "training.estimator
    pkg.mod.Class" or "training.existingModel URI"), its class and the missing method; it is raised
    before the model is logged, so nothing is registered.
    """
    if is_booster(model):
        return
    if not callable(getattr(model, "predict", None)):
        raise StepError(
            f"{source} returned a {describe(model)}, which has no predict(): every model must predict "
            "(docs/bring-your-model.md); nothing was registered"
        )
    probability = sorted(set(needs) & PROBABILITY_METRICS)
    if task == "classification" and probability and not callable(getattr(model, "predict_proba", None)):
        raise StepError(
            f"{source} returned a {describe(model)}, which has no predict_proba(): the classification "
            f"metric(s) {', '.join(probability)} (training.selectBy or validation.gates) read probabilities; give "
            "the model predict_proba(X) with one column per class, or select and gate on accuracy, precision, "
            "recall or f1 (docs/bring-your-model.md); nothing was registered"
        )


class ModelView:
    """A model seen through the contract: ``predict``, ``predict_proba`` when it has one, ``classes_``.

    ``inner`` is the model itself (what is logged); ``classes`` fills in ``classes_`` for a
    classifier that does not say its own.
    """

    def __init__(self, inner: Any, classes: list[Any] | None = None, predict_fn: Any = None):
        self.inner = inner
        if predict_fn is None:
            predict_fn = python_model_predict(inner) if is_python_model(inner) else inner.predict
        self._predict = predict_fn
        own = getattr(inner, "classes_", None)
        if own is not None:
            self.classes_ = list(own)
        elif classes is not None:
            self.classes_ = list(classes)
        if callable(getattr(inner, "predict_proba", None)):
            self.predict_proba = inner.predict_proba
        names = getattr(inner, "feature_names_in_", None)
        if names is not None:
            self.feature_names_in_ = list(names)

    def predict(self, X: Any) -> Any:
        return self._predict(X)

    def __getstate__(self) -> dict[str, Any]:  # bound methods of a pickled inner model are rebuilt on load
        return {"inner": self.inner, "classes": getattr(self, "classes_", None)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["inner"], state["classes"])  # type: ignore[misc]


class BoosterView:
    """A native XGBoost or LightGBM ``Booster`` through the contract.

    A booster predicts the positive class's probability (binary), one column per class
    (multi-class) or the value (regression), from labels encoded 0..k-1: ``classes`` are the
    labels those codes stand for (the sorted training labels).
    """

    def __init__(self, inner: Any, task: str, classes: list[Any] | None = None):
        self.inner, self.task = inner, task
        if task == "classification":
            self.classes_ = list(classes or [])

    def _raw(self, X: Any) -> Any:
        import numpy as np

        if type(self.inner).__module__.split(".")[0] == "xgboost":
            import xgboost

            return np.asarray(self.inner.predict(xgboost.DMatrix(X)))
        return np.asarray(self.inner.predict(X))

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        raw = self._raw(X)
        if raw.ndim == 1:
            return np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, X: Any) -> Any:
        import numpy as np

        if self.task != "classification":
            return self._raw(X)
        return np.asarray(self.classes_).take(self.predict_proba(X).argmax(axis=1))

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner, "task": self.task, "classes": getattr(self, "classes_", None)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["inner"], state["task"], state["classes"])  # type: ignore[misc]


def has_contract(model: Any, task: str) -> bool:
    """True when ``model`` already offers the contract itself (scikit-learn and its wrappers)."""
    if not callable(getattr(model, "predict", None)):
        return False
    if task != "classification" or not callable(getattr(model, "predict_proba", None)):
        return True
    return getattr(model, "classes_", None) is not None


def is_python_model(obj: Any) -> bool:
    """An ``mlflow.pyfunc.PythonModel`` (told by its class, so that this module needs no mlflow)."""
    return any(c.__name__ == "PythonModel" and c.__module__.startswith("mlflow.pyfunc") for c in type(obj).__mro__)


def python_model_predict(model: Any) -> Any:
    """``predict(X)`` of a PythonModel, whose own predict takes ``(context, model_input)`` (or, with type
    hints, ``(model_input)``): what its pyfunc does once loaded, with no context before it is logged."""
    import inspect

    takes_context = len(inspect.signature(model.predict).parameters) >= 2

    def predict(X: Any) -> Any:
        return model.predict(None, X) if takes_context else model.predict(X)

    return predict


def contract_view(model: Any, task: str, classes: list[Any] | None = None) -> Any:
    """``model`` as every step reads it: itself when it offers the contract, else a view that does."""
    if isinstance(model, (ModelView, BoosterView)):
        return model
    if is_booster(model):
        return BoosterView(model, task, classes)
    if has_contract(model, task) and not is_python_model(model):
        return model
    return ModelView(model, classes)


def inner_model(model: Any) -> Any:
    """The model itself, behind any view (what gets logged)."""
    return model.inner if isinstance(model, (ModelView, BoosterView)) else model
