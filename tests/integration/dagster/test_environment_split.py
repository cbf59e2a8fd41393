"""The Dagster environment (.venv-dagster: dev + dagster, docs/install.md) holds no OpenMetadata SDK, so Dagster's
asset-selection grammar gets the ANTLR runtime it was generated for: string selections work (with the SDK's ANTLR
4.9.2 they crashed with `ord() expected string of length 1`; `dg launch --assets` of a selection is
test_dg_project.py), and the code location loads with OpenMetadata configured."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import Definitions, define_asset_job

from tests.support.dagster_support import spec_folder
from tests.support.mlflow_server import free_port

KEY = "customer_churn_predictor"
FQN = f"mlflow-local.{KEY}"
CHAIN = {"trained_model", "model_evaluation", "validated_model", "registered_model_version", "champion_model"}
# the champion and what it is made from: the publish chain, as a user would type it
SELECT = f'+key:"{KEY}/champion_model"'
BIN = Path(sys.executable).parent


def test_the_openmetadata_sdk_is_absent_and_antlr_is_the_one_dagster_needs():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("metadata")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("openmetadata-ingestion")
    major, minor = (int(p) for p in importlib.metadata.version("antlr4-python3-runtime").split(".")[:2])
    assert (major, minor) >= (4, 13)


def test_string_selections_in_definitions_load(tmp_path):
    from mlpublish_dagster.definitions import build_definitions

    built = build_definitions(spec_folder(tmp_path), "local")
    by_group = define_asset_job("by_group", selection=f"group:{KEY}")
    upstream = define_asset_job("upstream", selection=SELECT)
    defs = Definitions(assets=list(built.assets or []), jobs=[by_group, upstream], resources=built.resources)
    group_keys = {k.path[-1] for k in defs.resolve_job_def("by_group").asset_layer.executable_asset_keys}
    chain_keys = {k.path[-1] for k in defs.resolve_job_def("upstream").asset_layer.executable_asset_keys}
    assert CHAIN < group_keys  # the group also holds scoring and monitoring
    assert chain_keys == CHAIN


def test_with_openmetadata_configured_the_code_location_loads_without_the_sdk(tmp_path):
    """What the code server, webserver and daemon import. That a run's steps then only queue their events, and
    this environment's outbox is delivered from .venv, is tests/integration/test_dagster_relay.py."""
    env = {
        **os.environ,
        "OPENMETADATA_HOST_PORT": f"http://127.0.0.1:{free_port()}/api",
        "OPENMETADATA_JWT_TOKEN": "unused-token",
        "MLPUBLISH_CATALOG": str(tmp_path / "catalog.db"),
        "MLPUBLISH_SPECS_DIR": str(spec_folder(tmp_path)),
    }
    for deployment in ("local", "prod"):
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from mlpublish_dagster.definitions import defs; defs().resolve_asset_graph(); "
                "print(sorted(m for m in sys.modules if m == 'metadata' or m.startswith('metadata.')))",
            ],
            env={**env, "MLPUBLISH_DEPLOYMENT": deployment},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert probe.returncode == 0 and probe.stdout.strip() == "[]", (deployment, probe.stderr[-3000:])
