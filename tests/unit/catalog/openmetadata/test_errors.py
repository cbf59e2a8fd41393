"""OpenMetadata failures (mlpublish.catalog.openmetadata.errors): classified by status then kind, named without
secrets, and the settings errors that say what to check."""

from __future__ import annotations

import pytest

from mlpublish.catalog.openmetadata.errors import (
    AuthRejected,
    Forbidden,
    Misconfigured,
    Outage,
    Rejected,
    VersionMismatch,
    classify,
    classify_connect,
    settings_error,
)


class APIError(Exception):
    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class HtmlResponseError(Exception):
    pass


class RestTransportError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (APIError("nope", 503), Outage),
        (APIError("bad field", 400), Rejected),
        (APIError("missing", 404), Rejected),
        (APIError("token", 401), AuthRejected),
        (APIError("forbidden", 403), Forbidden),  # the bot's role, not the token (a kind of AuthRejected)
        (RuntimeError("Error 502 from the proxy"), Outage),  # status named in the message only
        (RestTransportError("connection refused"), Outage),
        (HtmlResponseError("<html>"), Misconfigured),
        (ValueError("something else"), Rejected),
    ],
)
def test_failures_are_classified_by_status_then_kind(exc: Exception, kind: type) -> None:
    assert type(classify(exc, "table t")) is kind


def test_a_classified_failure_names_what_failed_and_hides_secrets() -> None:
    err = classify(APIError("refused Bearer abc.def.ghi", 400), "mlmodel models.m")
    assert str(err).startswith("mlmodel models.m: HTTP 400 APIError: ")
    assert "abc.def.ghi" not in str(err)
    auth = classify(APIError("Bearer abc.def.ghi", 401), "table t")
    assert str(auth) == "table t: HTTP 401: the server refused the JWT token"


def test_failing_to_connect_is_never_an_events_fault() -> None:
    assert type(classify_connect(ValueError("bad URL"), "http://h/api")) is Misconfigured
    assert type(classify_connect(RestTransportError("down"), "http://h/api")) is Outage


def test_settings_errors_say_what_to_check() -> None:
    assert "OPENMETADATA_JWT_TOKEN" in str(settings_error("http://h/api", AuthRejected("x"), 3))
    wrong = str(settings_error("http://h/api", Misconfigured("x"), 3))
    assert "OPENMETADATA_HOST_PORT" in wrong and "3 event(s) stay queued" in wrong


class VersionMismatchException(Exception):
    pass


def test_a_403_is_not_a_bad_token_and_says_which_operation() -> None:
    err = classify(APIError("Principal: CatalogPrincipal{name='bot'} operations [Create] not allowed", 403), "t")
    assert isinstance(err, Forbidden) and "operations [Create] not allowed" in str(err)
    text = str(settings_error("http://h/api", err, 2))
    assert "lacks a permission" in text and "JWT" not in text and "2 event(s) stay queued" in text


def test_a_version_mismatch_says_both_versions() -> None:
    err = classify(VersionMismatchException("Server version is 2.0.7 vs. Client version 1.9.2."), "connecting")
    assert isinstance(err, VersionMismatch)
    text = str(settings_error("http://h/api", err, 0))
    assert "2.0.7" in text and "1.9.2" in text and "installed SDK: openmetadata-ingestion" in text
    assert "OPENMETADATA_HOST_PORT" not in text  # the address is right: the versions are not
