"""Where notifications go: sinks with a ``kind`` (``slack``, ``webhook``, ``smtp``) built from settings.

Delivery never raises: each sink gets ``1 + retries`` attempts with doubling delays, a failing
sink does not hold back the others, and the final failure is one logged warning naming the
sink's kind and its REDACTED target (a webhook URL's path is its secret: Slack's is the token).
The settings come from the environment (``NotifySettings.from_env``); adapters may build them otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

from mlpublish.notify import render
from mlpublish.notify.message import EVENTS, Notification
from mlpublish.redact import redact_url, register_secret, scrub, url_secrets

log = logging.getLogger("mlpublish.notify")

DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 2.0
DEFAULT_TIMEOUT = 10.0
MAX_SECONDS = 300.0  # upper bound of TIMEOUT and RETRY_DELAY
MAX_BOUNDS = {"RETRIES": 10, "SMTP_PORT": 65535}
USER_AGENT = "mlpublish-notify/1"


class NotifyConfigError(ValueError):
    """A notification setting is malformed (named in the message). Reported as a warning: notifying never fails a chain."""


class PermanentFailure(Exception):
    """The receiver refused in a way a retry cannot change (HTTP 4xx except 408/429, SMTP authentication)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "none"  # none | starttls | ssl

    def __post_init__(self) -> None:  # held, so never shown (mlpublish.redact)
        register_secret(self.password)


@dataclass(frozen=True)
class NotifySettings:
    slack_url: str | None = field(default=None, repr=False)
    webhook_url: str | None = field(default=None, repr=False)
    webhook_token: str | None = field(default=None, repr=False)
    smtp: SmtpSettings | None = None
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    timeout: float = DEFAULT_TIMEOUT
    events: frozenset[str] = frozenset(EVENTS)

    def __post_init__(self) -> None:  # held, so never shown (mlpublish.redact): a webhook's path is its token
        register_secret(self.webhook_token)
        for url in (self.slack_url, self.webhook_url):
            for secret in url_secrets(url, path=True):
                register_secret(secret)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> NotifySettings:
        """The ``MLPUBLISH_NOTIFY_*`` variables (README, "Notifications"). A malformed one raises NotifyConfigError."""
        env = dict(os.environ if env is None else env)

        def get(name: str) -> str | None:
            value = env.get(f"MLPUBLISH_NOTIFY_{name}", "").strip()
            return value or None

        def number(name: str, default: float, kind: type) -> Any:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise NotifyConfigError(
                    f"MLPUBLISH_NOTIFY_{name}={raw!r}: expected {'an integer' if kind is int else 'a number'}"
                ) from None
            # a sender waits for these (the CLI, an Airflow callback, a Dagster sensor): keep them bounded
            upper = MAX_BOUNDS.get(name, MAX_SECONDS)
            if not 0 <= value <= upper:  # also refuses nan and inf
                raise NotifyConfigError(f"MLPUBLISH_NOTIFY_{name}={raw!r}: expected 0 to {upper}")
            return value

        for name in ("SLACK_URL", "WEBHOOK_URL"):
            url = get(name)
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise NotifyConfigError(
                    f"MLPUBLISH_NOTIFY_{name}: expected an http(s) URL with a host, got scheme "
                    f"{parts.scheme or 'none'!r}"
                )
            try:
                parts.port  # noqa: B018 (urllib raises ValueError for a bad port only when asked)
            except ValueError:
                raise NotifyConfigError(
                    f"MLPUBLISH_NOTIFY_{name}: the URL's port is not a number from 0 to 65535"
                ) from None
        events = frozenset(e.strip() for e in (get("EVENTS") or ",".join(EVENTS)).split(",") if e.strip())
        if not events <= set(EVENTS):
            raise NotifyConfigError(
                f"MLPUBLISH_NOTIFY_EVENTS: unknown event(s) {sorted(events - set(EVENTS))}; "
                f"expected some of {', '.join(EVENTS)}"
            )
        return cls(
            slack_url=get("SLACK_URL"),
            webhook_url=get("WEBHOOK_URL"),
            webhook_token=get("WEBHOOK_TOKEN"),
            smtp=_smtp_from_env(get, number),
            retries=int(number("RETRIES", DEFAULT_RETRIES, int)),
            retry_delay=float(number("RETRY_DELAY", DEFAULT_RETRY_DELAY, float)),
            timeout=float(number("TIMEOUT", DEFAULT_TIMEOUT, float)) or DEFAULT_TIMEOUT,
            events=events,
        )

    def sinks(self) -> list[Sink]:
        out: list[Sink] = []
        if self.slack_url:
            out.append(SlackSink(self.slack_url, self.timeout))
        if self.webhook_url:
            out.append(WebhookSink(self.webhook_url, self.timeout, self.webhook_token))
        if self.smtp:
            out.append(SmtpSink(self.smtp, self.timeout))
        return out


def _smtp_from_env(get: Any, number: Any) -> SmtpSettings | None:
    host = get("SMTP_HOST")
    if host is None:
        return None
    security = (get("SMTP_SECURITY") or "").lower()
    if security and security not in ("none", "starttls", "ssl"):
        raise NotifyConfigError(f"MLPUBLISH_NOTIFY_SMTP_SECURITY={security!r}: expected none, starttls or ssl")
    port = int(number("SMTP_PORT", {"ssl": 465, "starttls": 587}.get(security, 25), int))
    security = security or {465: "ssl", 587: "starttls"}.get(port, "none")
    recipients = tuple(r.strip() for r in (get("SMTP_TO") or "").split(",") if r.strip())
    sender = get("SMTP_FROM")
    if not recipients or not sender:
        raise NotifyConfigError(
            "MLPUBLISH_NOTIFY_SMTP_HOST is set: MLPUBLISH_NOTIFY_SMTP_FROM and "
            "MLPUBLISH_NOTIFY_SMTP_TO (comma-separated) are required too"
        )
    user, password = get("SMTP_USER"), get("SMTP_PASSWORD")
    if password and not user:
        raise NotifyConfigError("MLPUBLISH_NOTIFY_SMTP_PASSWORD is set without MLPUBLISH_NOTIFY_SMTP_USER")
    return SmtpSettings(
        host=host, port=port, sender=sender, recipients=recipients, user=user, password=password, security=security
    )


class Sink(Protocol):
    kind: str
    target: str  # redacted: safe to log

    def send(self, n: Notification) -> None: ...


def _post_json(url: str, payload: dict[str, Any], timeout: float, headers: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # HTTPError's text holds status and reason only; the URL (the secret) stays out of the message
        message = f"HTTP {exc.code} {exc.reason}"
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise PermanentFailure(message) from None
        raise OSError(message) from None
    except urllib.error.URLError as exc:
        raise OSError(f"cannot reach {redact_url(url)}: {exc.reason}") from None


class SlackSink:
    """Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...): ``text`` + ``blocks``."""

    kind = "slack"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        self._url, self.timeout, self.target = url, timeout, redact_url(url)

    def send(self, n: Notification) -> None:
        _post_json(self._url, render.slack_payload(n), self.timeout)


class WebhookSink:
    """Any HTTP endpoint: the generic JSON (``schema: mlpublish.notification/v1``); optional bearer token."""

    kind = "webhook"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, token: str | None = None):
        self._url, self._token, self.timeout, self.target = url, token, timeout, redact_url(url)

    def send(self, n: Notification) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        _post_json(self._url, render.webhook_payload(n), self.timeout, headers)


class SmtpSink:
    """Email through an SMTP relay: a text and an HTML part. Never sends a password over plain text
    to another machine: ``security: none`` with a login is accepted only for a loopback relay."""

    kind = "smtp"

    def __init__(self, settings: SmtpSettings, timeout: float = DEFAULT_TIMEOUT):
        self.settings, self.timeout = settings, timeout
        self.target = (
            f"smtp://{settings.host}:{settings.port} ({settings.security}) -> {', '.join(settings.recipients)}"
        )

    def message(self, n: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[mlpublish] {n.title}"
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.settings.recipients)
        msg.set_content(render.text(n))
        msg.add_alternative(render.html_body(n), subtype="html")
        return msg

    def send(self, n: Notification) -> None:
        s = self.settings
        if s.user and s.security == "none" and s.host not in ("localhost", "127.0.0.1", "::1"):
            raise PermanentFailure(
                f"refusing to log in to {s.host} over plain text: set MLPUBLISH_NOTIFY_SMTP_SECURITY to starttls or ssl"
            )
        context = ssl.create_default_context()
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=context)
                if s.user:
                    client.login(s.user, s.password or "")
                client.send_message(self.message(n))
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPNotSupportedError,
        ) as exc:
            raise PermanentFailure(f"{type(exc).__name__}: {exc}") from None


@dataclass
class Delivery:
    kind: str
    target: str
    sent: bool
    attempts: int
    error: str = ""


def _not_sent(n: Notification, sink: Any, attempts: int, error: str) -> Delivery:
    """A sink given up on (out of time, refused for good, or out of retries): said once, in the log."""
    log.warning(
        "notification %s %s for %s NOT sent to %s sink %s after %d attempt(s): %s",
        n.event,
        n.outcome,
        n.model,
        sink.kind,
        sink.target,
        attempts,
        error,
    )
    return Delivery(sink.kind, sink.target, False, attempts, error)


def deliver(
    n: Notification,
    sinks: list[Any],
    *,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = DEFAULT_RETRY_DELAY,
    sleep: Any = time.sleep,
    deadline: float | None = None,
) -> list[Delivery]:
    """Send ``n`` to every sink; never raises. Returns one Delivery per sink (for callers and tests).

    ``deadline`` (a ``time.monotonic()`` value): no attempt starts and no retry waits past it, so a
    caller with a time limit (a Dagster sensor tick) returns in time even when a sink hangs."""
    out = []
    for sink in sinks:
        attempt, error = 0, ""
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                error = error or "no time left for this sender (another sink was slow)"
                out.append(_not_sent(n, sink, attempt, error))
                break
            attempt += 1
            try:
                sink.send(n)
                log.info(
                    "notification %s %s for %s sent to %s sink %s", n.event, n.outcome, n.model, sink.kind, sink.target
                )
                out.append(Delivery(sink.kind, sink.target, True, attempt))
                break
            except Exception as exc:  # a notification never fails the chain
                permanent = isinstance(exc, PermanentFailure)
                error = scrub(f"{type(exc).__name__}: {exc}" if not permanent else str(exc))
                if permanent or attempt > retries:
                    out.append(_not_sent(n, sink, attempt, error))
                    break
                delay = retry_delay * 2 ** (attempt - 1)
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - time.monotonic()))
                log.info(
                    "notification to %s sink %s failed (attempt %d of %d: %s); retrying in %.1fs",
                    sink.kind,
                    sink.target,
                    attempt,
                    retries + 1,
                    error,
                    delay,
                )
                sleep(delay)
    return out


def notify(
    notifications: Notification | list[Notification],
    settings: NotifySettings | None = None,
    *,
    budget_seconds: float | None = None,
) -> list[Delivery]:
    """Send each notification to every configured sink (none configured: nothing happens). Never raises.
    ``budget_seconds`` bounds the whole call (see :func:`deliver`)."""
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    items = notifications if isinstance(notifications, list) else [notifications]
    try:
        settings = settings or NotifySettings.from_env()
    except NotifyConfigError as exc:
        log.warning("notifications not sent: %s", scrub(str(exc)))
        return []
    sinks = settings.sinks()
    out: list[Delivery] = []
    for n in items:
        if not sinks or n.event not in settings.events:
            continue
        out += deliver(n, sinks, retries=settings.retries, retry_delay=settings.retry_delay, deadline=deadline)
    return out
