"""Notification payloads: the candidate-vs-champion table, the Slack and generic formats, settings, redaction."""

from __future__ import annotations

import json

import pytest

from mlpublish.evaluation.gates import CheckResult
from mlpublish.notify import (
    SCHEMA,
    NotifyConfigError,
    NotifySettings,
    Source,
    gate_notification,
    links_for,
    promotion_notification,
    redact_url,
    render,
)
from mlpublish.notify.sinks import SmtpSink
from mlpublish.results import EvaluateResult, PromoteResult, ValidateResult

TOKEN = "T000/B000/XXXXsecretXXXX"
PASSWORD = "smtp-pa55-word"


def results(status: str = "FAILED") -> tuple[EvaluateResult, ValidateResult]:
    evaluation = EvaluateResult(
        model_name="churn",
        run_id="r1",
        champion_version="4",
        metrics={"roc_auc": 0.81, "f1": 0.52, "log_loss": 0.41, "brier": 0.13},
        champion_metrics={"roc_auc": 0.84, "f1": 0.50, "log_loss": 0.45},
    )
    checks = [
        CheckResult(
            check="gate",
            name="roc_auc >= 0.8",
            outcome="pass",
            metric="roc_auc",
            kind="min",
            threshold=0.8,
            value=0.81,
            detail="roc_auc=0.8100 >= min 0.8",
        ),
        CheckResult(
            check="gate",
            name="roc_auc maxDrop 0.01",
            outcome="fail" if status == "FAILED" else "pass",
            metric="roc_auc",
            kind="maxDropVsChampion",
            threshold=0.01,
            value=0.81,
            champion_value=0.84,
            detail="drop 0.0300 exceeds maxDrop 0.01 (postgresql://ml:dbpass@warehouse/db?token=abc)",
        ),
    ]
    return evaluation, ValidateResult(
        model_name="churn", run_id="r1", status=status, checks=checks, champion_version="4"
    )


def test_table_has_every_metric_of_either_side_in_its_own_direction():
    n = gate_notification(*results(), source=Source(orchestrator="cli"))
    rows = {r.metric: r for r in n.metrics}
    assert set(rows) == {"roc_auc", "f1", "log_loss", "brier"}
    assert rows["roc_auc"].candidate == 0.81 and rows["roc_auc"].champion == 0.84
    assert rows["roc_auc"].delta == pytest.approx(-0.03) and rows["roc_auc"].candidate_better is False
    assert rows["log_loss"].candidate_better is True  # lower is better
    assert rows["brier"].champion is None and rows["brier"].delta is None and rows["brier"].candidate_better is None
    assert n.outcome == "FAILED" and n.champion_label == "champion v4"
    text = render.table_text(n)
    for metric in rows:
        assert metric in text
    assert "0.8100" in text and "0.8400" in text and "-0.0300" in text and "worse" in text


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


def test_promotion_and_rollback_tables_name_their_versions():
    e, _ = results()
    promoted = PromoteResult(
        model_name="churn",
        version="5",
        promoted=True,
        mode="auto",
        champion_before="4",
        champion_after="5",
        reason="v5 beats champion v4 on every relative gate",
    )
    n = promotion_notification(
        promoted,
        source=Source(orchestrator="cli"),
        candidate_metrics=e.metrics,
        champion_metrics=e.champion_metrics,
        compared_version="4",
    )
    assert (n.event, n.outcome, n.version) == ("promotion", "PROMOTED", "5")
    assert (n.candidate_label, n.champion_label) == ("v5 (candidate)", "v4 (champion before)")
    moved = promoted.model_copy(update={"promoted": False, "champion_before": "6", "champion_after": "6"})
    n = promotion_notification(
        moved,
        source=Source(orchestrator="cli"),
        candidate_metrics=e.metrics,
        champion_metrics=e.champion_metrics,
        compared_version="4",
    )
    assert n.outcome == "NOT_PROMOTED" and n.champion_label == "v4 (champion at evaluation)"
    rollback = PromoteResult(
        model_name="churn",
        version="4",
        promoted=True,
        mode="rollback",
        champion_before="5",
        champion_after="4",
        reason="champion rolled back from v5 to v4",
    )
    n = promotion_notification(
        rollback, source=Source(orchestrator="cli"), candidate_metrics={"f1": 0.5}, champion_metrics={"f1": 0.52}
    )
    assert (n.event, n.outcome, n.version, n.candidate_label) == ("rollback", "ROLLED_BACK", "4", "v4 (restored)")


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


def test_settings_from_environment():
    assert NotifySettings.from_env({}).sinks() == []
    s = NotifySettings.from_env(
        {
            "MLPUBLISH_NOTIFY_SLACK_URL": f"https://hooks.slack.com/services/{TOKEN}",
            "MLPUBLISH_NOTIFY_WEBHOOK_URL": "http://hooks.local:8080/mlpublish?token=abc",
            "MLPUBLISH_NOTIFY_SMTP_HOST": "smtp.example.com",
            "MLPUBLISH_NOTIFY_SMTP_PORT": "587",
            "MLPUBLISH_NOTIFY_SMTP_USER": "bot",
            "MLPUBLISH_NOTIFY_SMTP_PASSWORD": PASSWORD,
            "MLPUBLISH_NOTIFY_SMTP_FROM": "mlpublish@example.com",
            "MLPUBLISH_NOTIFY_SMTP_TO": "a@example.com, b@example.com",
            "MLPUBLISH_NOTIFY_RETRIES": "1",
            "MLPUBLISH_NOTIFY_RETRY_DELAY": "0.5",
            "MLPUBLISH_NOTIFY_EVENTS": "gate,rollback",
        }
    )
    assert [k.kind for k in s.sinks()] == ["slack", "webhook", "smtp"]
    assert s.smtp.security == "starttls" and s.smtp.recipients == ("a@example.com", "b@example.com")
    assert (s.retries, s.retry_delay, s.events) == (1, 0.5, frozenset({"gate", "rollback"}))
    targets = " ".join(k.target for k in s.sinks()) + repr(s)
    assert TOKEN not in targets and "token=abc" not in targets and PASSWORD not in targets
    assert "https://hooks.slack.com/***" in targets and "smtp://smtp.example.com:587 (starttls)" in targets
    assert redact_url("https://hooks.slack.com:8443/services/T/B/C?x=1") == "https://hooks.slack.com:8443/***"
    assert (
        NotifySettings.from_env(
            {
                "MLPUBLISH_NOTIFY_SMTP_HOST": "h",
                "MLPUBLISH_NOTIFY_SMTP_PORT": "465",
                "MLPUBLISH_NOTIFY_SMTP_FROM": "a@x",
                "MLPUBLISH_NOTIFY_SMTP_TO": "b@x",
            }
        ).smtp.security
        == "ssl"
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MLPUBLISH_NOTIFY_RETRIES": "three"}, "MLPUBLISH_NOTIFY_RETRIES='three': expected an integer"),
        ({"MLPUBLISH_NOTIFY_RETRY_DELAY": "-1"}, "MLPUBLISH_NOTIFY_RETRY_DELAY='-1': expected 0 to 300"),
        ({"MLPUBLISH_NOTIFY_RETRY_DELAY": "inf"}, "MLPUBLISH_NOTIFY_RETRY_DELAY='inf': expected 0 to 300"),
        ({"MLPUBLISH_NOTIFY_TIMEOUT": "nan"}, "MLPUBLISH_NOTIFY_TIMEOUT='nan': expected 0 to 300"),
        ({"MLPUBLISH_NOTIFY_RETRIES": "1000"}, "MLPUBLISH_NOTIFY_RETRIES='1000': expected 0 to 10"),
        (
            {"MLPUBLISH_NOTIFY_SLACK_URL": "https://hooks.local:99x/T/B/" + PASSWORD},
            "MLPUBLISH_NOTIFY_SLACK_URL: the URL's port is not a number",
        ),
        (
            {
                "MLPUBLISH_NOTIFY_SMTP_HOST": "h",
                "MLPUBLISH_NOTIFY_SMTP_FROM": "a@x",
                "MLPUBLISH_NOTIFY_SMTP_TO": "b@x",
                "MLPUBLISH_NOTIFY_SMTP_PORT": "99999",
            },
            "MLPUBLISH_NOTIFY_SMTP_PORT='99999': expected 0 to 65535",
        ),
        ({"MLPUBLISH_NOTIFY_WEBHOOK_URL": "hooks.local/x"}, "MLPUBLISH_NOTIFY_WEBHOOK_URL: expected an http(s) URL"),
        ({"MLPUBLISH_NOTIFY_EVENTS": "gate,deploy"}, "MLPUBLISH_NOTIFY_EVENTS: unknown event(s) ['deploy']"),
        ({"MLPUBLISH_NOTIFY_SMTP_HOST": "h"}, "MLPUBLISH_NOTIFY_SMTP_FROM and MLPUBLISH_NOTIFY_SMTP_TO"),
        (
            {
                "MLPUBLISH_NOTIFY_SMTP_HOST": "h",
                "MLPUBLISH_NOTIFY_SMTP_FROM": "a@x",
                "MLPUBLISH_NOTIFY_SMTP_TO": "b@x",
                "MLPUBLISH_NOTIFY_SMTP_SECURITY": "tls",
            },
            "MLPUBLISH_NOTIFY_SMTP_SECURITY='tls': expected none, starttls or ssl",
        ),
        (
            {
                "MLPUBLISH_NOTIFY_SMTP_HOST": "h",
                "MLPUBLISH_NOTIFY_SMTP_FROM": "a@x",
                "MLPUBLISH_NOTIFY_SMTP_TO": "b@x",
                "MLPUBLISH_NOTIFY_SMTP_PASSWORD": PASSWORD,
            },
            "MLPUBLISH_NOTIFY_SMTP_PASSWORD is set without MLPUBLISH_NOTIFY_SMTP_USER",
        ),
    ],
)
def test_malformed_settings_name_the_variable(env, message):
    with pytest.raises(NotifyConfigError) as err:
        NotifySettings.from_env(env)
    assert message in str(err.value) and PASSWORD not in str(err.value)
