"""MLflow, the tracking server and model registry: everything the core reads and writes there.

* :mod:`~mlpublish.registry.gateway`: :class:`Registry`, every MlflowClient call of the core;
* :mod:`~mlpublish.registry.lock`: the registry-wide lock that champion moves run under;
* :mod:`~mlpublish.registry.session`: MLflow stores and credentials scoped to a step;
* :mod:`~mlpublish.registry.contract`: the aliases, tag keys and artifact paths (a data format);
* :mod:`~mlpublish.registry.provenance`: which code and environment produced a run;
* :mod:`~mlpublish.registry.datasets`: the MLflow dataset source of a warehouse table;
* :mod:`~mlpublish.registry.retraining`: retraining requests, written by monitor, read by schedulers.
* :mod:`~mlpublish.registry.live_metrics`: the live-metrics windows of monitoring.labels, written by monitor, read by
  promotion.mode: shadow.
"""

from mlpublish.registry.gateway import Registry, escape_filter_value

__all__ = ["Registry", "escape_filter_value"]
