"""Delivery to real local receivers: HTTP (Slack-compatible and generic) and SMTP; bounded retries; no secret leaks."""

from __future__ import annotations

import json
import logging

import pytest

from mlpublish.evaluation.gates import CheckResult
from mlpublish.notify import NotifySettings, Source, deliver, gate_notification, notify
from mlpublish.notify.sinks import SmtpSettings, SmtpSink
from mlpublish.results import EvaluateResult, ValidateResult
from tests.support.canary_secrets import SLACK_WEBHOOK_TOKEN, SMTP_PASSWORD, WEBHOOK_TOKEN
from tests.support.notify_receivers import HttpReceiver, SmtpReceiver, body_text, free_port

pytestmark = pytest.mark.integration
SLACK_PATH = f"/services/T0001/B0002/{SLACK_WEBHOOK_TOKEN}"
HOOK_TOKEN = WEBHOOK_TOKEN
PASSWORD = SMTP_PASSWORD
SECRETS = (SLACK_PATH, SLACK_WEBHOOK_TOKEN, HOOK_TOKEN, PASSWORD)


def sample() -> object:
    e = EvaluateResult(
        model_name="churn",
        run_id="r1",
        metrics={"roc_auc": 0.85, "f1": 0.5},
        champion_version=None,
        champion_metrics=None,
    )
    v = ValidateResult(
        model_name="churn",
        run_id="r1",
        status="PASSED",
        champion_version=None,
        checks=[
            CheckResult(
                check="gate",
                name="roc_auc >= 0.8",
                outcome="pass",
                metric="roc_auc",
                detail="roc_auc=0.8500 >= min 0.8",
            )
        ],
    )
    return gate_notification(e, v, source=Source(orchestrator="cli"))


def env_for(http: HttpReceiver | None, smtp: SmtpReceiver | None, **extra: str) -> dict[str, str]:
    env = {"MLPUBLISH_NOTIFY_RETRIES": "2", "MLPUBLISH_NOTIFY_RETRY_DELAY": "0.01", "MLPUBLISH_NOTIFY_TIMEOUT": "5"}
    if http:
        env.update(
            MLPUBLISH_NOTIFY_SLACK_URL=http.url(SLACK_PATH),
            MLPUBLISH_NOTIFY_WEBHOOK_URL=http.url("/hook"),
            MLPUBLISH_NOTIFY_WEBHOOK_TOKEN=HOOK_TOKEN,
        )
    if smtp:
        env.update(
            MLPUBLISH_NOTIFY_SMTP_HOST="127.0.0.1",
            MLPUBLISH_NOTIFY_SMTP_PORT=str(smtp.port),
            MLPUBLISH_NOTIFY_SMTP_USER="bot",
            MLPUBLISH_NOTIFY_SMTP_PASSWORD=PASSWORD,
            MLPUBLISH_NOTIFY_SMTP_FROM="mlpublish@example.com",
            MLPUBLISH_NOTIFY_SMTP_TO="ds-team@example.com,oncall@example.com",
        )
    return {**env, **extra}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret {secret!r} leaked"


def test_every_sink_receives_its_format(caplog):
    caplog.set_level(logging.DEBUG, logger="mlpublish")
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        deliveries = notify(sample(), NotifySettings.from_env(env_for(http, smtp)))
        assert [(d.kind, d.sent, d.attempts) for d in deliveries] == [
            ("slack", True, 1),
            ("webhook", True, 1),
            ("smtp", True, 1),
        ]
        [slack] = http.received("/services/")
        [hook] = http.received("/hook")
        [mail] = smtp.wait_for(1)
    assert set(slack["json"]) == {"text", "blocks"} and slack["json"]["blocks"][0]["type"] == "header"
    assert hook["json"]["schema"] == "mlpublish.notification/v1" and hook["json"]["outcome"] == "PASSED"
    assert hook["headers"]["Authorization"] == f"Bearer {HOOK_TOKEN}"  # in the header, never in the body
    assert "Authorization" not in slack["headers"]
    assert smtp.logins == [("bot", PASSWORD)]
    assert mail["to"] == ["<ds-team@example.com>", "<oncall@example.com>"]
    text, html = body_text(mail["message"])
    assert "roc_auc" in text and "0.8500" in text and "<table" in html and "roc_auc" in html
    assert mail["message"]["Subject"] == "[mlpublish] churn: candidate run r1 PASSED validation"
    assert_no_secret(slack["raw"], hook["raw"], mail["raw"], caplog.text)
    assert "slack sink http://127.0.0.1:" in caplog.text and "/***" in caplog.text


def test_bounded_retries_then_a_warning_and_the_other_sinks_still_get_it(caplog):
    caplog.set_level(logging.INFO, logger="mlpublish")
    with (
        HttpReceiver(statuses=[500, 503]) as flaky,
        HttpReceiver(statuses=[500] * 10) as broken,
        SmtpReceiver() as smtp,
    ):
        settings = NotifySettings.from_env(
            {
                **env_for(None, smtp),
                "MLPUBLISH_NOTIFY_SLACK_URL": flaky.url(SLACK_PATH),
                "MLPUBLISH_NOTIFY_WEBHOOK_URL": broken.url("/hook?token=" + HOOK_TOKEN),
            }
        )
        deliveries = notify(sample(), settings)
        smtp.wait_for(1)
        assert [(d.kind, d.sent, d.attempts) for d in deliveries] == [
            ("slack", True, 3),
            ("webhook", False, 3),
            ("smtp", True, 1),
        ]
        assert [r["status"] for r in flaky.requests] == [500, 503, 200]
        assert len(broken.requests) == 3  # 1 + MLPUBLISH_NOTIFY_RETRIES, no more
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "NOT sent to webhook sink http://127.0.0.1:" in warnings[0].getMessage()
    assert "after 3 attempt(s): OSError: HTTP 500" in warnings[0].getMessage()
    assert_no_secret(caplog.text)


def test_receiver_down_and_permanent_refusals(caplog):
    caplog.set_level(logging.INFO, logger="mlpublish")
    down = f"http://127.0.0.1:{free_port()}{SLACK_PATH}"
    settings = NotifySettings.from_env({**env_for(None, None), "MLPUBLISH_NOTIFY_SLACK_URL": down})
    [d] = notify(sample(), settings)
    assert (d.sent, d.attempts) == (False, 3) and "cannot reach http://127.0.0.1:" in d.error
    with HttpReceiver(statuses=[404] * 5) as http:  # a wrong or revoked webhook: retrying cannot help
        [d] = deliver(sample(), NotifySettings(slack_url=http.url(SLACK_PATH)).sinks(), retries=3, retry_delay=0)
        assert (d.sent, d.attempts, d.error) == (False, 1, "HTTP 404 Not Found") and len(http.requests) == 1
    # a password is never sent in clear text to another machine
    remote = SmtpSink(
        SmtpSettings(
            host="smtp.example.com",
            port=25,
            sender="a@x",
            recipients=("b@x",),
            user="bot",
            password=PASSWORD,
            security="none",
        )
    )
    [d] = deliver(sample(), [remote], retries=3, retry_delay=0)
    assert (d.sent, d.attempts) == (False, 1) and "over plain text" in d.error
    assert_no_secret(caplog.text, json.dumps([d.__dict__]))


def test_malformed_setting_is_a_warning_not_an_error(caplog, monkeypatch):
    monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/x")
    monkeypatch.setenv("MLPUBLISH_NOTIFY_RETRIES", "many")
    assert notify(sample()) == []
    assert "notifications not sent: MLPUBLISH_NOTIFY_RETRIES='many': expected an integer" in caplog.text


def test_a_time_budget_bounds_a_sender_when_a_sink_hangs(caplog):
    """A Dagster sensor call has 60 s: with a budget, a sink that never answers uses it up and the
    later sinks are reported as not sent instead of the call running past the limit."""
    import socket

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # connections are queued by the kernel and never answered
    try:
        with SmtpReceiver() as smtp:
            settings = NotifySettings.from_env(
                {
                    **env_for(None, smtp),
                    "MLPUBLISH_NOTIFY_RETRIES": "5",
                    "MLPUBLISH_NOTIFY_RETRY_DELAY": "0.2",
                    "MLPUBLISH_NOTIFY_TIMEOUT": "0.5",
                    "MLPUBLISH_NOTIFY_SLACK_URL": f"http://127.0.0.1:{hanging.getsockname()[1]}{SLACK_PATH}",
                }
            )
            deliveries = notify(sample(), settings, budget_seconds=1.0)
            assert [(d.kind, d.sent) for d in deliveries] == [("slack", False), ("smtp", False)]
            assert 1 <= deliveries[0].attempts < 6  # the budget, not the 6 allowed attempts, ended it
            assert deliveries[1].attempts == 0 and "no time left" in deliveries[1].error
            assert smtp.messages == []
    finally:
        hanging.close()
    assert_no_secret(caplog.text)
