"""Turning a spec's ``training.estimator`` into a fitted model, under strict import rules.

:mod:`~mlpublish.modelling.estimators` resolves the estimator class or trainer function, builds and
fits it, and prepares the feature frame every step feeds a model. :mod:`~mlpublish.modelling.contract` is
the one contract every model meets (predict, predict_proba, classes), :mod:`~mlpublish.modelling.flavors`
logs each model with its own MLflow flavor and loads any of them back the same way.
"""

from mlpublish.modelling.contract import check_contract, contract_view
from mlpublish.modelling.estimators import (
    EstimatorRef,
    build_model,
    existing_model_ref,
    fit_model,
    prepare_features,
    resolve_estimator,
)

__all__ = [
    "EstimatorRef",
    "build_model",
    "check_contract",
    "contract_view",
    "existing_model_ref",
    "fit_model",
    "prepare_features",
    "resolve_estimator",
]
