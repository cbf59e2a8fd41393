"""Notification settings and sinks (mlpublish.notify.sinks): read from the environment; a malformed value
names its variable."""

from __future__ import annotations

import pytest

from mlpublish.notify import (
    NotifyConfigError,
    NotifySettings,
    redact_url,
)
from tests.support.notify_results import PASSWORD, TOKEN


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
