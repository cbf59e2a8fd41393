"""A notification as plain text, HTML (email), Slack incoming-webhook JSON and the generic JSON.

The generic JSON is ``Notification.to_json()`` (schema ``mlpublish.notification/v1``, see README).
Slack: ``text`` (the fallback shown in notifications) plus ``blocks``; Slack limits a header to
150 characters and a section to 3000, so long parts are cut, never dropped silently (``…``).
"""

from __future__ import annotations

import html
from typing import Any

from mlpublish.notify.message import Notification

_ICON = {
    "PASSED": ":white_check_mark:",
    "FAILED": ":x:",
    "PROMOTED": ":trophy:",
    "NOT_PROMOTED": ":no_entry:",
    "ROLLED_BACK": ":rewind:",
}


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table_rows(n: Notification) -> list[list[str]]:
    head = ["metric", n.candidate_label, n.champion_label, "delta", ""]
    rows = [
        [
            r.metric,
            _num(r.candidate),
            _num(r.champion),
            "-" if r.delta is None else f"{r.delta:+.4f}",
            {True: "better", False: "worse", None: ""}[r.candidate_better],
        ]
        for r in n.metrics
    ]
    return [head, *rows]


def table_text(n: Notification) -> str:
    rows = table_rows(n)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _link_text(link: Any) -> str:
    return f"{link.label}: {link.url or link.command}"


def text(n: Notification) -> str:
    lines = [n.title, "", n.summary, ""]
    if n.metrics:
        lines += [table_text(n), ""]
    if n.checks:
        lines += ["checks:"] + [f"  {c.outcome.upper():7} {c.name}: {c.detail}" for c in n.checks] + [""]
    lines += [_link_text(link) for link in n.links]
    src = n.source
    lines += [
        "",
        f"sent by mlpublish ({src.orchestrator}{' ' + src.name if src.name else ''}"
        f"{' run ' + src.run_id if src.run_id else ''}) at {n.at}",
    ]
    return "\n".join(lines)


def html_body(n: Notification) -> str:
    e = html.escape
    parts = [f"<h2>{e(n.title)}</h2>", f"<p>{e(n.summary)}</p>"]
    if n.metrics:
        head, *rows = table_rows(n)
        parts.append(
            '<table border="1" cellpadding="4" cellspacing="0"><tr>'
            + "".join(f"<th>{e(h)}</th>" for h in head)
            + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>"
        )
    if n.checks:
        parts.append(
            "<ul>"
            + "".join(f"<li><b>{e(c.outcome.upper())}</b> {e(c.name)}: {e(c.detail)}</li>" for c in n.checks)
            + "</ul>"
        )
    items = []
    for link in n.links:
        items.append(
            f'<li><a href="{e(link.url)}">{e(link.label)}</a></li>'
            if link.url
            else f"<li>{e(link.label)}: <code>{e(link.command or '')}</code></li>"
        )
    parts.append("<ul>" + "".join(items) + "</ul>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def slack_payload(n: Notification) -> dict[str, Any]:
    icon = _ICON.get(n.outcome, "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(n.title, 150)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(
                    f"{icon} *{n.outcome}* {n.summary}"
                    if not n.summary.startswith(n.outcome)
                    else f"{icon} {n.summary}",
                    3000,
                ),
            },
        },
    ]
    if n.metrics:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"```{table_text(n)}```", 3000)}})
    shown = n.failed_checks if n.outcome == "FAILED" else n.checks
    if shown:
        lines = "\n".join(f"• *{c.outcome.upper()}* {c.name}: {c.detail}" for c in shown)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(lines, 3000)}})
    links = " | ".join(
        f"<{link.url}|{link.label}>" if link.url else f"{link.label}: `{link.command}`" for link in n.links
    )
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(links, 3000)}]})
    return {"text": f"{icon} {n.title}".strip(), "blocks": blocks}


def webhook_payload(n: Notification) -> dict[str, Any]:
    return n.to_json()
