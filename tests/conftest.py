"""Shared fixtures: a demo warehouse, an MLflow store and a catalog per test, all real."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHURN_SPEC = ROOT / "specs" / "churn.yaml"
TEST_CUSTOMERS = 1500

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

# Grep the whole run's outputs for the canary secrets of tests/support/canary_secrets.py (issue 7): a leak fails the run.
from tests.support.secret_scan import pytest_runtest_logreport, pytest_sessionfinish, pytest_terminal_summary  # noqa: E402,F401

# No silent skips (issue 34): a skip names what is missing, CI fails on any skip, opt-in suites are deselected.
pytest_plugins = ["tests.support.skips", "tests.support.tally"]


def _put_back_mlflow_uris(saved: dict[str, str | None]) -> None:
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:  # MLflow's own globals win over the variables: forget them too
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True, scope="module")
def _restore_mlflow_uris_after_the_module():
    """The same for a module's own fixtures: a module-scoped fixture that publishes in process sets the URIs
    before the per-test snapshot below is taken, which then keeps them; without this the module's store would
    be every later test's in this process (a client given only a tracking URI registered into it)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    _put_back_mlflow_uris(saved)


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """Put MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI back as they were after every test.

    An in-process chain calls mlflow.set_tracking_uri / set_registry_uri, which keep the URI in MLflow's
    module globals (consulted before the variables) and write these variables into os.environ; monkeypatch.delenv of an unset variable records nothing, so without this a later
    test would send its MLflow calls to an earlier test's store or server."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {k: os.environ.get(k) for k in names}
    yield
    _put_back_mlflow_uris(saved)


@pytest.fixture(autouse=True)
def _forget_queued_outboxes():
    """Forget the OpenMetadata outboxes a test queued events in without draining them (a process-wide list that
    ``drain_queued`` empties at the end of a CLI command): a later test in the same process (a pytest-xdist
    worker runs many) would otherwise drain an earlier test's store, dropped since."""
    yield
    module = sys.modules.get("mlpublish.catalog.openmetadata")
    if module is not None:
        module._QUEUED.clear()


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def churn_dict(**overrides: Any) -> dict[str, Any]:
    """The demo spec as a dict, made cheap to fit (fewer trees, one candidate) unless overridden."""
    base = yaml.safe_load(CHURN_SPEC.read_text())
    base["mlHyperParameters"] = [
        {"name": "n_estimators", "value": 30},
        {"name": "min_samples_leaf", "value": 5},
        {"name": "random_state", "value": 0},
        {"name": "n_jobs", "value": 1},
    ]
    base["training"]["candidates"] = {"max_depth": [6]}
    # the demo's per-plan gate has tests of its own (tests/integration/test_slices_fairness.py): the
    # other tests keep the gates they were written against
    base["validation"].pop("slices", None)
    base["validation"]["gates"] = [g for g in base["validation"]["gates"] if "perSlice" not in g]
    return deep_merge(base, overrides)


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlpublish.demo.data import build_demo_warehouse

    path = tmp_path_factory.mktemp("templates") / "warehouse.db"
    build_demo_warehouse(f"sqlite:///{path}", customers=TEST_CUSTOMERS, seed=7)
    return path


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow SQLite store: copying it skips the migrations in every test."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("templates") / "mlflow.db"
    # the Default experiment's artifact root is ./mlruns made absolute when the store is created: created from
    # the template's own folder, a test logging to it writes there, never into the checkout it runs from
    before = Path.cwd()
    os.chdir(path.parent)
    try:
        MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    finally:
        os.chdir(before)
    return path


class Workspace:
    def __init__(self, root: Path):
        self.root = root
        self.warehouse = root / "warehouse.db"
        self.warehouse_url = f"sqlite:///{self.warehouse}"
        self.tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        self.catalog_path = root / "catalog.db"

    def spec(self, filename: str = "spec.yaml", replace: dict[str, Any] | None = None, **overrides: Any) -> Path:
        """The demo spec with ``overrides`` deep-merged and ``replace`` sections swapped in whole."""
        return write_spec(self.root / filename, {**churn_dict(**overrides), **(replace or {})})

    def enter(self, monkeypatch: pytest.MonkeyPatch) -> Workspace:
        """Work here: the working directory and the environment point at this workspace's files."""
        monkeypatch.chdir(self.root)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", self.tracking_uri)
        monkeypatch.setenv("MLPUBLISH_CATALOG", str(self.catalog_path))
        monkeypatch.setenv("WAREHOUSE_URL", self.warehouse_url)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        monkeypatch.delenv("MLPUBLISH_ARTIFACT_ROOT", raising=False)
        return self

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLPUBLISH_CATALOG": str(self.catalog_path),
            "WAREHOUSE_URL": self.warehouse_url,
        }

    def catalog(self) -> Any:
        from mlpublish.catalog.local import LocalCatalog

        return LocalCatalog(self.catalog_path)

    def registry(self) -> Any:
        from mlpublish.registry import Registry

        return Registry(os.environ["MLFLOW_TRACKING_URI"])


@pytest.fixture
def workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_template: Path, mlflow_template: Path
) -> Workspace:
    ws = Workspace(tmp_path)
    shutil.copy(warehouse_template, ws.warehouse)
    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    return ws.enter(monkeypatch)
