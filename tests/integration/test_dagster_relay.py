"""Across the two environments (docs/install.md): Dagster materializes the publish chain in .venv-dagster, which has
no OpenMetadata SDK, with OpenMetadata configured, so its steps only queue their catalog events; this environment
(.venv, the SDK) delivers the queue to the OpenMetadata emulator. The emulator ends as a CLI run's on the same data.

(The delivery is `mlpublish catalog relay --once`: the pass the relay service makes.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.dagster_support import (
    VOLATILE_EXTENSION,
    cli_copy,
    dagster_bin,
    materialize_argv,
    registry_state,
    spec_folder,
)
from tests.support.openmetadata_server import serve_emulator

pytestmark = pytest.mark.integration
KEY = "customer_churn_predictor"
BIN = Path(sys.executable).parent


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The emulator's snapshot without what differs between two runs by construction: MLflow run ids and clocks
    (as tests/support/dagster_support.catalog_state), the model card's body (it names its run), the artifact
    location, and the Dagster job that lineage names (the pipeline and its service; the CLI's edges name none)."""

    def keep(name: str) -> bool:
        return name.split(":", 1)[0] not in ("pipeline", "pipelineService")

    def entity(body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        body.pop("id", None)
        body.pop("version", None)  # compared in "versions"
        if "extension" in body:
            body["extension"] = {k: v for k, v in body["extension"].items() if k not in VOLATILE_EXTENSION}
        if "description" in body:
            body["description"] = (body["description"] or "").split("\n", 1)[0]
        if body.get("mlStore"):
            body["mlStore"] = {k: v for k, v in body["mlStore"].items() if k != "storage"}
        return body

    def edge(details: dict[str, Any]) -> dict[str, Any]:
        details = {k: v for k, v in details.items() if k != "pipeline"}
        if "description" in details:  # the job and its run id follow the text (payloads.lineage_details)
            details["description"] = re.sub(r" \(pipeline \S* run \S*\)$", "", details["description"])
        return details

    return {
        "entities": {k: entity(v) for k, v in snapshot["entities"].items() if keep(k)},
        "versions": {k: v for k, v in snapshot["versions"].items() if keep(k)},
        "edges": sorted((a, b, json.dumps(edge(d), sort_keys=True)) for a, b, d in snapshot["edges"]),
        "customProperties": snapshot["customProperties"],
    }


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{cmd[:3]} exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return out


def test_dagster_without_the_sdk_then_delivery_from_this_environment_equals_a_cli_run(
    workspace, tmp_path, mlflow_template
):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENMETADATA_", "MLPUBLISH_CATALOG_STRICT"))}
    folder = spec_folder(workspace.root / "specs")
    cli_spec = cli_copy(
        tmp_path / "cli", workspace.warehouse, mlflow_template, yaml.safe_load((folder / "churn.yaml").read_text())
    )
    home = workspace.root / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    with serve_emulator() as dagster_om, serve_emulator() as cli_om:
        om = {"OPENMETADATA_HOST_PORT": dagster_om.host_port, "OPENMETADATA_JWT_TOKEN": dagster_om.token}
        dagster_env = {
            **base,
            **workspace.env(),
            **om,
            "MLPUBLISH_SPECS_DIR": str(folder),
            "MLPUBLISH_DEPLOYMENT": "local",
            "DAGSTER_HOME": str(home),
        }
        run(
            materialize_argv(dagster_bin("dagster")),
            dagster_env,
            workspace.root,
        )
        # the steps queued and delivered nothing: no SDK there, and no network wait
        assert dagster_om.emulator.requests == []
        run([str(BIN / "mlpublish"), "catalog", "relay", "--once"], {**base, **workspace.env(), **om}, workspace.root)

        cli_env = {**base, "OPENMETADATA_HOST_PORT": cli_om.host_port, "OPENMETADATA_JWT_TOKEN": cli_om.token}
        run([str(BIN / "mlpublish"), "run", str(cli_spec)], cli_env, tmp_path / "cli")

        assert registry_state(workspace.tracking_uri, KEY) == registry_state(
            f"sqlite:///{tmp_path / 'cli' / 'mlflow.db'}", KEY
        )
        ours, theirs = dagster_om.emulator.snapshot(), cli_om.emulator.snapshot()
        assert f"mlmodel:mlflow-local.{KEY}" in ours["entities"]
        ours_c, theirs_c = comparable(ours), comparable(theirs)
        for part in ours_c:
            assert ours_c[part] == theirs_c[part], part
        # lineage names the Dagster job, the CLI's none
        assert any(d.get("pipeline") for _, _, d in ours["edges"])
        assert not any(d.get("pipeline") for _, _, d in theirs["edges"])
        assert dagster_om.emulator.unknown_routes == [] and cli_om.emulator.unknown_routes == []
