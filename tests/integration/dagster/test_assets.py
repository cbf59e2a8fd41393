"""Dagster assets in process: the graph loads, a materialization equals the CLI's, a failed gate stops the chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance

from mlpublish.catalog.local import LocalCatalog
from mlpublish.demo.data import build_demo_warehouse
from mlpublish.spec import load_spec
from mlpublish.workflows.chain import run_chain
from tests.support.dagster_support import catalog_state, cli_copy, lineage_pipelines, registry_state, spec_folder

NAME = "customer_churn_predictor"
KEY = "customer_churn_predictor"
FQN = "mlflow-local.customer_churn_predictor"
CHAIN = ["trained_model", "model_evaluation", "validated_model", "registered_model_version", "champion_model"]


def build(folder: Path):
    from mlpublish_dagster.definitions import build_definitions

    return build_definitions(folder, "local")


def materialize(defs):
    job = defs.resolve_job_def(f"{KEY}_publish")
    return job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)


def materialized(result) -> dict[str, dict]:
    return {
        ev.asset_key.path[-1]: ev.event_specific_data.materialization.metadata
        for ev in result.all_events
        if ev.event_type_value == "ASSET_MATERIALIZATION"
    }


def check_evaluations(result) -> dict[str, object]:
    return {
        ev.event_specific_data.check_name: ev.event_specific_data
        for ev in result.all_events
        if ev.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_definitions_load_and_validate(tmp_path, monkeypatch):
    folder = spec_folder(tmp_path)
    second = yaml.safe_load((folder / "churn.yaml").read_text())
    second.update(name="Churn Model-2", schedule=None)
    (folder / "second.yml").write_text(yaml.safe_dump(second))
    defs = build(folder)

    graph = defs.resolve_asset_graph()
    keys = {tuple(k.path) for k in graph.get_all_asset_keys()}
    for prefix in (KEY, "churn_model_2"):
        assert {(prefix, n) for n in ["feature_table", *CHAIN]} <= keys
        assert graph.get(AssetKey([prefix, "trained_model"])).group_name == prefix
    assert graph.get(AssetKey([KEY, "trained_model"])).parent_keys == {AssetKey([KEY, "feature_table"])}
    assert graph.get(AssetKey([KEY, "champion_model"])).parent_keys == {
        AssetKey([KEY, n]) for n in ("model_evaluation", "validated_model", "registered_model_version")
    }
    checks = {c.name: c for c in defs.resolve_assets_def(AssetKey([KEY, "validated_model"])).check_specs}
    assert set(checks) == {
        "roc_auc_min",
        "f1_min",
        "roc_auc_max_drop_vs_champion",
        "gates_applied",
        "smoke_test",
        "data_contract",
        "required_metadata",
    }
    assert all(c.blocking for c in checks.values())
    assert {s.name: s.cron_schedule for s in defs.schedules} == {f"{KEY}_retraining_schedule": "0 3 * * 1"}
    assert {s.name for s in defs.sensors} == {
        f"{KEY}_retraining_sensor",
        "churn_model_2_retraining_sensor",
        "mlpublish_publish_notifications",
        "mlpublish_publish_failure_notifications",
    }
    assert set(defs.resources) == {"mlflow", "warehouse", "catalog", "spark", "result_io_manager"}

    # the real CLI check, as a user or CI would run it
    env = {**os.environ, "MLPUBLISH_SPECS_DIR": str(folder), "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "mlpublish_dagster.definitions",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Validation successful" in proc.stderr + proc.stdout

    # a bad spec in the folder never fails the code location: the good specs load, the bad one is an asset of
    # its own naming file and field (issue 32; tests/unit/dagster/test_invalid_specs.py has the details)
    (folder / "bad.yaml").write_text((folder / "churn.yaml").read_text().replace("testSize: 0.25", "testSize: 1.5"))
    with_bad = build(folder)
    keys = set(with_bad.resolve_all_asset_keys())
    assert {AssetKey([KEY, "champion_model"]), AssetKey(["churn_model_2", "champion_model"])} <= keys
    [invalid] = [k for k in keys if k.path[0] == "invalid_spec"]
    description = with_bad.resolve_assets_def(invalid).specs_by_key[invalid].description
    assert "bad.yaml" in description and "training.split.testSize" in description
    (folder / "bad.yaml").unlink()
    from mlpublish_dagster.definitions import build_definitions
    from mlpublish_dagster.resources import DeploymentError

    monkeypatch.setenv("MLPUBLISH_DEPLOYMENT", "staging")
    with pytest.raises(DeploymentError, match="MLPUBLISH_DEPLOYMENT='staging'"):
        build_definitions(folder)
    monkeypatch.setenv("MLPUBLISH_DEPLOYMENT", "prod")
    for var in ("MLFLOW_TRACKING_TOKEN", "OPENMETADATA_HOST_PORT", "OPENMETADATA_JWT_TOKEN"):
        monkeypatch.setenv(
            var, "set"
        )  # optional parts: demanded when configured (tests/unit/dagster/test_resources.py)
    prod = build_definitions(folder)
    # prod reads every location and secret from the environment, by name, at run time
    assert prod.resources["mlflow"].token.env_var_name == "MLFLOW_TRACKING_TOKEN"
    assert prod.resources["catalog"].openmetadata_jwt_token.env_var_name == "OPENMETADATA_JWT_TOKEN"
    assert prod.resources["warehouse"].url.env_var_name == "WAREHOUSE_URL"
    assert all(s.default_status.value == "RUNNING" for s in [*prod.schedules, *prod.sensors])
    assert all(s.default_status.value == "STOPPED" for s in [*defs.schedules, *defs.sensors])


def test_materialized_graph_equals_cli_run(workspace, tmp_path, mlflow_template):
    folder = spec_folder(workspace.root / "dagster")
    cli_spec = cli_copy(
        tmp_path / "cli", workspace.warehouse, mlflow_template, yaml.safe_load((folder / "churn.yaml").read_text())
    )
    defs = build(folder)
    cli_catalog = LocalCatalog(tmp_path / "cli" / "catalog.db")
    cli_uri = f"sqlite:///{tmp_path / 'cli' / 'mlflow.db'}"

    for round_ in (1, 2):
        if round_ == 2:  # fresh customers: the second candidate is compared with the first champion
            for wh in (workspace.warehouse_url, f"sqlite:///{tmp_path / 'cli' / 'warehouse.db'}"):
                build_demo_warehouse(wh, customers=800, seed=11, append=True)
        result = materialize(defs)
        assert result.success
        chain = run_chain(load_spec(cli_spec), catalog=cli_catalog)
        assert chain.status == "PASSED" and chain.promotion.promoted

        meta = materialized(result)
        assert set(meta) == set(CHAIN)
        ours = registry_state(workspace.tracking_uri, NAME)
        assert ours == registry_state(cli_uri, NAME)
        assert ours["aliases"] == {"champion": str(round_)}
        assert catalog_state(workspace.catalog(), FQN) == catalog_state(cli_catalog, FQN)

        # what a person reads on the asset pages
        assert meta["registered_model_version"]["model_version"].value == str(round_)
        assert meta["champion_model"]["champion_version"].value == str(round_)
        assert meta["champion_model"]["catalog_fqn"].value == FQN
        assert meta["champion_model"]["catalog_validation_tag"].value == "ModelValidation.PASSED"
        assert meta["validated_model"]["validation_status"].value == "PASSED"
        rows = {r.data["metric"]: r.data for r in meta["model_evaluation"]["metrics"].value.records}
        version = ours["versions"][-1]
        assert rows["roc_auc"]["candidate"] == pytest.approx(version["test_metrics"]["test_roc_auc"], abs=1e-6)
        if round_ == 2:
            assert rows["roc_auc"]["champion v1"] == pytest.approx(
                version["test_metrics"]["champion_test_roc_auc"], abs=1e-6
            )
        # no tracking server: the picture rides inline, the file's path beside it
        assert "![ROC curve](data:image/png;base64,iVBORw0KGgo" in meta["model_evaluation"]["plot"].value
        plot = meta["model_evaluation"]["plot_file"].value
        assert plot.endswith("evaluation/roc_curve.png") and Path(plot).exists()
        # the model card: the registered version's, and the champion's as the catalog describes it
        card = meta["registered_model_version"]["model_card"].value
        assert card.startswith(f"# Model card: {NAME} v{round_}\n")
        reg = workspace.registry()
        validated = reg.client.download_artifacts(reg.get_version(NAME, str(round_)).run_id, "validation/checks.json")
        for check in yaml.safe_load(Path(validated).read_text()):
            assert f"| {check['name']} |" in card and f"| {check['outcome'].upper()} |" in card
        for metric in rows:
            assert f"| {metric} | {rows[metric]['candidate']:.4f} |" in card
        assert meta["registered_model_version"]["model_card_uri"].value.endswith("/model_card/model_card.md")
        champion_card = meta["champion_model"]["model_card"].value
        assert champion_card == workspace.catalog().get(FQN)["description"]
        assert champion_card.startswith(f"# Model card: {NAME} v{round_}\n")
        trained = meta["trained_model"]
        assert trained["train_rows"].value == chain.training.train_rows
        assert trained["held_out_rows"].value == chain.training.test_rows
    # lineage carries the Dagster job and run id; the CLI's has none
    pipelines = lineage_pipelines(workspace.catalog(), FQN)
    assert pipelines and all(p == {"name": f"{KEY}_publish", "runId": result.run_id} for p in pipelines)
    assert all(p is None for p in lineage_pipelines(cli_catalog, FQN))


def test_failed_gate_stops_registration_and_matches_cli(workspace, tmp_path, mlflow_template):
    impossible = {
        "validation": {"gates": [{"metric": "roc_auc", "min": 0.99}], "registerFailed": True},
        "mlHyperParameters": [{"name": "n_estimators", "value": 5}, {"name": "random_state", "value": 0}],
    }
    folder = spec_folder(workspace.root / "dagster", **impossible)
    cli_spec = cli_copy(
        tmp_path / "cli", workspace.warehouse, mlflow_template, yaml.safe_load((folder / "churn.yaml").read_text())
    )
    result = materialize(build(folder))

    assert not result.success
    gate = check_evaluations(result)["roc_auc_min"]
    assert gate.passed is False and gate.blocking
    assert gate.metadata["metric"].value == "roc_auc" and gate.metadata["threshold"].value == 0.99
    assert gate.metadata["value"].value < 0.99
    assert "roc_auc" in gate.description and "min 0.99" in gate.description
    rejected_card = materialized(result)["validated_model"]["model_card"].value
    assert "Outcome: **FAILED**" in rejected_card and "| roc_auc min 0.99 |" in rejected_card
    assert set(materialized(result)) == {"trained_model", "model_evaluation", "validated_model"}
    succeeded = {ev.step_key for ev in result.all_events if ev.event_type_value == "STEP_SUCCESS"}
    assert not any(s.endswith(("registered_model_version", "champion_model")) for s in succeeded)

    chain = run_chain(load_spec(cli_spec), catalog=LocalCatalog(tmp_path / "cli" / "catalog.db"))
    assert chain.status == "FAILED"
    ours = registry_state(workspace.tracking_uri, NAME)
    assert ours == registry_state(f"sqlite:///{tmp_path / 'cli' / 'mlflow.db'}", NAME)
    # registerFailed: kept for audit, tagged FAILED, never aliased
    assert [v["tags"]["model_validation_status"] for v in ours["versions"]] == ["FAILED"]
    assert ours["aliases"] == {}
    entity = workspace.catalog().get(FQN)
    assert [t["tagFQN"] for t in entity["tags"]] == ["ModelValidation.FAILED"]
    assert catalog_state(workspace.catalog(), FQN) == catalog_state(LocalCatalog(tmp_path / "cli" / "catalog.db"), FQN)


def test_failed_gate_without_audit_registers_nothing(workspace):
    folder = spec_folder(
        workspace.root / "dagster",
        validation={"gates": [{"metric": "f1", "min": 0.99}]},
        mlHyperParameters=[{"name": "n_estimators", "value": 5}, {"name": "random_state", "value": 0}],
    )
    result = materialize(build(folder))
    assert not result.success
    assert check_evaluations(result)["f1_min"].passed is False
    assert registry_state(workspace.tracking_uri, NAME) == {"registered": False}
    run = workspace.registry().run(materialized(result)["trained_model"]["mlflow_run_id"].value)
    assert run.data.tags["model_validation_status"] == "FAILED"
    assert [t["tagFQN"] for t in workspace.catalog().get(FQN)["tags"]] == ["ModelValidation.FAILED"]


def test_feature_table_observation_counts_rows(workspace):
    from dagster import AssetSelection, Definitions, define_asset_job

    from mlpublish.warehouse import Warehouse
    from mlpublish_dagster.assets import spec_assets
    from mlpublish_dagster.resources import resources_for
    from mlpublish_dagster.specs import discover

    [ref] = discover(spec_folder(workspace.root / "dagster"))
    source = spec_assets(ref)[0]
    key = AssetKey([KEY, "feature_table"])
    assert source.key == key
    # what the UI's "Observe sources" button (or a job selecting the source) runs
    observing = Definitions(
        assets=[source],
        resources=resources_for("local"),
        jobs=[define_asset_job("observe_features", selection=AssetSelection.assets(key))],
    )
    result = observing.resolve_job_def("observe_features").execute_in_process(instance=DagsterInstance.ephemeral())
    assert result.success
    [obs] = [
        ev.event_specific_data.asset_observation
        for ev in result.all_events
        if ev.event_type_value == "ASSET_OBSERVATION"
    ]
    rows = Warehouse.from_spec(load_spec(workspace.root / "dagster" / "specs" / "churn.yaml").data).row_count(
        "customer_features"
    )
    assert obs.metadata["row_count"].value == rows > 0
    assert obs.metadata["table_fqn"].value == "warehouse.main.main.customer_features"
    assert obs.tags.get("dagster/data_version") == str(rows)


def observations(result) -> dict[str, object]:
    return {
        ev.asset_key.path[-1]: ev.event_specific_data.asset_observation
        for ev in result.all_events
        if ev.event_type_value == "ASSET_OBSERVATION"
    }


def test_unchanged_rerun_is_nothing_new_and_the_publish_observes_the_feature_table(workspace):
    from mlpublish_dagster.notifications import run_notifications
    from mlpublish_dagster.specs import discover

    folder = spec_folder(workspace.root / "dagster")
    defs = build(folder)
    first = materialize(defs)
    assert first.success
    rows = observations(first)["feature_table"].metadata["row_count"].value
    assert rows > 0 and observations(first)["feature_table"].tags.get("dagster/data_version") == str(rows)

    instance = DagsterInstance.ephemeral()
    again = defs.resolve_job_def(f"{KEY}_publish").execute_in_process(instance=instance, raise_on_error=False)
    assert again.success  # nothing new is a success: the champion stands
    meta = materialized(again)
    assert meta["validated_model"]["outcome"].value == "NOTHING NEW"
    assert "reproduces champion v1" in meta["validated_model"]["summary"].value
    assert meta["registered_model_version"]["model_version"].value == "none"
    assert meta["registered_model_version"]["outcome"].value == "NOTHING NEW"
    assert meta["champion_model"]["outcome"].value == "NOTHING NEW"
    assert meta["champion_model"]["promoted"].value is False
    assert meta["champion_model"]["champion_version"].value == "1"
    assert meta["champion_model"]["reason"].value.startswith("NOTHING NEW: run ")
    state = registry_state(workspace.tracking_uri, NAME)
    assert [str(v["version"]) for v in state["versions"]] == ["1"] and state["aliases"] == {"champion": "1"}
    [ref] = discover(folder)
    run = instance.get_run_by_id(again.run_id)
    assert run_notifications(instance, run, ref) == []  # nobody is told about nothing
