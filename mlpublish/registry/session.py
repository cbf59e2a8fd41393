"""The process-wide MLflow state a step runs under: the stores its fluent calls use, and the server credentials.

MLflow keeps both outside any object we could hand around:

* the fluent API (``start_run``, ``log_model``, ``models:/`` URIs) reads the tracking and registry
  URIs from module globals, set by ``mlflow.set_tracking_uri``/``set_registry_uri`` (which also
  write ``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI`` into ``os.environ``);
* the REST client reads a server's credentials only from environment variables
  (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, ``MLFLOW_TRACKING_TOKEN``), at every request.

So a step's credentials must be in ``os.environ`` while it runs. :func:`mlflow_session` puts the
step's stores and credentials in place and, when the step ends, puts back exactly what was there
before (a value, another value, or nothing), so that a long-lived process (a Dagster code server,
an Airflow worker, a test session, a notebook) never carries one step's server or password into
the next. Nothing else in the core writes the process environment.

A session also keeps third-party noise out of the step's log (an Airflow task log, a Dagster step log):
MLflow's artifact download progress bars when stderr is no terminal (a log file shows them as thousands of
carriage-return lines, on stderr, which log readers mark as errors), and the deprecation warnings skops
provokes when it saves a model: to find the module of an object it reads the attribute from every loaded
module (``skops.io._utils.whichmodule``), and Airflow's modules answer each such read of a moved name with a
``DeprecatedImportWarning`` (about 1,160 of them, 580 KB, per task that saves or loads a model).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from mlpublish.redact import register_secret

TRACKING_URI_VAR = "MLFLOW_TRACKING_URI"
REGISTRY_URI_VAR = "MLFLOW_REGISTRY_URI"
USERNAME_VAR = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VAR = "MLFLOW_TRACKING_PASSWORD"
TOKEN_VAR = "MLFLOW_TRACKING_TOKEN"
PROGRESS_BAR_VAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

# The state is process-wide: two threads in sessions at once (sensors evaluated in a thread pool) would
# see each other's server and credentials, and restore each other's values. One session at a time;
# re-entrant, so a step may open a session inside its adapter's.
_one_session_at_a_time = threading.RLock()


def quiet_output() -> dict[str, str]:
    """The variables that keep a step's log readable, and the warning filter for skops (see the module's doc).

    The filter matches only warnings raised from skops's module lookup (FutureWarning and its subclasses, such as
    Airflow's ``DeprecatedImportWarning``, attributed to ``skops.io._utils``): the lookup reads attributes it
    does not use, so what they warn about never concerns the model. A variable the user set wins."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"skops\.io\._utils")
    stderr = sys.stderr
    if os.environ.get(PROGRESS_BAR_VAR) is None and not (stderr is not None and stderr.isatty()):
        return {PROGRESS_BAR_VAR: "false"}
    return {}


@dataclass(frozen=True)
class MlflowCredentials:
    """A tracking server's credentials (an Airflow connection's login, a Dagster resource's token)."""

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:  # held, so never shown (mlpublish.redact)
        register_secret(self.password)
        register_secret(self.token)

    def variables(self) -> dict[str, str]:
        """The environment variables MLflow reads them from; only those given (the others stay as they are)."""
        out: dict[str, str] = {}
        if self.username:
            out[USERNAME_VAR] = self.username
            out[PASSWORD_VAR] = self.password or ""
        if self.token:
            out[TOKEN_VAR] = self.token
        return out


@contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``values`` (None: unset) inside the block; exactly as before after it."""
    before = {name: os.environ.get(name) for name in values}
    try:
        _put(values)
        yield
    finally:
        _put(before)


def _put(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def point_mlflow_at(tracking_uri: str, registry_uri: str) -> None:
    """Point MLflow's fluent API at these stores, leaving ``os.environ`` as the user set it.

    MLflow's globals win over its variables, and ``mlpublish.config`` reads the variables as the
    user's own defaults: one spec's explicit URI must not become the next spec's default.
    """
    import mlflow

    with scoped_environ(
        {TRACKING_URI_VAR: os.environ.get(TRACKING_URI_VAR), REGISTRY_URI_VAR: os.environ.get(REGISTRY_URI_VAR)}
    ):
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(registry_uri)


@contextmanager
def mlflow_session(
    tracking_uri: str, registry_uri: str, credentials: MlflowCredentials | None = None
) -> Iterator[None]:
    """Run a step against these stores, with these credentials (None: the process's own, untouched).

    Restores MLflow's URIs and every variable it set, even when the step fails.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # MLflow has no public getter for the globals as set (get_tracking_uri resolves defaults), and
    # putting back a resolved default would pin it for the rest of the process
    with _one_session_at_a_time:
        tracking_before = getattr(tracking_utils, "_tracking_uri", None)
        registry_before = getattr(registry_utils, "_registry_uri", None)
        variables: dict[str, str | None] = {**(credentials or MlflowCredentials()).variables(), **quiet_output()}
        saved = {name: os.environ.get(name) for name in (TRACKING_URI_VAR, REGISTRY_URI_VAR, *variables)}
        try:
            point_mlflow_at(tracking_uri, registry_uri)
            _put(variables)
            yield
        finally:
            import mlflow

            mlflow.set_tracking_uri(tracking_before)  # None unsets MLFLOW_TRACKING_URI: put back below
            mlflow.set_registry_uri(registry_before)
            _put(saved)
