import logging

from mlpublish.redact import ScrubFilter, scrub


def test_scrub_masks_url_passwords_query_secrets_and_bearer_tokens():
    text = (
        "postgresql://app:hunter2@db:5432/x http://u:p%40ss@h/api?token=abc123&x=1 "
        "Authorization: Bearer eyJhbGciOi.J9.sig== sqlite:///plain.db"
    )
    out = scrub(text)
    for secret in ("hunter2", "p%40ss", "abc123", "eyJhbGciOi"):
        assert secret not in out
    assert "postgresql://app:***@db:5432/x" in out and "x=1" in out and "sqlite:///plain.db" in out


def test_scrub_filter_cleans_formatted_log_records(caplog):
    log = logging.getLogger("mlpublish.test.redact")
    log.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO, logger="mlpublish.test.redact"):
        log.info("connecting to %s", "mysql://root:topsecret@127.0.0.1/db")
    assert "topsecret" not in caplog.text and "root:***@" in caplog.text


def test_a_url_shows_neither_its_password_nor_its_query_nor_a_webhooks_path():
    from mlpublish.redact import redact_url

    assert redact_url("https://u:p4ss@hooks.example.com:8443/services/T/B/SECRET?token=t0k") == (
        "https://hooks.example.com:8443/***"
    )
    assert redact_url("http://[::1]:8080/x") == "http://[::1]:8080/***"
    assert redact_url("not a url") == "<unparseable URL>"
    assert redact_url("http://host:notaport/") == "<unparseable URL>"


def test_a_database_url_names_its_user_host_and_database_but_not_its_password_or_query():
    from mlpublish.redact import redact_url

    shown = redact_url(
        "postgresql+psycopg2://etl:s3cret@db.internal:5432/warehouse?password=q&sslmode=require", database=True
    )
    assert shown == "postgresql+psycopg2://etl@db.internal:5432/warehouse"
    assert "s3cret" not in shown and "password" not in shown
    assert redact_url("sqlite:///data/warehouse.db", database=True) == "sqlite:///data/warehouse.db"
    assert redact_url("sqlite://", database=True) == "sqlite://"


def test_a_password_with_a_slash_or_an_at_sign_is_masked_whole():
    from mlpublish.redact import redact_url
    from tests.support.canary_secrets import AT_PASSWORD, SLASH_PASSWORD

    for password in (SLASH_PASSWORD, AT_PASSWORD, f"Ab@{AT_PASSWORD}"):
        url = f"postgresql://etl:{password}@db.internal:5432/warehouse?sslmode=require"
        assert scrub(f"cannot connect to {url}: refused") == (
            "cannot connect to postgresql://etl:***@db.internal:5432/warehouse?sslmode=require: refused"
        )
        assert redact_url(url, database=True) == "postgresql://etl@db.internal:5432/warehouse"
        assert redact_url(url) == "postgresql://db.internal:5432/***"
    # what is not a password stays: a port and a path with an @, a user alone, a SQLite path
    for kept in ("http://host:8080/users/@me", "https://host/a/b@c", "postgresql://etl@h/db", "sqlite:///d/x@y.db"):
        assert scrub(kept) == kept


def test_the_secrets_mlpublish_holds_are_masked_wherever_they_appear(monkeypatch, caplog):
    from mlpublish.config import OpenMetadataSettings
    from mlpublish.registry.session import MlflowCredentials
    from mlpublish.warehouse import Warehouse
    from tests.support.canary_secrets import (
        AT_PASSWORD,
        MLFLOW_PASSWORD,
        OPENMETADATA_JWT,
        SLASH_PASSWORD,
        SMTP_PASSWORD,
        WEBHOOK_TOKEN,
    )

    OpenMetadataSettings(host_port="http://om:8585/api", jwt_token=OPENMETADATA_JWT)
    MlflowCredentials(username="svc", password=MLFLOW_PASSWORD)
    Warehouse(f"postgresql://etl:{SLASH_PASSWORD}@db/wh", "wh")
    Warehouse(f"postgresql://etl:{AT_PASSWORD}@db/wh", "wh")
    # read from the environment at each scrub: no object needs to hold them
    monkeypatch.setenv("MLPUBLISH_NOTIFY_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", f"https://hooks.example.com/in/{WEBHOOK_TOKEN}")
    secrets = (OPENMETADATA_JWT, MLFLOW_PASSWORD, SLASH_PASSWORD, AT_PASSWORD, SMTP_PASSWORD, WEBHOOK_TOKEN)
    text = "free text, not URLs: " + " | ".join(f"value={s}" for s in secrets)
    out = scrub(text)
    assert out == "free text, not URLs: " + " | ".join(["value=***"] * len(secrets))
    for secret in secrets:
        assert secret not in out
    assert out.count("***") == len(secrets)
    log = logging.getLogger("mlpublish.test.redact.held")
    log.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO, logger="mlpublish.test.redact.held"):
        log.info("token %s and %s", OPENMETADATA_JWT, SLASH_PASSWORD)
    assert (
        OPENMETADATA_JWT not in caplog.text and SLASH_PASSWORD not in caplog.text and "token *** and ***" in caplog.text
    )


def test_short_values_are_not_masked_by_value():
    from mlpublish.redact import MIN_SECRET_LENGTH, register_secret

    register_secret("postgres")  # a dev password: masking it by value would mangle every postgresql:// URL
    assert len("postgres") < MIN_SECRET_LENGTH
    assert scrub("postgresql://h/db and postgres") == "postgresql://h/db and postgres"
