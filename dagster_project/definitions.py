"""The code location of a source checkout or a deployment: ``dg dev`` / ``dg check defs`` in the project root
(``[tool.dg]`` in pyproject.toml), or ``dagster dev -m mlpublish_dagster.definitions``.

Importing this module builds nothing: ``defs`` is a ``@definitions`` function that Dagster calls when it loads the
code location. It serves the specs of ``MLPUBLISH_SPECS_DIR`` (default: the project's ``specs/``) with the resource
set of ``MLPUBLISH_DEPLOYMENT`` (``local`` or ``prod``); schedules and sensors start stopped in ``local`` and
running in ``prod``. To add mlpublish to another Dagster project, call the factory (factory.py) or use the
component (component.py) instead.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mlpublish_dagster.factory import build_mlpublish_definitions


def build_definitions(folder: Path | None = None, deployment_name: str | None = None) -> dg.Definitions:
    """The definitions this code location serves (``folder``: the specs; ``deployment_name``: the resource set)."""
    return build_mlpublish_definitions(folder, deployment=deployment_name)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
