"""The MLflow flavor of each model, chosen from the object, and loading any of them the same way.

=========  ==========================================================  =======================
flavor     detected from                                               logged with
=========  ==========================================================  =======================
xgboost    a class of the ``xgboost`` package (XGBClassifier, Booster)  ``mlflow.xgboost``
lightgbm   a class of the ``lightgbm`` package (LGBMClassifier, Booster)  ``mlflow.lightgbm``
catboost   a class of the ``catboost`` package                          ``mlflow.catboost``
sklearn    a scikit-learn estimator or Pipeline (``BaseEstimator``)     ``mlflow.sklearn``
pyfunc     an ``mlflow.pyfunc.PythonModel``                             ``mlflow.pyfunc``
python     anything else with ``predict``                              ``mlflow.pyfunc``, wrapped
=========  ==========================================================  =======================

Every flavor is logged with the signature, an input example, the model's task and classes
(MLmodel ``metadata``) and ``code_paths``: the source of the model's own modules (those not
installed as packages), so the model loads in any process of the chain without them on the path.
:func:`load_model` gives every model back through the contract (:mod:`mlpublish.modelling.contract`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from mlpublish.errors import StepError
from mlpublish.modelling.contract import BoosterView, ModelView, contract_view, inner_model

# the optional libraries of the flavors, and the extra that installs them
LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"}
EXTRA = {"xgboost": "models", "lightgbm": "models", "catboost": "catboost (pip install catboost)"}
TASK_KEY, CLASSES_KEY, FLAVOR_KEY = "mlpublish_task", "mlpublish_classes", "mlpublish_flavor"


def flavor_of(model: Any) -> str:
    """The flavor a (fitted) model is logged with, from its class (see the module's table)."""
    top = type(model).__module__.split(".")[0]
    if top in LIBRARIES:
        return top
    from mlflow.pyfunc import PythonModel

    if isinstance(model, PythonModel):
        return "pyfunc"
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency of the core
        return "python"
    return "sklearn" if isinstance(model, BaseEstimator) else "python"


def code_paths(*objects: Any) -> list[str]:
    """The source of the top-level packages (or modules) the objects' classes and functions come from,
    unless they are installed (site-packages) or part of mlpublish: what a fresh process needs to load them."""
    paths: list[str] = []
    for obj in objects:
        owner = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
        top = (getattr(owner, "__module__", "") or "").split(".")[0]
        if not top or top in sys.builtin_module_names or top in ("mlpublish", "builtins", "__main__"):
            continue
        module = sys.modules.get(top) or importlib.import_module(top)
        origin = getattr(module, "__file__", None)
        if origin is None:
            continue
        path = Path(origin)
        path = path.parent if path.name == "__init__.py" else path
        if any(part in ("site-packages", "dist-packages") for part in path.parts) or str(path).startswith(sys.prefix):
            continue
        if str(path) not in paths:
            paths.append(str(path))
    return paths


def log_model(
    model: Any,
    *,
    name: str,
    task: str,
    example: Any,
    code_from: list[Any],
    modules: list[str],
) -> Any:
    """Log ``model`` (a fitted model or its contract view) with its own flavor; the MLflow ModelInfo."""
    from mlflow.models import infer_signature

    view = contract_view(model, task)
    inner = inner_model(model)
    flavor = flavor_of(inner)
    classes = getattr(view, "classes_", None)
    metadata = {TASK_KEY: task, FLAVOR_KEY: flavor}
    if classes is not None:
        metadata[CLASSES_KEY] = json.dumps([c.item() if hasattr(c, "item") else c for c in classes])
    common = dict(
        name=name,
        signature=infer_signature(example, view.predict(example)),
        input_example=example,
        pip_requirements=pip_requirements(flavor, *modules),
        code_paths=code_paths(inner, *code_from) or None,
        metadata=metadata,
    )
    if flavor == "sklearn":
        import mlflow.sklearn

        return mlflow.sklearn.log_model(inner, skops_trusted_types=trusted_types(inner), **common)
    if flavor == "xgboost":
        import mlflow.xgboost

        return mlflow.xgboost.log_model(inner, **common)
    if flavor == "lightgbm":
        import mlflow.lightgbm

        return mlflow.lightgbm.log_model(inner, **common)
    if flavor == "catboost":
        import mlflow.catboost

        return mlflow.catboost.log_model(inner, **common)
    import mlflow.pyfunc

    from mlpublish.modelling.wrapper import ContractModel

    wrapped = inner if flavor == "pyfunc" else ContractModel(inner, classes)
    return mlflow.pyfunc.log_model(python_model=wrapped, **common)


def pip_requirements(flavor: str, *modules: str) -> list[str]:
    """Pinned requirements of the logged model, without MLflow's slow inference subprocess."""
    from importlib.metadata import PackageNotFoundError, version

    dists = ["mlflow-skinny", "scikit-learn", "numpy", "pandas", "scipy", "cloudpickle", *modules]
    dists += {"xgboost": ["xgboost", "xgboost-cpu"], "lightgbm": ["lightgbm"], "catboost": ["catboost"]}.get(flavor, [])
    reqs = []
    for dist in dists:
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return sorted(set(reqs))


def trusted_types(model: Any) -> list[str]:
    """Types skops must trust to load the model we just fitted ourselves (MLflow saves with skops)."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def _need(library: str) -> None:
    try:
        importlib.import_module(library)
    except ImportError:
        raise StepError(
            f"this model was logged with the {library} flavor, but {library} is not installed here: install the "
            f"extra {EXTRA[library]!r} (pip install 'mlpublish[{EXTRA[library].split(' ')[0]}]')"
        ) from None


def load_model(uri: str) -> Any:
    """The model at ``uri`` (runs:/, models:/, a logged model or a local MLflow model directory),
    loaded with its own flavor and seen through the contract: predict, predict_proba where the
    model has it, classes_."""
    import mlflow
    from mlflow.models import Model

    # a scheme (runs:, models:, file:, s3:...) is downloaded; anything else is a local directory
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri) if re.match(r"^[A-Za-z][\w+.-]+:", uri) else uri
    except Exception as exc:  # no such run, model, version or artifact
        raise StepError(f"cannot download the model {uri}: {exc.__class__.__name__}: {exc}") from None
    try:
        meta = Model.load(local)
    except Exception as exc:
        raise StepError(f"{uri} is not an MLflow model: {exc.__class__.__name__}: {exc}") from None
    extra = meta.metadata or {}
    flavors = meta.flavors
    task = extra.get(TASK_KEY, "classification")
    classes = json.loads(extra[CLASSES_KEY]) if CLASSES_KEY in extra else None
    for library in ("xgboost", "lightgbm", "catboost"):
        if library in flavors:
            _need(library)
            native = importlib.import_module(f"mlflow.{library}").load_model(local)
            return BoosterView(native, task, classes) if type(native).__name__ == "Booster" else native
    if "sklearn" in flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(local)
    if "python_function" not in flavors:
        raise StepError(f"{uri}: no flavor mlpublish can load (it has {', '.join(flavors)}); log it as a pyfunc")
    import mlflow.pyfunc

    from mlpublish.modelling.wrapper import ContractModel

    loaded = mlflow.pyfunc.load_model(local)
    try:
        python_model = loaded.unwrap_python_model()
    except Exception:  # a flavor we do not know, served through its pyfunc
        return ModelView(loaded, classes)
    if isinstance(python_model, ContractModel):
        return contract_view(python_model.model, task, python_model.classes)
    return ModelView(python_model, classes, predict_fn=loaded.predict)
