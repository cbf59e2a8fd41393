"""Keep secrets out of messages and logs: credentials in URLs, tokens in headers, and the secrets mlpublish holds.

Two nets. By shape: a URL's password (its userinfo is everything before the LAST ``@`` of the authority, so a
password may hold ``/`` or ``@``), ``?password=``/``?token=`` query values, ``Bearer``/``Basic`` tokens. By value:
the credentials mlpublish itself holds (the variables in :data:`SECRET_ENV_VARS`, the passwords of the URLs in
:data:`SECRET_URL_ENV_VARS`, and every value given to :func:`register_secret`: the warehouse URL's password,
MLflow and OpenMetadata credentials, notification passwords and tokens) are masked wherever they appear
verbatim, in any text. Values shorter than :data:`MIN_SECRET_LENGTH` are not matched by value (masking every
``abc`` would mangle messages); the shape rules still catch them in URLs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import unquote, urlsplit

MIN_SECRET_LENGTH = 12  # "postgres" or "production" as a password must not mask every "postgresql://"
MASK = "***"

# Variables whose whole value is a secret, and variables holding URLs whose password is one (read at each scrub:
# the MLflow session sets its credentials only while a step runs). All are documented where they are read.
SECRET_ENV_VARS = (
    "OPENMETADATA_JWT_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLPUBLISH_NOTIFY_SMTP_PASSWORD",
    "MLPUBLISH_NOTIFY_WEBHOOK_TOKEN",
)
SECRET_URL_ENV_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLPUBLISH_NOTIFY_SLACK_URL",
    "MLPUBLISH_NOTIFY_WEBHOOK_URL",
)

_URL_START = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://")
_URL_SPAN = re.compile(r"[^\s\"'<>`]*")
_QUERY_SECRETS = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd|token|secret|api_key|apikey|access_token)=)[^&\s]+", re.I
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*", re.I)

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its URL-decoded form) wherever it appears in scrubbed text from now on."""
    if not value:
        return
    with _lock:
        for form in {value, unquote(value)}:
            if len(form) >= MIN_SECRET_LENGTH:
                _registered.add(form)


def register_url_secrets(url: str | None) -> None:
    """Register the password of ``url`` (a warehouse's, an MLflow server's); for a webhook, its path (Slack's
    token) too when ``path`` is meant to be secret: see :func:`url_secrets`."""
    for value in url_secrets(url, path=False):
        register_secret(value)


def url_secrets(url: str | None, *, path: bool) -> list[str]:
    """The secret parts of ``url``: its password, and with ``path`` its path and each of the path's parts (a
    webhook's token; the length guard of :func:`known_secrets` drops the short parts)."""
    if not url or "://" not in url:
        return []
    out = []
    rest = url.split("://", 1)[1]
    at = userinfo_end(rest)
    if at > 0 and ":" in rest[:at]:
        out.append(rest[:at].split(":", 1)[1])
    if path:
        try:
            whole = urlsplit(url).path.strip("/")
            out += [whole, *whole.split("/")]
        except ValueError:
            pass
    return [v for v in out if v]


def known_secrets() -> list[str]:
    """Every secret value masked by value right now, longest first (so a longer one is never half-masked)."""
    with _lock:
        values = set(_registered)
    for name in SECRET_ENV_VARS:
        value = os.environ.get(name)
        if value and len(value.strip()) >= MIN_SECRET_LENGTH:
            values.add(value.strip())
    for name in SECRET_URL_ENV_VARS:
        webhook = name.startswith("MLPUBLISH_NOTIFY_")
        for value in url_secrets(os.environ.get(name), path=webhook):
            if len(value) >= MIN_SECRET_LENGTH:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def userinfo_end(rest: str) -> int:
    """Where the userinfo of ``rest`` (a URL after its ``scheme://``) ends: its LAST ``@`` before the query, or -1.

    A password may hold ``/`` and ``@`` (base64 ones do), so the authority is not cut at the first ``/``. What
    comes before that ``@`` is not userinfo when its user part holds a ``/`` (``host/users/@me``) or it reads as
    ``host:port/path`` (``host:8080/a@b``).
    """
    cut = min([i for i in (rest.find("?"), rest.find("#")) if i >= 0], default=len(rest))
    at = rest.rfind("@", 0, cut)
    if at <= 0:
        return -1
    user, sep, password = rest[:at].partition(":")
    if "/" in user or (sep and "/" in password and password.split("/", 1)[0].isdigit()):
        return -1
    return at


def _scrub_urls(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host``, the userinfo ending at the authority's last @."""
    out, pos = [], 0
    for match in _URL_START.finditer(text):
        start = match.end()
        if match.start() < pos:
            continue
        span = _URL_SPAN.match(text, start).group(0)
        at = userinfo_end(span)
        user, sep, _ = span[: max(at, 0)].partition(":")
        if at < 0 or not sep:
            continue
        out.append(text[pos:start] + f"{user}:{MASK}")
        pos = start + at
    out.append(text[pos:])
    return "".join(out)


def scrub(text: str) -> str:
    """``text`` with the secrets mlpublish holds, URL passwords, secret query parameters and bearer tokens masked."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    text = _scrub_urls(text)
    text = _QUERY_SECRETS.sub(r"\g<head>***", text)
    return _BEARER.sub(r"\g<head>***", text)


def redact_url(url: str, *, database: bool = False) -> str:
    """A URL (a warehouse's, a webhook's) as messages and logs may show it; never its password or query.

    By default only ``scheme://host[:port]/***`` is kept: the user, the path (a webhook's is its token) and
    the query (``?password=``, ``?token=``) never show. ``database=True`` is for database URLs, whose user
    and path (the database, a SQLite file) are what an error about them must name:
    ``scheme://user@host:port/database``, still without password or query. Never raises: what does not
    parse as a URL shows nothing that could be a secret.
    """
    try:
        scheme, sep, rest = url.partition("://")
        at = userinfo_end(rest) if sep else -1
        # the userinfo ends at the authority's LAST @: urlsplit would end it at a / of the password
        parts = urlsplit(f"{scheme}://{rest[at + 1 :]}" if at >= 0 else url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or ""
        user = rest[:at].partition(":")[0] if at >= 0 else (parts.username or "")
    except Exception:  # not a URL at all (or a port that is not a number)
        return "<unparseable URL>"
    if not parts.scheme:
        return "<unparseable URL>"
    if ":" in host:  # IPv6: the brackets keep the port apart
        host = f"[{host}]"
    if not database:
        return f"{parts.scheme}://{host}{port}/***"
    return f"{parts.scheme}://{user + '@' if user else ''}{host}{port}{parts.path}"


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs every record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
