"""Dagster adapter of mlpublish (installed as ``mlpublish_dagster``).

The Definitions live in :mod:`mlpublish_dagster.definitions` so that importing
a resource or a helper never loads the specs: ``dagster dev -m
mlpublish_dagster.definitions`` (or plain ``dagster dev`` in the project root,
through ``[tool.dagster]`` in pyproject.toml).
"""
