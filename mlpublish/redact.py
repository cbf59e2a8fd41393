"""Keep secrets out of messages and logs: credentials in URLs, tokens in headers."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

# scheme://user:password@host -> scheme://user:***@host ; also ?password=... / token=... query values
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+:)(?P<secret>[^\s@/]+)@")
_QUERY_SECRETS = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd|token|secret|api_key|apikey|access_token)=)[^&\s]+", re.I
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*", re.I)


def scrub(text: str) -> str:
    """``text`` with URL passwords, secret query parameters and bearer tokens masked."""
    text = _URL_CREDENTIALS.sub(r"\g<head>***@", text)
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
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or ""
        user = parts.username or ""
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
