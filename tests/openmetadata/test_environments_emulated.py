"""Environments against the strict OpenMetadata emulator: the new custom properties are declared and accepted,
and a copy across environments lands under the target's names."""

from __future__ import annotations

import shutil

from mlpublish.cli import EXIT_OK, main
from mlpublish.config import DEFAULT_PIPELINE_SERVICE
from tests.openmetadata.scenarios import Reader

SHA = "89abcdef0123456789abcdef0123456789abcdef"
NAME = "customer_churn_predictor"


def test_environment_code_version_and_a_copy_reach_openmetadata(workspace, om_settings, monkeypatch):
    root = workspace.root
    shutil.copy(root / "mlflow.db", root / "shared.db")
    (root / "environments.yaml").write_text(f"""\
environments:
  staging:
    modelNamePrefix: stg_
    serviceName: mlp_env_models_staging
    mlflow: {{trackingUri: "sqlite:///{root / "shared.db"}"}}
    warehouse: {{service: mlp_env_wh}}
    catalog: {{url: {root / "staging-outbox.db"}, pipelineService: mlp_env_pipelines_staging}}
  prod:
    modelNamePrefix: prd_
    serviceName: mlp_env_models_prod
    mlflow: {{trackingUri: "sqlite:///{root / "shared.db"}"}}
    catalog: {{url: {root / "prod-outbox.db"}}}
""")
    monkeypatch.setenv("MLPUBLISH_GIT_SHA", SHA)
    monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", om_settings.jwt_token)
    monkeypatch.setenv("MLPUBLISH_CATALOG_STRICT", "true")
    assert (
        main(
            [
                "-q",
                "run",
                str(workspace.spec()),
                "--env",
                "staging",
                "--pipeline-name",
                "stg_publish",
                "--pipeline-run-id",
                "r1",
            ]
        )
        == EXIT_OK
    )
    reader = Reader(om_settings)
    extension = reader.model(f"mlp_env_models_staging.stg_{NAME}")["extension"]
    assert extension["environment"] == "staging" and extension["codeVersion"] == SHA
    # lineage names the pipeline in the environment's pipeline service
    assert reader.pipeline_service("mlp_env_pipelines_staging") is not None
    assert reader.pipeline_service(DEFAULT_PIPELINE_SERVICE) is None

    # copy into prod through the CLI, the OpenMetadata sink configured from the environment
    assert main(["-q", "promote", NAME, "--from", "staging", "--to", "prod", "--as", "champion"]) == EXIT_OK
    prod = reader.model(f"mlp_env_models_prod.prd_{NAME}")
    assert prod["extension"]["copiedFrom"] == f"staging:stg_{NAME}/1"
    assert prod["extension"]["environment"] == "prod" and prod["extension"]["championVersion"] == "1"
    assert prod["service"]["name"] == "mlp_env_models_prod"
    sources = {s["dataSource"]["fullyQualifiedName"] for f in prod["mlFeatures"] for s in f["featureSources"]}
    assert sources and all(s.startswith("mlp_env_wh.") for s in sources)
