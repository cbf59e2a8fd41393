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
