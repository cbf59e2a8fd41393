"""The Spark engine of ``score`` and ``monitor`` (``scoring.engine: spark``; docs/spark.md).

pyspark is imported lazily, only inside this package: the local engine and the
orchestrator adapters never pay for it, and a missing extra is reported by
:func:`mlpublish.spark_engine.session.spark_session` with what to install.
"""

from mlpublish.spark_engine.session import SparkEngineError, spark_session

__all__ = ["SparkEngineError", "spark_session"]
