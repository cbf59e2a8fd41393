"""Keep secrets out of messages and logs: credentials in URLs, tokens in headers."""

from __future__ import annotations

import logging
import re

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
