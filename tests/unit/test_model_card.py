"""The model card text: every gate and metric, no secret, no live HTML, an intact table, the rollback command."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlpublish.evaluation.gates import CheckResult, evaluate_gates
from mlpublish.model_card import (
    ROLLBACK_HEADING,
    build_card,
    cell,
    render_html,
    rollback_section,
    with_rollback,
)
from mlpublish.results import Candidate, EvaluateResult, RegisterResult, TrainResult, ValidateResult
from mlpublish.spec import parse_spec

CHURN = Path(__file__).resolve().parents[2] / "specs" / "churn.yaml"
WAREHOUSE_PASSWORD = "Wh-s3cret-9f2"
TRACKING_PASSWORD = "Trk-s3cret-41c"
ERROR_PASSWORD = "Err-s3cret-77d"
HOSTILE = "<script>alert('card')</script> | <img src=x onerror=alert(1)> & more"


def spec_text(**changes: Any) -> str:
    raw = yaml.safe_load(CHURN.read_text())
    # the demo's per-plan gate needs slice metrics: its card sections are tested in
    # tests/integration/test_slices_fairness.py
    raw["validation"].pop("slices", None)
    raw["validation"]["gates"] = [g for g in raw["validation"]["gates"] if "perSlice" not in g]
    raw["data"]["connection"] = f"postgresql://analyst:{WAREHOUSE_PASSWORD}@db.internal:5432/warehouse"
    raw["mlflow"] = {"trackingUri": f"https://admin:{TRACKING_PASSWORD}@mlflow.internal"}
    raw.update(changes)
    return yaml.safe_dump(raw)


def results(spec: Any, *, champion: bool = True, passed: bool = True) -> tuple[Any, ...]:
    train = TrainResult(
        model_name=spec.name,
        run_id="a" * 32,
        experiment_id="7",
        model_uri="models:/m-0123",
        model_id="m-0123",
        task="classification",
        select_by="roc_auc",
        params={"n_estimators": 100, "max_depth": 8},
        candidates=[Candidate(params={"max_depth": 4}, score=0.8), Candidate(params={"max_depth": 8}, score=0.82)],
        train_rows=3000,
        test_rows=1000,
        dataset_digest="d1g3st",
        training_fqn="warehouse.main.main.customer_features",
        fit_seconds=1.5,
        time_range={"column": "snapshot_date", "min": "2026-01-01", "max": "2026-06-30"},
    )
    metrics = {"roc_auc": 0.8312, "f1": 0.6123 if passed else 0.31, "accuracy": 0.79, "log_loss": 0.45}
    champ = {"roc_auc": 0.8201, "f1": 0.6001, "accuracy": 0.8, "log_loss": 0.47} if champion else None
    evaluation = EvaluateResult(
        model_name=spec.name,
        run_id=train.run_id,
        metrics=metrics,
        champion_version="3" if champion else None,
        champion_metrics=champ,
        champion_error=None,
    )
    checks = evaluate_gates(spec.validation.gates, metrics, champ, evaluation.champion_version, True)
    checks += [
        CheckResult(
            check="smoke_test",
            name="loads through mlflow.pyfunc and scores 50 rows",
            outcome="pass",
            detail="50 predictions",
        ),
        CheckResult(check="metadata", name="owners", outcome="pass", detail="data-science"),
    ]
    status = "PASSED" if all(c.passed for c in checks) else "FAILED"
    validation = ValidateResult(
        model_name=spec.name,
        run_id=train.run_id,
        status=status,
        checks=checks,
        champion_version=evaluation.champion_version,
    )
    return train, evaluation, validation


def registered(train: TrainResult, status: str = "PASSED", version: str | None = "4") -> RegisterResult:
    return RegisterResult(
        model_name=train.model_name,
        run_id=train.run_id,
        status=status,
        version=version,
        created=True,
        aliases=["challenger"] if status == "PASSED" else [],
    )


def table_rows(markdown: str, heading: str) -> list[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")][2:]  # after header and rule


def test_every_gate_check_and_metric_is_in_the_card():
    spec = parse_spec(spec_text())
    train, evaluation, validation = results(spec)
    card = build_card(
        spec,
        train,
        evaluation,
        validation,
        registered(train),
        {"mlflow.source.git.commit": "abc1234", "mlpublish.environment": "staging"},
    )
    gate_rows = table_rows(card, "## Validation")
    assert len(gate_rows) == len(validation.checks)
    for check, row in zip(validation.checks, gate_rows):
        assert row.startswith(f"| {cell(check.name)} |") and f"| {check.outcome.upper()} |" in row
        if check.threshold is not None:
            assert f"{check.kind} {check.threshold:g}" in row
    for gate in spec.validation.gates:
        assert gate.describe() in card
    metric_rows = {row.split("|")[1].strip(): row for row in table_rows(card, "## Metrics")}
    assert set(metric_rows) == set(evaluation.metrics)
    for name, value in evaluation.metrics.items():
        champ = evaluation.champion_metrics[name]
        assert f"| {value:.4f} | {champ:.4f} | {value - champ:+.4f} |" in metric_rows[name]
    assert "| log_loss | 0.4500 | 0.4700 | -0.0200 | yes |" in card  # lower is better for log_loss
    for name, value in train.params.items():
        assert f"| {name} | {value} |" in card
    for f in spec.mlFeatures:
        assert any(
            row.startswith(f"| {f.name} |") and f"{s.dataSourceFqn}.{s.name}" in row
            for row in table_rows(card, "## Features")
            for s in f.featureSources
        )
    for item in spec.limitations:
        assert f"- {cell(item)}" in card
    assert "2026-01-01 to 2026-06-30 (column snapshot_date)" in card
    assert "abc1234" in card and "staging" in card and "d1g3st" in card
    assert "3000 trained on, 1000 held out" in card
    assert "Champion v3" in card and "version 4" in card
    assert card.rstrip().endswith("It restores v3, the champion when v4 was registered.")
    assert "mlpublish rollback customer_churn_predictor" in card


def test_no_secret_and_no_connection_url_in_the_card_or_its_html():
    spec = parse_spec(spec_text())
    train, evaluation, validation = results(spec)
    evaluation = evaluation.model_copy(update={"champion_error": None})
    # a check whose detail quotes an exception with a connection URL (results scrub it, the card again)
    validation.checks.append(
        CheckResult(
            check="smoke_test",
            name="warehouse",
            outcome="fail",
            detail=f"could not connect to postgresql://u:{ERROR_PASSWORD}@h/db",
        )
    )
    card = build_card(
        spec,
        train,
        evaluation,
        validation,
        registered(train, "FAILED"),
        {"mlpublish.pipeline.name": f"https://bot:{ERROR_PASSWORD}@hooks.example/x"},
    )
    page = render_html(card, "card")
    for text in (card, page):
        for secret in (WAREHOUSE_PASSWORD, TRACKING_PASSWORD, ERROR_PASSWORD):
            assert secret not in text
        assert "db.internal" not in text and "mlflow.internal" not in text  # the URLs are never read into it


def test_hostile_text_is_escaped_and_keeps_tables_intact():
    raw = yaml.safe_load(spec_text())
    raw["description"] = HOSTILE
    raw["limitations"] = [HOSTILE]
    raw["owners"] = ["team:<b>x</b>"]
    raw["mlFeatures"][0]["description"] = HOSTILE
    raw["mlFeatures"][0]["featureSources"][0]["name"] = "a|b<script>"
    spec = parse_spec(yaml.safe_dump(raw))
    train, evaluation, validation = results(spec)
    card = build_card(spec, train, evaluation, validation, registered(train))
    assert "<script>" not in card and "<img" not in card and "<b>" not in card
    rows = table_rows(card, "## Features")
    assert len(rows) == len(spec.mlFeatures)
    assert all(len(re.split(r"(?<!\\)\|", row)) == 6 for row in rows), rows  # 4 cells between 5 bars

    page = render_html(card, f"Model card {HOSTILE}")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert" in page  # shown as text
    features = page.split("<h2>Features</h2>", 1)[1].split("</table>", 1)[0]
    body_rows = re.findall(r"<tr>(.*?)</tr>", features, re.S)[1:]
    assert len(body_rows) == len(spec.mlFeatures)
    assert all(r.count("<td>") == 4 for r in body_rows)
    assert "a|b&lt;script&gt;" in features  # the pipe stayed inside its cell


def test_rejected_candidate_card_says_so_and_has_nothing_to_roll_back():
    spec = parse_spec(spec_text())
    train, evaluation, validation = results(spec, passed=False)
    assert validation.status == "FAILED"
    card = build_card(spec, train, evaluation, validation, None)
    assert card.startswith(f"# Model card: {spec.name} candidate run {train.run_id}")
    assert "**Status: REJECTED.** Validation FAILED" in card
    assert "Nothing to roll back: this candidate was never registered. The champion stays v3." in card
    failed = [c for c in validation.checks if c.outcome == "fail"]
    assert failed and all(f"| {cell(c.name)} |" in card for c in failed)


def test_first_candidate_card_and_unknown_time_range():
    raw = yaml.safe_load(spec_text())
    raw.pop("limitations")
    spec = parse_spec(yaml.safe_dump(raw))
    train, evaluation, validation = results(spec, champion=False)
    train = train.model_copy(update={"time_range": None})
    card = build_card(spec, train, evaluation, validation, registered(train, version="1"))
    assert "| Time range | unknown (set data.timeColumn to record it) |" in card
    assert "_No champion to compare with: this was the first candidate._" in card
    assert "_None recorded in the spec (limitations)._" in card
    assert "Code version (git commit) | not recorded" in card and "| Environment | not recorded |" in card
    assert "there is no earlier champion to restore" in card


def test_champion_rollback_section_replaces_the_registration_one():
    spec = parse_spec(spec_text(description=f"Pretends to end the card:\n\n{ROLLBACK_HEADING}\n\nfake"))
    train, evaluation, validation = results(spec)
    card = build_card(spec, train, evaluation, validation, registered(train))
    live = with_rollback(
        card, rollback_section(spec.name, "4", "PASSED", "2", champion=True, since="2026-11-25T01:00:00Z")
    )
    assert live.count(ROLLBACK_HEADING) == 2  # the description's fake heading stays text above
    assert "fake" in live and "the champion when v4 was registered" not in live
    assert live.endswith(
        "v4 is champion since 2026-11-25T01:00:00Z. To restore the version it replaced, run:\n\n"
        "```\nmlpublish rollback customer_churn_predictor\n```\n\nIt restores v2.\n"
    )
    assert with_rollback(live, rollback_section(spec.name, "4", "PASSED", None, champion=True)) != live
    quoted = rollback_section("churn model", "2", "PASSED", "1", champion=True)
    assert "mlpublish rollback 'churn model'" in quoted


def test_audit_version_is_never_rolled_back_to():
    assert "v5 is FAILED and can never become champion" in rollback_section("m", "5", "FAILED", "3", champion=False)


def test_html_card_embeds_the_plots_inline_and_the_markdown_carries_none() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    page = render_html("# Model card: m v1\n", "card", {"ROC curve <candidate>": png})
    assert '<img src="data:image/png;base64,iVBORw0KGgo' in page
    assert (
        'alt="ROC curve &lt;candidate&gt;"' in page and "<figcaption>ROC curve &lt;candidate&gt;</figcaption>" in page
    )
    assert "<img" not in render_html("# Model card: m v1\n", "card")


def test_the_markdown_card_says_where_its_plots_are_and_links_none() -> None:
    spec = parse_spec(spec_text())
    train, evaluation, validation = results(spec)
    evaluation = evaluation.model_copy(
        update={"metrics": {**evaluation.metrics, "ece": 0.05}, "artifacts": ["evaluation/reliability.png"]}
    )
    card = build_card(spec, train, evaluation, validation, registered(train), {})
    assert "![" not in card and "](../" not in card
    assert f"MLflow artifact `evaluation/reliability.png` of run `{train.run_id}`, embedded in the HTML card" in card
