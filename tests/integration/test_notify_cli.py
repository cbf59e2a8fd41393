"""The CLI notifies once per event to a local HTTP receiver and SMTP server:
publish (gate PASSED, PROMOTED), a FAILED gate (one notification, a dead Slack receiver changes no exit
code), manual promote and rollback. No secret reaches a payload, an email or a log line.

The tracking store is SQLite (a real MLflow server made this test 2 minutes long): links are then the
commands that show the run; the http(s) link formulas are checked exactly in tests/unit/notify/test_render.py."""

from __future__ import annotations

import json
import logging

import pytest

from mlpublish.cli import EXIT_OK, EXIT_REJECTED, main
from mlpublish.demo.data import build_demo_warehouse
from mlpublish.results import ChainResult
from tests.conftest import churn_dict, write_spec
from tests.integration.test_notify_delivery import HOOK_TOKEN, PASSWORD, SLACK_PATH, assert_no_secret, env_for
from tests.support.notify_receivers import HttpReceiver, SmtpReceiver, body_text, free_port

pytestmark = pytest.mark.integration
NAME = "customer_churn_predictor"


def publish(capsys, spec, *extra: str) -> tuple[int, ChainResult]:
    code = main(["-q", "run", str(spec), "--json", *extra])
    out = capsys.readouterr().out
    return code, ChainResult.model_validate(json.loads(out))


def hooks(http: HttpReceiver) -> list[dict]:
    return [r["json"] for r in http.received("/hook")]


def test_cli_notifications(workspace, monkeypatch, capsys, caplog):
    caplog.set_level(logging.INFO, logger="mlpublish")
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        for key, value in env_for(http, smtp).items():
            monkeypatch.setenv(key, value)
        spec = write_spec(workspace.root / "churn.yaml", churn_dict())

        # 1. publish: gate PASSED, then PROMOTED; each to every sink, once
        code, first = publish(capsys, spec, "--pipeline-name", "nightly", "--pipeline-run-id", "42")
        assert code == EXIT_OK and first.promotion.promoted
        gate, promotion = hooks(http)
        assert (gate["event"], gate["outcome"], promotion["event"], promotion["outcome"]) == (
            "gate",
            "PASSED",
            "promotion",
            "PROMOTED",
        )
        assert gate["source"] == {"orchestrator": "cli", "name": "nightly", "run_id": "42"}
        metrics = first.evaluation.metrics
        assert {r["metric"]: r["candidate"] for r in gate["metrics"]} == metrics  # every metric, exact values
        assert all(r["champion"] is None for r in gate["metrics"]) and gate["champion_label"] == "champion (none yet)"
        assert [c["name"] for c in gate["checks"]] == [c.name for c in first.validation.checks]
        run_id = first.training.run_id
        links = {link["label"]: link["url"] or link["command"] for link in promotion["links"]}
        assert links == {
            "MLflow run": f"mlflow runs describe --run-id {run_id}",
            "Catalog entity": f"mlpublish catalog show mlflow-local.{NAME}",
        }  # a database URI is no page
        assert promotion["version"] == "1" and promotion["champion_after"] == "1"
        assert len(http.received("/services/")) == 2
        mails = smtp.wait_for(2)
        assert [m["message"]["Subject"] for m in mails] == [
            f"[mlpublish] {NAME}: candidate run {run_id} PASSED validation",
            f"[mlpublish] {NAME}: v1 is champion",
        ]
        text, html = body_text(mails[0]["message"])
        assert all(m in text and m in html for m in metrics)

        # 2. a FAILED gate: one notification; a dead Slack receiver is retried, warned about, and changes nothing
        monkeypatch.setenv("MLPUBLISH_NOTIFY_SLACK_URL", f"http://127.0.0.1:{free_port()}{SLACK_PATH}")
        strict = churn_dict()
        strict["validation"]["gates"] = [{"metric": "roc_auc", "min": 0.999}]
        code, failed = publish(capsys, write_spec(workspace.root / "strict.yaml", strict))
        assert code == EXIT_REJECTED and failed.validation.status == "FAILED"
        [rejected] = hooks(http)[2:]
        assert (rejected["event"], rejected["outcome"]) == ("gate", "FAILED")
        assert rejected["champion_label"] == "champion v1"
        assert {r["metric"] for r in rejected["metrics"]} == set(failed.evaluation.metrics)
        assert [c["outcome"] for c in rejected["checks"] if c["name"] == "roc_auc min 0.999"] == ["fail"]
        warning = [
            r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "NOT sent" in r.getMessage()
        ]
        assert len(warning) == 1 and warning[0].startswith(
            f"notification gate FAILED for {NAME} NOT sent to slack sink http://127.0.0.1:"
        )
        assert "/*** after 3 attempt(s): OSError: cannot reach" in warning[0]
        monkeypatch.setenv("MLPUBLISH_NOTIFY_SLACK_URL", http.url(SLACK_PATH))

        # 3. manual mode: the chain notifies the gate only; `mlpublish promote` notifies the promotion
        # (on fresh rows: the same rows again would reproduce the champion, NOTHING NEW, and notify nothing)
        build_demo_warehouse(workspace.warehouse_url, customers=800, seed=11, append=True)
        code, second = publish(
            capsys, write_spec(workspace.root / "manual.yaml", churn_dict(promotion={"mode": "manual"}))
        )
        assert code == EXIT_OK and second.registration.version == "2" and not second.promotion.promoted
        assert [(h["event"], h["outcome"]) for h in hooks(http)[3:]] == [("gate", "PASSED")]
        assert main(["-q", "promote", NAME, "--version", "2"]) == EXIT_OK
        [manual] = hooks(http)[4:]
        assert (manual["event"], manual["outcome"], manual["version"], manual["champion_before"]) == (
            "promotion",
            "PROMOTED",
            "2",
            "1",
        )
        assert (manual["candidate_label"], manual["champion_label"]) == ("v2 (candidate)", "v1 (champion before)")
        assert {r["metric"] for r in manual["metrics"]} == set(second.evaluation.metrics)
        assert all(r["champion"] is not None for r in manual["metrics"])

        # 4. rollback
        assert main(["-q", "rollback", NAME]) == EXIT_OK
        [rollback] = hooks(http)[5:]
        assert (rollback["event"], rollback["outcome"], rollback["champion_before"], rollback["champion_after"]) == (
            "rollback",
            "ROLLED_BACK",
            "2",
            "1",
        )
        assert rollback["run_id"] == run_id  # v1's run
        assert len(http.received("/services/")) == 6 - 1  # the dead receiver's one is missing
        assert len(smtp.wait_for(6)) == 6
        every = [r["raw"] for r in http.requests] + [m["raw"] for m in smtp.messages]
    out = capsys.readouterr()
    assert_no_secret(*every, caplog.text, out.out, out.err)
    assert any(HOOK_TOKEN in r["headers"].get("Authorization", "") for r in http.requests)  # sent, but only as a header
    assert smtp.logins and all(p == PASSWORD for _, p in smtp.logins)
