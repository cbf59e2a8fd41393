"""Judging a model: metrics, gates, slices, fairness, explanations, plots and drift statistics.

* :mod:`~mlpublish.evaluation.metrics`: the metrics a spec can name, and which way is better;
* :mod:`~mlpublish.evaluation.gates`: absolute and relative gates, check results;
* :mod:`~mlpublish.evaluation.slices`: per-slice metrics and gates;
* :mod:`~mlpublish.evaluation.fairness`: disparities between groups;
* :mod:`~mlpublish.evaluation.explain`: permutation importances;
* :mod:`~mlpublish.evaluation.plots`: ROC, calibration and importance plots;
* :mod:`~mlpublish.evaluation.drift`: PSI and KS statistics, the retraining decision.

Pure computations: nothing here talks to MLflow, the warehouse or the catalog.
"""
