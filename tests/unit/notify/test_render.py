"""Rendering a notification (mlpublish.notify.render): Slack's incoming-webhook JSON, the versioned generic
payload with its links, text, HTML and email, never a secret."""

from __future__ import annotations

import json

from mlpublish.notify import (
    SCHEMA,
    NotifySettings,
    Source,
    gate_notification,
    links_for,
    render,
)
from mlpublish.notify.sinks import SmtpSink
from tests.support.notify_results import PASSWORD, results


def test_slack_payload_is_incoming_webhook_json():
    n = gate_notification(
        *results(),
        source=Source(orchestrator="airflow", name="dag", run_id="manual__1"),
        links=links_for(
            model="churn",
            tracking_uri="http://mlflow:5000",
            experiment_id="3",
            run_id="r1",
            catalog_fqn="mlflow-local.churn",
        ),
    )
    payload = render.slack_payload(n)
    assert payload["text"].startswith(":x: churn: candidate run r1 FAILED")
    types = [b["type"] for b in payload["blocks"]]
    assert types[0] == "header" and types[-1] == "context" and "section" in types
    table = next(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "```" in b["text"]["text"])
    assert all(m in table for m in ("roc_auc", "f1", "log_loss", "brier"))
    checks = "".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "roc_auc maxDrop 0.01" in checks and "roc_auc >= 0.8:" not in checks  # a FAILED gate lists the failures
    links = payload["blocks"][-1]["elements"][0]["text"]
    assert "<http://mlflow:5000/#/experiments/3/runs/r1|MLflow run>" in links
    assert "Catalog entity: `mlpublish catalog show mlflow-local.churn`" in links
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if "text" in b and b["type"] == "section")


def test_generic_payload_is_versioned_and_complete():
    n = gate_notification(
        *results("PASSED"),
        source=Source(orchestrator="cli"),
        links=links_for(
            model="churn",
            tracking_uri="http://mlflow:5000",
            experiment_id="3",
            run_id="r1",
            version="5",
            catalog_fqn="svc.churn",
            openmetadata_host_port="http://om:8585/api",
            orchestrator_run=("Dagster run", "http://dagster:3000/runs/x"),
        ),
    )
    payload = render.webhook_payload(n)
    assert payload["schema"] == SCHEMA == "mlpublish.notification/v1"
    assert list(payload)[0] == "schema"
    assert {
        "event",
        "outcome",
        "model",
        "version",
        "run_id",
        "title",
        "summary",
        "candidate_label",
        "champion_label",
        "metrics",
        "checks",
        "champion_before",
        "champion_after",
        "links",
        "source",
        "at",
    } <= set(payload)
    assert payload["event"] == "gate" and payload["outcome"] == "PASSED"
    assert {r["metric"] for r in payload["metrics"]} == {"roc_auc", "f1", "log_loss", "brier"}
    assert {link["label"]: link["url"] for link in payload["links"]} == {
        "MLflow run": "http://mlflow:5000/#/experiments/3/runs/r1",
        "MLflow model version": "http://mlflow:5000/#/models/churn/versions/5",
        "Catalog entity": "http://om:8585/mlmodel/svc.churn",
        "Dagster run": "http://dagster:3000/runs/x",
    }
    json.dumps(payload)


def test_no_secret_in_any_rendering():
    n = gate_notification(
        *results(),
        source=Source(orchestrator="cli"),
        links=links_for(
            model="churn",
            tracking_uri="https://user:mlflowpass@mlflow.example",
            experiment_id="3",
            run_id="r1",
            catalog_fqn="svc.churn",
        ),
    )
    smtp = NotifySettings.from_env(
        {
            "MLPUBLISH_NOTIFY_SMTP_HOST": "localhost",
            "MLPUBLISH_NOTIFY_SMTP_USER": "bot",
            "MLPUBLISH_NOTIFY_SMTP_PASSWORD": PASSWORD,
            "MLPUBLISH_NOTIFY_SMTP_FROM": "a@x",
            "MLPUBLISH_NOTIFY_SMTP_TO": "b@x",
        }
    ).smtp
    email = SmtpSink(smtp).message(n).as_string()
    for text in (
        json.dumps(render.slack_payload(n)),
        json.dumps(render.webhook_payload(n)),
        render.text(n),
        render.html_body(n),
        email,
    ):
        for secret in ("dbpass", "mlflowpass", "token=abc", PASSWORD):
            assert secret not in text
    assert "https://user:***@mlflow.example/#/experiments/3/runs/r1" in render.text(n)
