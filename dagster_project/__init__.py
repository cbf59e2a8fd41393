"""Dagster adapter of mlpublish (installed as ``mlpublish_dagster``).

Importing it, or any of its modules, reads no spec and builds nothing: the Definitions are built by the factory
(:func:`mlpublish_dagster.factory.build_mlpublish_definitions`), which the code location
:mod:`mlpublish_dagster.definitions` (``dg dev`` in the project root, or ``dagster dev -m
mlpublish_dagster.definitions``) and the ``dg`` component (:mod:`mlpublish_dagster.component`) call.
"""
