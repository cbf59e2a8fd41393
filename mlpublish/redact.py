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


def redact_url(url: str) -> str:
    """``scheme://host[:port]/***``: a URL (a warehouse's, a webhook's) as messages and logs may show it.

    Only the scheme, host and port are kept: the user and password, the path (a webhook's is its token) and
    the query (``?password=``, ``?token=``) never show. A file URL has no host (``sqlite:///***``). Never
    raises: what does not parse as a URL shows nothing that could be a secret.
    """
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname or ""
    except Exception:  # not a URL at all (or a port that is not a number)
        return "<unparseable URL>"
    if not parts.scheme:
        return "<unparseable URL>"
    if ":" in host:  # IPv6: the brackets keep the port apart
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}/***"


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
