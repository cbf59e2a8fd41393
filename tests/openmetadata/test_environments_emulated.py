"""Environments against the strict OpenMetadata emulator: the new custom properties are declared and accepted,
and a copy across environments lands under the target's names."""

from __future__ import annotations

import shutil

from mlpublish.cli import EXIT_OK, main

from .scenarios import Reader, publish

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
    mlflow: {{trackingUri: "sqlite:///{root / 'shared.db'}"}}
    warehouse: {{service: mlp_env_wh}}
    catalog: {{url: {root / 'staging-outbox.db'}, pipelineService: mlp_env_pipelines_staging}}
  prod:
    modelNamePrefix: prd_
    serviceName: mlp_env_models_prod
    mlflow: {{trackingUri: "sqlite:///{root / 'shared.db'}"}}
    catalog: {{url: {root / 'prod-outbox.db'}}}
""")
    monkeypatch.setenv("MLPUBLISH_GIT_SHA", SHA)
    monkeypatch.setenv("MLPUBLISH_ENV", "staging")
    spec, result = publish(workspace.spec(), om_settings)
    assert result.promotion.promoted and spec.fqn == f"mlp_env_models_staging.stg_{NAME}"
    reader = Reader(om_settings)
    extension = reader.model(spec.fqn)["extension"]
    assert extension["environment"] == "staging" and extension["codeVersion"] == SHA

    # copy into prod through the CLI, the OpenMetadata sink configured from the environment
    monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", om_settings.jwt_token)
    monkeypatch.setenv("MLPUBLISH_CATALOG_STRICT", "true")
    assert main(["-q", "promote", NAME, "--from", "staging", "--to", "prod", "--as", "champion"]) == EXIT_OK
    prod = reader.model(f"mlp_env_models_prod.prd_{NAME}")
    assert prod["extension"]["copiedFrom"] == f"staging:stg_{NAME}/1"
    assert prod["extension"]["environment"] == "prod" and prod["extension"]["championVersion"] == "1"
    assert prod["service"]["name"] == "mlp_env_models_prod"
    sources = {s["dataSource"]["fullyQualifiedName"] for f in prod["mlFeatures"] for s in f["featureSources"]}
    assert sources and all(s.startswith("mlp_env_wh.") for s in sources)
