"""Issue 32 on a real Dagster (code server, webserver, daemon): a folder holding good specs and a bad one loads as
a code location (never an errored one); the webserver's GraphQL serves the good specs' assets and, for the bad
file, the asset ``invalid_spec/<stem>`` whose description names the file and the field."""

from __future__ import annotations

import os

import pytest

from tests.conftest import churn_dict, write_spec
from tests.support.dagster_deployment import LOCATION, REPOSITORY, dagster_deployment

pytestmark = pytest.mark.integration

LOCATION_STATE = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS = """query($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) {
  __typename ... on Repository { assetNodes { assetKey { path } description groupName } } } }"""


def test_a_bad_spec_is_an_asset_of_a_loaded_location_beside_the_good_specs(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    write_spec(specs / "churn.yaml", churn_dict(schedule=None))
    write_spec(specs / "other.yaml", churn_dict(name="other_model", schedule=None))
    write_spec(specs / "broken.yaml", churn_dict(name="broken", training={"split": {"testSize": 1.5}}))
    env = {
        **os.environ,
        "MLPUBLISH_SPECS_DIR": str(specs),
        "MLPUBLISH_DEPLOYMENT": "local",
        "MLPUBLISH_CATALOG": str(tmp_path / "catalog.db"),
        "WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}",
    }
    with dagster_deployment(tmp_path, env) as dep:  # waits until the location is loaded (fails if it errored)
        (entry,) = dep.graphql(LOCATION_STATE)["workspaceOrError"]["locationEntries"]
        assert (entry["name"], entry["locationOrLoadError"]["__typename"]) == (LOCATION, "RepositoryLocation")
        repo = dep.graphql(ASSETS, selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY})
        nodes = {"/".join(n["assetKey"]["path"]): n for n in repo["repositoryOrError"]["assetNodes"]}
        for model in ("customer_churn_predictor", "other_model"):
            assert f"{model}/champion_model" in nodes and f"{model}/trained_model" in nodes
        assert not any(key.startswith("broken/") for key in nodes)
        bad = nodes["invalid_spec/broken"]
        assert bad["groupName"] == "invalid_specs"
        assert str(specs / "broken.yaml") in bad["description"] and "training.split.testSize" in bad["description"]
        code_server_log = (dep.logs / "code-server.log").read_text(errors="replace")
        assert "broken.yaml is invalid" in code_server_log  # the warning in the location's log
