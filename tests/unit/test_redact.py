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
