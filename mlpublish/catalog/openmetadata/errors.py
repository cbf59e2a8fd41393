"""What a failed call to OpenMetadata means, and so what happens to the event that made it.

* ``Outage`` (unreachable, timed out, 5xx): the event stays queued and is delivered later.
* ``Rejected`` (any other 4xx, or a rule of ours such as a missing table we may not create): the event is
  at fault; it is dead-lettered with the entity and field named, never retried by itself.
* ``AuthRejected`` (401: the token), ``Forbidden`` (403: the bot's role lacks a permission) and
  ``Misconfigured`` (not the API; ``VersionMismatch``: SDK and server versions differ): our settings are
  at fault, no event is; everything stays queued and the step is told what to check.
"""

from __future__ import annotations

import re

from mlpublish.errors import CatalogUnavailable
from mlpublish.redact import scrub


class Outage(Exception):
    """Unreachable, timed out or 5xx: try again later."""


class AuthRejected(Exception):
    """401: our credentials, not the event, are at fault."""


class Forbidden(AuthRejected):
    """403: the token is good, but the bot's role may not do this operation."""


class Misconfigured(Exception):
    """The address or the server itself is wrong (not the API, version mismatch): no event is at fault."""


class VersionMismatch(Misconfigured):
    """The SDK's major.minor differs from the server's."""


class Rejected(Exception):
    """4xx (or a rule of ours, like a missing table we may not create): the event is at fault."""


class SettingsRefused(CatalogUnavailable):
    """The server refused our settings while events wait: ``cause`` is the kind (``AuthRejected``,
    ``Forbidden``, ``Misconfigured``, ``VersionMismatch``); ``refused`` is true for a token or role (401/403),
    which an operator can fix on the server while the relay waits."""

    def __init__(self, message: str, cause: Exception):
        super().__init__(message)
        self.cause = type(cause).__name__
        self.refused = isinstance(cause, AuthRejected)


FAILURE_KINDS = (Outage, AuthRejected, Misconfigured, Rejected)
# SDK and transport exception names (matched by name: the SDK is imported lazily, and only where it is called)
_WRONG_SERVER = {"HtmlResponseError"}
_TRANSIENT = {
    "RestTransportError",
    "ConnectionError",
    "Timeout",
    "VersionNotFoundException",
    "RetryException",
    "EmptyPayloadException",
}


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK exception (attribute of it or its cause, else named in its message)."""
    for e in (exc, exc.__cause__, exc.__context__):
        status = getattr(e, "status_code", None)
        if isinstance(status, int):
            return status
    m = re.search(r"\b(?:Error|HTTP) (\d{3})\b", str(exc))
    return int(m.group(1)) if m else None


def classify(exc: BaseException, what: str) -> Exception:
    """The SDK's exception for ``what`` (entity and action) as Outage, AuthRejected, Misconfigured or Rejected."""
    if isinstance(exc, FAILURE_KINDS):
        return exc
    status = status_of(exc)
    kinds = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    text = scrub(f"{what}: {f'HTTP {status} ' if status else ''}{exc.__class__.__name__}: {exc}")
    if status == 401:
        return AuthRejected(f"{what}: HTTP 401: the server refused the JWT token")
    if status == 403:
        return Forbidden(f"{what}: HTTP 403: {scrub(str(exc))}")
    if "VersionMismatchException" in kinds:
        return VersionMismatch(f"{scrub(str(exc))} (installed SDK: openmetadata-ingestion {sdk_version()})")
    if kinds & _WRONG_SERVER:
        return Misconfigured(text)
    if status is not None and 400 <= status < 500:
        return Rejected(text)
    if status is not None or kinds & _TRANSIENT:
        return Outage(text)
    return Rejected(text)


def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openmetadata-ingestion")
    except PackageNotFoundError:  # pragma: no cover - the extra is installed wherever this runs
        return "not installed"


def classify_connect(exc: BaseException, host_port: str) -> Exception:
    """Like ``classify``, for a failure to open the client: never an event's fault, so never ``Rejected``."""
    err = classify(exc, f"connecting to {host_port}")
    return Misconfigured(str(err)) if isinstance(err, Rejected) else err


def settings_error(host_port: str, exc: AuthRejected | Misconfigured, queued: int) -> SettingsRefused:
    """What the user must fix when the server refuses our settings, while ``queued`` events wait."""
    return SettingsRefused(_settings_message(host_port, exc, queued), exc)


def _settings_message(host_port: str, exc: AuthRejected | Misconfigured, queued: int) -> str:
    if isinstance(exc, Forbidden):
        return (
            f"OpenMetadata at {host_port} accepted the token but refused an operation: the bot's role lacks a "
            f"permission (grant it to the bot's role, then run `mlpublish catalog sync`): {exc}; "
            f"{queued} event(s) stay queued"
        )
    if isinstance(exc, VersionMismatch):
        return (
            f"OpenMetadata at {host_port}: the server and the SDK versions differ: {exc}; {queued} event(s) stay queued"
        )
    if isinstance(exc, AuthRejected):
        return (
            f"OpenMetadata at {host_port} refused the JWT token (check OPENMETADATA_JWT_TOKEN or "
            f"the connection's token; it is not shown here): {exc}; {queued} event(s) stay queued"
        )
    return (
        f"OpenMetadata at {host_port} cannot be used ({exc}); check OPENMETADATA_HOST_PORT "
        f"(the API, e.g. http://host:8585/api); {queued} event(s) stay queued"
    )
