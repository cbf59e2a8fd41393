"""Score and monitor publish to OpenMetadata too: the predictions table, its lineage, the drift summary."""

from __future__ import annotations

import sqlalchemy as sa

from mlpublish.catalog import open_catalog
from mlpublish.deployment.context import PublishContext
from mlpublish.steps import monitor_drift, score_batch
from tests.openmetadata.scenarios import Reader, publish, weak_spec

SUFFIX = "s"


def test_score_and_monitor_reach_openmetadata(workspace, om_settings):
    path = weak_spec(workspace, SUFFIX)
    spec, result = publish(path, om_settings)
    assert result.promotion.promoted
    # score another table than the training one: it must reach the catalog before its lineage edge
    engine = sa.create_engine(workspace.warehouse_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE scoring_batch AS SELECT * FROM customer_features"))
    engine.dispose()
    spec = spec.model_copy(update={"scoring": spec.scoring.model_copy(update={"sourceTable": "scoring_batch"})})
    catalog = open_catalog(None, openmetadata=om_settings)
    score_pipeline = {"name": f"mlp_om_score_{SUFFIX}", "runId": "scheduled__1"}
    ctx = PublishContext.create(spec, catalog=catalog, pipeline=score_pipeline)
    try:
        scored = score_batch(ctx, scoring_run_id="om-score-1")
        monitored = monitor_drift(ctx)
    finally:
        ctx.preflight.warehouse.dispose()
    assert scored.rows > 0
    assert catalog.outbox.counts()["pending"] == 0 and catalog.outbox.counts()["failed"] == 0

    reader = Reader(om_settings)
    predictions = reader.table(scored.table_fqn)
    assert predictions is not None, f"predictions table {scored.table_fqn} missing in OpenMetadata"
    assert {"prediction", "probability", "model_version", "scoring_run_id"} <= {
        c["name"] for c in predictions["columns"]
    }
    upstream = reader.upstream("table", scored.table_fqn)
    assert spec.fqn in upstream
    assert scored.source in upstream and reader.table(scored.source) is not None
    scoring_job = reader.pipeline(score_pipeline["name"])  # the scoring DAG or job, its own Pipeline entity
    for details in upstream.values():
        assert details["pipeline"]["id"] == scoring_job["id"] and "run scheduled__1" in details["description"]

    ext = reader.model(spec.fqn)["extension"]
    assert ext["lastScoringRunId"] == "om-score-1"
    assert ext["lastScoredVersion"] == scored.version
    assert ext["retrainRequested"] == ("true" if monitored.retrain else "false")
    assert "driftSummary" in ext
