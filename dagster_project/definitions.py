"""The code location of a source checkout or a deployment: ``dg dev`` / ``dg check defs`` in the project root
(``[tool.dg]`` in pyproject.toml), or ``dagster dev -m mlpublish_dagster.definitions``.

Importing this module builds nothing: ``defs`` is a ``@definitions`` function that Dagster calls when it loads the
code location. It serves the specs of ``MLPUBLISH_SPECS_DIR`` (default: the project's ``specs/``) with the resource
set of ``MLPUBLISH_DEPLOYMENT`` (``local`` or ``prod``); schedules and sensors start stopped in ``local`` and
running in ``prod``. To add mlpublish to another Dagster project, call the factory (factory.py) or use the
component (component.py) instead.

Dagster calls ``defs`` twice per load of the code location (once to find it, once to build the repository): the
second call gets the first call's definitions when nothing they were built from changed (the environment, the
files of the specs folder, the environments file), so a fleet of specs is read and built once per load.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from mlpublish.spec.environments import FILE_VAR as ENVIRONMENTS_VAR
from mlpublish_dagster.factory import build_mlpublish_definitions
from mlpublish_dagster.specs import specs_dir

_last: tuple[tuple, dg.Definitions] | None = None


def build_definitions(folder: Path | None = None, deployment_name: str | None = None) -> dg.Definitions:
    """The definitions this code location serves (``folder``: the specs; ``deployment_name``: the resource set)."""
    return build_mlpublish_definitions(folder, deployment=deployment_name)


def _stat(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def files_read() -> tuple:
    """The files ``build_definitions()`` reads: each file of the specs folder (name, inode, size, modification
    time), and the environments file."""
    folder = specs_dir()
    try:
        files = tuple(sorted((p.name, _stat(p)) for p in folder.iterdir()))
    except OSError:
        files = ()
    environments = os.environ.get(ENVIRONMENTS_VAR, "").strip()
    return (str(folder), _stat(folder), files, _stat(Path(environments).expanduser()) if environments else None)


@dg.definitions
def defs() -> dg.Definitions:
    global _last
    files = files_read()
    if _last is not None and _last[0] == (files, tuple(sorted(os.environ.items()))):
        return _last[1]
    built = build_definitions()
    # the environment as the build leaves it (importing an estimator's library may set variables of its own);
    # the files as they were before it (a file changed during the build is read again by the next call)
    _last = ((files, tuple(sorted(os.environ.items()))), built)
    return built
