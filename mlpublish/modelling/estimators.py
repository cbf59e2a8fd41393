"""Turning ``training.estimator`` into something that fits, under strict import rules.

Import rules (a spec can never run arbitrary code):

* ``training.estimator`` is either ``pkg.module.Class`` (an sklearn-API estimator
  class) or ``pkg.module:function`` (a trainer ``function(X, y, **params)`` that
  returns a fitted model with ``predict``).
* The top-level package must be in the allow-list: ``sklearn`` always, more only
  through the operator's ``MLPUBLISH_ALLOWED_MODULES`` environment variable.
* No path segment may start with an underscore (no private modules, no dunders),
  and none may name test code (``tests``, ``test_*``, ``conftest``).
* A class must have ``fit`` and ``predict`` and ``get_params``; a trainer must be a
  plain function defined in the named module.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from dataclasses import dataclass
from typing import Any

from mlpublish import config
from mlpublish.errors import SpecError, StepError, WarehouseError

log = logging.getLogger("mlpublish.modelling")
_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EstimatorRef:
    path: str
    obj: Any
    is_trainer: bool
    task: str
    existing: bool = False  # training.existingModel: ``path`` is the model's URI, nothing is fitted
    # why a trainer cannot be imported in this process (its module is not installed here): only train needs it
    unresolved: str | None = None

    def param_names(self) -> set[str] | None:
        """Parameters the estimator accepts, or None when any name goes (a ``**kwargs`` signature, a model
        trained elsewhere, whose parameters are only recorded, or a trainer not importable here)."""
        if self.existing or self.unresolved:
            return None
        sig = inspect.signature(self.obj if self.is_trainer else self.obj.__init__)
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        if not self.is_trainer:
            return set(self.obj().get_params(deep=False))
        return {n for n in list(sig.parameters)[2:]}

    def require(self, source: str) -> None:
        """Refuse to train with a trainer that cannot be imported here (SpecError, before anything is written)."""
        if self.unresolved:
            raise SpecError(
                source,
                [
                    (
                        "training.estimator",
                        f"{self.unresolved}: training needs it (score and monitor do not: a model carries its code)",
                    )
                ],
            )


def existing_model_ref(uri: str, task: str) -> EstimatorRef:
    """``training.existingModel``: a model trained elsewhere, published as it is."""
    return EstimatorRef(uri, None, False, task, existing=True)


def resolve_estimator(path: str, task: str | None, source: str = "<spec>") -> EstimatorRef:
    """Import ``path`` under the import rules; raise SpecError naming training.estimator."""
    field = "training.estimator"

    def fail(msg: str) -> SpecError:
        return SpecError(source, [(field, msg)])

    if ":" in path:
        module_name, attr = path.split(":", 1)
        is_trainer = True
    else:
        module_name, _, attr = path.rpartition(".")
        is_trainer = False
    segments = module_name.split(".") + [attr]
    if not module_name or not all(_SEGMENT.match(s) for s in segments):
        raise fail(f"{path!r}: every part must be a public Python name (no leading underscore)")
    if any(s in ("tests", "conftest") or s.startswith("test_") for s in segments):
        # importing a package's test suite runs its module-level code (and needs pytest): never an estimator
        raise fail(f"{path!r}: test modules (tests, test_*, conftest) are never imported")
    allowed = config.allowed_module_prefixes()
    top = segments[0]
    if top not in allowed and not any(module_name == p or module_name.startswith(p + ".") for p in allowed):
        raise fail(
            f"{path!r}: module {module_name!r} is not allowed; allowed packages: {', '.join(allowed)} "
            "(an operator can add more with MLPUBLISH_ALLOWED_MODULES)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if is_trainer and task is not None and (module_name + ".").startswith(missing + ".") and missing:
            # the trainer's module is not installed in this process: score and monitor load the model with the
            # code logged beside it, so only train refuses it (EstimatorRef.require)
            log.warning("%s: trainer module %r cannot be imported here: train refuses it", source, module_name)
            return EstimatorRef(path, None, True, task, unresolved=f"{path!r}: cannot import module {module_name!r}")
        raise fail(f"{path!r}: cannot import module {module_name!r} ({exc})") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise fail(f"{path!r}: module {module_name!r} has no attribute {attr!r}")

    if is_trainer:
        if not inspect.isfunction(obj) or obj.__module__ != module.__name__:
            raise fail(f"{path!r}: a trainer must be a function defined in {module_name!r}")
        if task is None:
            raise SpecError(
                source, [("training.task", "a trainer function needs training.task: classification or regression")]
            )
        return EstimatorRef(path, obj, True, task)

    if not inspect.isclass(obj) or not all(hasattr(obj, m) for m in ("fit", "predict", "get_params")):
        raise fail(f"{path!r}: expected an estimator class with fit, predict and get_params")
    from sklearn.base import is_classifier, is_regressor

    try:
        probe = obj()
    except Exception as exc:  # an estimator must be constructible with defaults, as sklearn requires
        raise fail(f"{path!r}: cannot be constructed with default parameters ({exc})") from None
    try:
        inferred = "classification" if is_classifier(probe) else "regression" if is_regressor(probe) else None
    except Exception:  # a class without scikit-learn's tags: training.task says what it does
        inferred = None
    if task and inferred and task != inferred:
        raise SpecError(source, [("training.task", f"{task!r} contradicts {path}, which is a {inferred} estimator")])
    final = task or inferred
    if final is None:
        raise SpecError(
            source, [("training.task", f"cannot tell whether {path} classifies or regresses: set training.task")]
        )
    return EstimatorRef(path, obj, False, final)


def build_model(ref: EstimatorRef, params: dict[str, Any], categorical: list[str]) -> Any:
    """An unfitted sklearn Pipeline: one-hot encoding of categorical features, then the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)] if categorical else [],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    return Pipeline([("prepare", prep), ("estimator", ref.obj(**params))])


def fit_model(ref: EstimatorRef, params: dict[str, Any], categorical: list[str], X: Any, y: Any) -> Any:
    """Fit one candidate; any failure becomes a StepError naming the estimator and its parameters."""
    try:
        if ref.is_trainer:
            fitted = ref.obj(X, y, **params)
        else:
            fitted = build_model(ref, params, categorical)
            fitted.fit(X, y)
    except Exception as exc:
        raise StepError(
            f"fitting {ref.path} with {params or 'default parameters'} failed: {exc.__class__.__name__}: {exc}"
        ) from exc
    if not hasattr(fitted, "predict"):
        raise StepError(f"trainer {ref.path} returned {type(fitted).__name__}, which has no predict()")
    return fitted


def prepare_features(frame: Any, features: list[str], categorical: list[str]) -> Any:
    """Features in stable dtypes: categoricals as strings, numericals as float64.

    The same function prepares training, evaluation and smoke-test rows, so the
    logged signature matches what the model sees everywhere.
    """
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for col in features:
        if col in categorical:
            out[col] = frame[col].astype("string").fillna("<missing>").astype(object)
        else:
            try:
                out[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
            except (ValueError, TypeError):
                bad = frame[col][pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()]
                raise WarehouseError(
                    f"feature {col!r} is declared numerical but holds non-numeric values such as {bad.iloc[0]!r}; "
                    "declare it dataType: categorical or fix the feature table"
                ) from None
    return out
