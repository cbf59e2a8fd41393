"""The dg project template (docs/examples/dagster-project) as a Dagster user drives it: `dg list components` shows
mlpublish's component, `dg check defs` loads it, `dg launch --assets` of the champion and what it is made from
(Dagster's selection grammar, which needs its own ANTLR runtime: test_environment_split.py) publishes the champion
on the local catalog."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import churn_dict, write_spec
from tests.support.dagster_support import registry_state

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "docs" / "examples" / "dagster-project"
DG = str(Path(sys.executable).parent / "dg")
KEY = "customer_churn_predictor"
FQN = f"mlflow-local.{KEY}"
SELECT = f'+key:"{KEY}/champion_model"'
IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'


def dg(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DG, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_a_component_built_project_lists_checks_and_launches_the_chain(workspace, monkeypatch):
    for var in ("OPENMETADATA_HOST_PORT", "OPENMETADATA_JWT_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    project = workspace.root / "project"
    shutil.copytree(TEMPLATE, project)
    write_spec(project / "churn_project" / "defs" / "churn" / "churn.yaml", churn_dict())  # the demo spec, cheap
    home = workspace.root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    env = {**workspace.env(), "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}

    listed = dg(project, env, "list", "components")
    assert listed.returncode == 0 and "mlpublish_dagster.component.MlpublishComponent" in listed.stdout, listed.stderr
    checked = dg(project, env, "check", "defs")
    assert checked.returncode == 0 and "All definitions loaded successfully" in checked.stdout, checked.stderr[-3000:]
    # the chain as a user selects it, its steps in the run's own process (as the publish job's own config does)
    launched = dg(project, env, "launch", "--assets", SELECT, "--config-json", IN_PROCESS)
    assert launched.returncode == 0, launched.stderr[-4000:]
    assert "ord() expected" not in launched.stderr

    assert registry_state(workspace.tracking_uri, KEY)["aliases"] == {"champion": "1"}
    entity = workspace.catalog().get(FQN)
    assert entity and any(t["tagFQN"] == "ModelValidation.PASSED" for t in entity.get("tags", []))


def test_the_templates_spec_is_the_demo_spec():
    """The template ships a copy of specs/churn.yaml (a project outside this repository cannot point at it)."""
    copy = TEMPLATE / "churn_project" / "defs" / "churn" / "churn.yaml"
    assert copy.read_text() == (ROOT / "specs" / "churn.yaml").read_text()
