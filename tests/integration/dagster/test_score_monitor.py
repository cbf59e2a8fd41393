"""After the champion: the scoring and monitoring jobs, and the loop back to retraining through the sensor."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, build_sensor_context

from mlpublish.demo.data import shift_feature_distribution
from tests.support.dagster_support import spec_folder

KEY = "customer_churn_predictor"


def run_job(defs, name: str):
    result = defs.resolve_job_def(name).execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, [
        str(e.event_specific_data) for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ]
    return result


def metadata(result, asset: str) -> dict:
    [mat] = [
        ev.event_specific_data.materialization
        for ev in result.all_events
        if ev.event_type_value == "ASSET_MATERIALIZATION" and ev.asset_key == AssetKey([KEY, asset])
    ]
    return mat.metadata


def test_scoring_monitoring_and_drift_back_to_retraining(workspace):
    from mlpublish_dagster.definitions import build_definitions

    folder = spec_folder(
        workspace.root / "dagster",
        scoring={"schedule": "0 6 * * *"},
        monitoring={"schedule": "0 7 * * *", "windowN": 1, "windowM": 1, "cooldownHours": 0},
    )
    defs = build_definitions(folder, "local")
    assert {s.name: s.cron_schedule for s in defs.schedules} == {
        f"{KEY}_retraining_schedule": "0 3 * * 1",
        f"{KEY}_scoring_schedule": "0 6 * * *",
        f"{KEY}_monitoring_schedule": "0 7 * * *",
    }
    publish = defs.resolve_job_def(f"{KEY}_publish")
    assert AssetKey([KEY, "model_predictions"]) not in publish.asset_layer.executable_asset_keys
    assert publish.tags["mlpublish/model"] == KEY  # what a run queue limits to one run per model

    run_job(defs, f"{KEY}_publish")
    scored = run_job(defs, f"{KEY}_scoring")
    meta = metadata(scored, "model_predictions")
    engine = sa.create_engine(workspace.warehouse_url)
    with engine.connect() as conn:
        features = conn.execute(sa.text("SELECT COUNT(*) FROM customer_features")).scalar()
        by_run = dict(
            conn.execute(
                sa.text("SELECT scoring_run_id, COUNT(*) FROM churn_predictions GROUP BY scoring_run_id")
            ).all()
        )
    engine.dispose()
    assert meta["rows"].value == features and by_run == {scored.run_id: features}
    assert meta["model_version"].value == "1"

    sensor = defs.get_sensor_def(f"{KEY}_retraining_sensor")
    instance = DagsterInstance.ephemeral()

    def tick(cursor):
        with build_sensor_context(
            instance=instance, cursor=cursor, resources={"mlflow": defs.resources["mlflow"]}
        ) as c:
            return sensor.evaluate_tick(c)

    calm = metadata(run_job(defs, f"{KEY}_monitoring"), "drift_report")
    assert calm["retrain"].value is False and calm["drifted_features"].value == "none"
    assert tick(None).run_requests == []

    shift_feature_distribution(workspace.warehouse_url)
    drifted = metadata(run_job(defs, f"{KEY}_monitoring"), "drift_report")
    assert drifted["retrain"].value is True and drifted["window_drifted"].value is True
    table = {r.data["feature"]: r.data for r in drifted["drift"].value.records}
    assert any(row["drifted"] for row in table.values())
    first = tick(None)
    assert len(first.run_requests) == 1
    assert tick(first.cursor).run_requests == []
