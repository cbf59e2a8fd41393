"""Environments on real stores: isolation, copies across environments, read-only prod on PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlpublish.catalog.local import LocalCatalog
from mlpublish.cli import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, main
from tests.support.canary_secrets import DATABASE_PASSWORD
from tests.support.mlflow_server import PG_ADMIN_URL, _admin, postgres_database

NAME = "customer_churn_predictor"
SHA = "0123456789abcdef0123456789abcdef01234567"


def cli(*args: str) -> int:
    return main(["-q", *args])


@pytest.fixture
def envs(workspace, monkeypatch):
    """The workspace plus an environments file; prod's MLflow URI comes from PROD_MLFLOW_URI."""
    monkeypatch.setenv("MLPUBLISH_GIT_SHA", SHA)
    monkeypatch.delenv("MLPUBLISH_ENV", raising=False)
    monkeypatch.delenv("MLPUBLISH_ENVIRONMENTS", raising=False)
    root = workspace.root
    for store in (
        "dev-mlflow.db",
        "shared-mlflow.db",
        "prod-mlflow.db",
    ):  # migrated copies of the empty store (migrations take seconds)
        shutil.copy(root / "mlflow.db", root / store)
    shared = f"sqlite:///{root / 'shared-mlflow.db'}"
    (root / "environments.yaml").write_text(f"""\
environments:
  dev:
    modelNamePrefix: dev_
    serviceName: mlflow-dev
    mlflow: {{trackingUri: "sqlite:///{root / "dev-mlflow.db"}"}}
    warehouse: {{service: warehouse_dev}}
    catalog: {{url: {root / "dev-catalog.db"}}}
  staging:
    modelNamePrefix: stg_
    serviceName: mlflow-staging
    mlflow: {{trackingUri: "{shared}"}}
    warehouse: {{service: warehouse_staging}}
    catalog: {{url: {root / "staging-catalog.db"}}}
  preprod:
    modelNamePrefix: pre_
    serviceName: mlflow-preprod
    mlflow: {{trackingUri: "{shared}"}}
    warehouse: {{service: warehouse_preprod}}
    catalog: {{url: {root / "preprod-catalog.db"}}}
  prod:
    serviceName: mlflow-prod
    mlflow: {{trackingUri: "${{PROD_MLFLOW_URI:-sqlite:///{root / "prod-mlflow.db"}}}"}}
    warehouse: {{service: warehouse_prod}}
    catalog: {{url: {root / "prod-catalog.db"}}}
  prod-policy:
    mlflow: {{trackingUri: "sqlite:///{root / "policy-mlflow.db"}"}}
    readOnly: true
""")
    workspace.shared = shared
    return workspace


def _upstream(catalog: LocalCatalog, fqn: str) -> set[str]:
    return {e["fromEntity"]["fqn"] for e in catalog.lineage(fqn)["upstreamEdges"]}


def _staging_names(entity: dict, lineage: dict) -> list[str]:
    """Fields of the target's entity or lineage naming staging's things (copiedFrom names the source on
    purpose; so does the description, the model card as validated in staging, under its copy note)."""
    dump = json.dumps([{k: v for k, v in entity.items() if k not in ("description", "changeDescription")}, lineage])
    found = re.finditer(r'"(\w+)": "([^"]*(?:stg_|_staging|-staging)[^"]*)"', dump)
    return [m.group(0) for m in found if m.group(1) != "copiedFrom"]


def _models(uri: str) -> list[str]:
    return sorted(m.name for m in MlflowClient(uri, uri).search_registered_models())


def test_a_dev_run_touches_only_dev_stores(envs, capsys):
    root = envs.root
    spec = envs.spec()
    assert cli("run", str(spec), "--env", "dev") == EXIT_OK

    dev = f"sqlite:///{root / 'dev-mlflow.db'}"
    client = MlflowClient(dev, dev)
    mv = client.get_model_version_by_alias(f"dev_{NAME}", "champion")
    tags = client.get_run(mv.run_id).data.tags
    assert tags["mlpublish.environment"] == "dev" and tags["mlflow.source.git.commit"] == SHA
    assert tags["mlpublish.git_dirty"] == "false"
    # nothing anywhere else: not prod's registry or catalog, not the default store, not another namespace
    for other in ("prod-catalog.db", "staging-catalog.db", "catalog.db"):
        assert not (root / other).exists(), other
    prod = f"sqlite:///{root / 'prod-mlflow.db'}"
    assert _models(envs.tracking_uri) == [] and _models(envs.shared) == [] and _models(prod) == []
    assert MlflowClient(prod).search_runs([e.experiment_id for e in MlflowClient(prod).search_experiments()]) == []
    entity = LocalCatalog(root / "dev-catalog.db").find_model(f"dev_{NAME}")
    assert entity["fullyQualifiedName"] == f"mlflow-dev.dev_{NAME}"
    assert entity["extension"]["environment"] == "dev" and entity["extension"]["codeVersion"] == SHA
    tables = _upstream(LocalCatalog(root / "dev-catalog.db"), entity["fullyQualifiedName"])
    assert tables and all(t.startswith("warehouse_dev.") for t in tables), tables

    # status by the spec's own name, in the environment's namespace
    capsys.readouterr()
    assert cli("status", NAME, "--env", "dev") == EXIT_OK
    assert f"dev_{NAME}: champion v1" in capsys.readouterr().out
    assert cli("status", NAME, "--env", "prod") == EXIT_ERROR  # prod has no such model: read, never created
    assert "not found" in capsys.readouterr().err


def test_a_read_only_environment_refuses_writes_before_anything_is_written(envs, capsys):
    spec = envs.spec()
    assert cli("run", str(spec), "--env", "prod-policy") == EXIT_ERROR
    assert "readOnly" in capsys.readouterr().err
    assert cli("promote", NAME, "--version", "1", "--env", "prod-policy") == EXIT_ERROR
    assert cli("promote", NAME, "--from", "dev", "--to", "prod-policy") == EXIT_ERROR
    assert "refusing to copy" in capsys.readouterr().err
    assert not (envs.root / "policy-mlflow.db").exists()


def test_copy_in_a_shared_registry_keeps_lineage_and_is_idempotent(envs, capsys):
    root = envs.root
    spec = envs.spec()
    assert cli("run", str(spec), "--env", "staging") == EXIT_OK
    client = MlflowClient(envs.shared, envs.shared)
    source = client.get_model_version_by_alias(f"stg_{NAME}", "champion")

    assert cli("promote", NAME, "--from", "staging", "--to", "preprod") == EXIT_OK
    assert cli("promote", NAME, "--from", "staging", "--to", "preprod") == EXIT_OK  # again: the same version
    out = capsys.readouterr().out
    assert "copied, MLflow copy_model_version" in out and "already copied" in out
    versions = client.search_model_versions(f"name = 'pre_{NAME}'")
    assert len(versions) == 1
    copy = client.get_model_version(f"pre_{NAME}", "1")
    assert copy.source == f"models:/stg_{NAME}/{source.version}" and copy.run_id == source.run_id
    assert copy.tags["model_validation_status"] == "PASSED"
    assert copy.tags["mlpublish.copied_from"] == f"staging:stg_{NAME}/{source.version}"
    assert copy.tags["mlpublish.run_id"] == source.run_id and "mlpublish.champion_since" not in copy.tags
    assert {k: str(v) for k, v in client.get_registered_model(f"pre_{NAME}").aliases.items()} == {"challenger": "1"}

    # the copy run in preprod carries the source run's artifacts and code version
    copy_run = client.get_run(copy.tags["mlpublish.catalog_run"])
    assert copy_run.data.tags["mlflow.source.git.commit"] == SHA
    assert copy_run.data.tags["mlpublish.environment"] == "preprod"
    assert copy_run.data.tags["mlpublish.copied_from.run_id"] == source.run_id
    assert copy_run.data.metrics["test_roc_auc"] == client.get_run(source.run_id).data.metrics["test_roc_auc"]
    source_files = {a.path for a in client.list_artifacts(source.run_id)}
    assert source_files and source_files == {a.path for a in client.list_artifacts(copy_run.info.run_id)}

    # preprod's catalog: preprod's names, lineage from preprod's warehouse service
    catalog = LocalCatalog(root / "preprod-catalog.db")
    entity = catalog.find_model(f"pre_{NAME}")
    assert entity["fullyQualifiedName"] == f"mlflow-preprod.pre_{NAME}" and entity["service"] == "mlflow-preprod"
    assert entity["extension"]["copiedFrom"] == f"staging:stg_{NAME}/{source.version}"
    assert entity["extension"]["environment"] == "preprod" and entity["extension"]["codeVersion"] == SHA
    lineage = catalog.lineage(entity["fullyQualifiedName"])
    tables = _upstream(catalog, entity["fullyQualifiedName"])
    assert tables and all(t.startswith("warehouse_preprod.") for t in tables), tables
    assert _staging_names(entity, lineage) == []

    # approving it in preprod publishes preprod's names again (the copy run's events, not staging's)
    assert cli("promote", NAME, "--version", "1", "--env", "preprod") == EXIT_OK
    entity = catalog.find_model(f"pre_{NAME}")
    assert entity["extension"]["championVersion"] == "1"
    assert entity["extension"]["championCodeVersion"] == SHA
    assert entity["extension"]["copiedFrom"] == f"staging:stg_{NAME}/{source.version}"
    staging_entity = LocalCatalog(root / "staging-catalog.db").find_model(f"stg_{NAME}")
    assert staging_entity["extension"]["copiedFrom"] == "none"  # trained there, not copied
    assert staging_entity["extension"]["championCodeVersion"] == SHA
    # the model card came along: staging's card (the evidence of its validation) under a copy note,
    # with preprod's rollback section
    source_card = Path(client.download_artifacts(source.run_id, "model_card/model_card.md")).read_text()
    title = source_card.partition("\n")[0]
    card = entity["description"]
    assert card.startswith(title + "\n\n**Copied:** this is pre_" + NAME + " v1, a copy of staging:stg_" + NAME)
    assert f"mlpublish promote pre_{NAME} --version N" in card
    assert _staging_names(entity, catalog.lineage(entity["fullyQualifiedName"])) == []
    assert _models(f"sqlite:///{root / 'prod-mlflow.db'}") == []


def test_only_passed_versions_are_copied(envs, capsys):
    spec = envs.spec(validation={"gates": [{"metric": "roc_auc", "min": 0.999}], "registerFailed": True})
    assert cli("run", str(spec), "--env", "staging") == EXIT_REJECTED
    capsys.readouterr()
    assert cli("promote", NAME, "--from", "staging", "--to", "preprod", "--version", "1") == EXIT_REJECTED
    err = capsys.readouterr().err
    assert f"stg_{NAME} v1" in err and "model_validation_status=FAILED" in err and "only PASSED" in err
    assert cli("promote", NAME, "--from", "staging", "--to", "preprod") == EXIT_ERROR  # no champion to copy
    assert "has no champion in environment 'staging'" in capsys.readouterr().err
    assert _models(envs.shared) == [f"stg_{NAME}"]


@pytest.fixture
def prod_postgres(envs, monkeypatch):
    """prod's MLflow backend in PostgreSQL: the owner (deploys) and a role with SELECT grants only (dev machines)."""
    import sqlalchemy as sa

    with postgres_database("env_prod") as url:
        reader, password = f"env_reader_{uuid.uuid4().hex[:8]}", DATABASE_PASSWORD
        MlflowClient(url, url).search_experiments()  # create the schema as the owner
        _admin(f"CREATE ROLE {reader} LOGIN PASSWORD '{password}'")
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {reader}"))
            conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}"))
        engine.dispose()
        host = PG_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
        try:
            yield {
                "owner": url,
                "reader": f"postgresql://{reader}:{password}@{host}/{url.rsplit('/', 1)[1]}",
                "password": password,
            }
        finally:
            engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f"DROP OWNED BY {reader}"))
            engine.dispose()
            _admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            _admin(f"DROP ROLE IF EXISTS {reader}")


def test_copy_across_registries_then_read_prod_without_write_rights(envs, prod_postgres, monkeypatch, capsys):
    spec = envs.spec()
    assert cli("run", str(spec), "--env", "staging") == EXIT_OK

    # the deployment (owner role) copies staging's champion into prod's own registry, as champion
    monkeypatch.setenv("PROD_MLFLOW_URI", prod_postgres["owner"])
    assert cli("promote", NAME, "--from", "staging", "--to", "prod", "--as", "champion") == EXIT_OK
    assert "files copied across registries" in capsys.readouterr().out
    assert cli("promote", NAME, "--from", "staging", "--to", "prod", "--as", "champion") == EXIT_OK
    owner = MlflowClient(prod_postgres["owner"], prod_postgres["owner"])
    assert len(owner.search_model_versions(f"name = '{NAME}'")) == 1
    mv = owner.get_model_version_by_alias(NAME, "champion")
    assert mv.tags["model_validation_status"] == "PASSED" and mv.run_id == mv.tags["mlpublish.catalog_run"]
    assert owner.get_run(mv.run_id).data.tags["mlflow.source.git.commit"] == SHA
    entity = LocalCatalog(envs.root / "prod-catalog.db").find_model(NAME)
    assert entity["fullyQualifiedName"] == f"mlflow-prod.{NAME}" and entity["extension"]["championVersion"] == "1"
    assert entity["mlStore"]["storage"].endswith("/model")

    # a dev machine: prod through the SELECT-only role
    monkeypatch.setenv("PROD_MLFLOW_URI", prod_postgres["reader"])
    capsys.readouterr()
    assert cli("status", NAME, "--env", "prod") == EXIT_OK
    assert f"{NAME}: champion v1" in capsys.readouterr().out
    # prod's champion (files copied across) on staging's held-out rows, next to staging's champion
    assert cli("compare", str(spec), "--env", "staging", "--champion-from", "prod", "--json") == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    by_env = {c["environment"]: c for c in result["champions"]}
    assert by_env["prod"]["version"] == "1" and by_env["prod"]["codeVersion"] == SHA
    # the same model files, so the same metrics on the same rows
    assert by_env["prod"]["metrics"] == pytest.approx(by_env["staging"]["metrics"])
    assert result["rows"] > 100

    # a write through the reader role is refused by PostgreSQL, clearly, and changes nothing
    before = owner.get_registered_model(NAME)
    # the model and the registry lock's fence counter (mlpublish-fence.<model>, made by the copy's alias moves)
    models = sorted(m.name for m in owner.search_registered_models())
    assert models == sorted([NAME, f"mlpublish-fence.{NAME}"])
    assert cli("promote", NAME, "--version", "1", "--env", "prod") == EXIT_ERROR
    err = capsys.readouterr().err
    assert "permission denied" in err and prod_postgres["password"] not in err
    after = owner.get_registered_model(NAME)
    assert after.aliases == before.aliases and after.tags == before.tags
    assert sorted(m.name for m in owner.search_registered_models()) == models
