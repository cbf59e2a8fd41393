"""Score and monitor publish to OpenMetadata too: the predictions table, its lineage, the drift summary."""

from __future__ import annotations

from mlpublish.catalog import open_catalog
from mlpublish.context import PublishContext
from mlpublish.spec import load_spec
from mlpublish.steps import monitor_drift, score_batch

from .scenarios import Reader, publish, weak_spec

SUFFIX = "s"


def test_score_and_monitor_reach_openmetadata(workspace, om_settings):
    path = weak_spec(workspace, SUFFIX)
    spec, result = publish(path, om_settings)
    assert result.promotion.promoted
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
    assert {"prediction", "probability", "model_version", "scoring_run_id"} <= {c["name"] for c in predictions["columns"]}
    upstream = reader.upstream("table", scored.table_fqn)
    assert spec.fqn in upstream
    scoring_job = reader.pipeline(score_pipeline["name"])  # the scoring DAG or job, its own Pipeline entity
    for details in upstream.values():
        assert details["pipeline"]["id"] == scoring_job["id"] and "run scheduled__1" in details["description"]

    ext = reader.model(spec.fqn)["extension"]
    assert ext["lastScoringRunId"] == "om-score-1"
    assert ext["lastScoredVersion"] == scored.version
    assert ext["retrainRequested"] == ("true" if monitored.retrain else "false")
    assert "driftSummary" in ext
