"""Turning a spec's ``training.estimator`` into a fitted model, under strict import rules.

:mod:`~mlpublish.modelling.estimators` resolves the estimator class or trainer function, builds and
fits it, and prepares the feature frame every step feeds a model.
"""

from mlpublish.modelling.estimators import EstimatorRef, build_model, fit_model, prepare_features, resolve_estimator

__all__ = ["EstimatorRef", "build_model", "fit_model", "prepare_features", "resolve_estimator"]
