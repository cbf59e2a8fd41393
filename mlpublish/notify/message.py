"""The notification: one typed value per event, built from the steps' results.

Events: ``gate`` (validation PASSED or FAILED), ``promotion`` (champion moved, or a PASSED
candidate refused), ``rollback``, ``contract`` (rows of a scoring or monitor run broke the champion's data
contract). Every text and URL in it goes through ``scrub``, and links
are built only from what is safe to show (an http(s) tracking server, the OpenMetadata UI,
an orchestrator UI); a database URI or a token never becomes a link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlpublish.evaluation.gates import CheckResult
from mlpublish.evaluation.metrics import higher_is_better
from mlpublish.redact import scrub
from mlpublish.results import EvaluateResult, PromoteResult, ValidateResult

# Versioned: a receiver can rely on the fields of v1; a breaking change bumps it.
SCHEMA = "mlpublish.notification/v1"
EVENTS = ("gate", "promotion", "rollback", "contract")
Event = Literal["gate", "promotion", "rollback", "contract"]
# VIOLATED: rows of a scoring or monitor run broke the champion's data contract (notify.events.contract_notification)
Outcome = Literal["PASSED", "FAILED", "PROMOTED", "NOT_PROMOTED", "ROLLED_BACK", "VIOLATED"]


class MetricRow(BaseModel):
    metric: str
    candidate: float | None
    champion: float | None
    delta: float | None  # candidate - champion
    candidate_better: bool | None  # in the metric's own direction (rmse: lower is better)


class Link(BaseModel):
    label: str
    url: str | None = None  # a page to open ...
    command: str | None = None  # ... or, when there is none, the command that shows it

    @field_validator("url", "command")
    @classmethod
    def _no_secrets(cls, v: str | None) -> str | None:
        return scrub(v) if v else v


class Source(BaseModel):
    """Who ran the step: ``cli``, ``airflow`` (DAG id, run id) or ``dagster`` (job, run id)."""

    orchestrator: Literal["cli", "airflow", "dagster"]
    name: str | None = None
    run_id: str | None = None


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(SCHEMA, alias="schema")
    event: Event
    outcome: Outcome
    model: str
    version: str | None = None
    run_id: str | None = None
    title: str
    summary: str
    candidate_label: str = "candidate"
    champion_label: str = "champion"
    metrics: list[MetricRow] = []
    checks: list[CheckResult] = []
    champion_before: str | None = None
    champion_after: str | None = None
    links: list[Link] = []
    source: Source
    at: str = ""

    @field_validator("title", "summary", "candidate_label", "champion_label")
    @classmethod
    def _no_secrets(cls, v: str) -> str:
        return scrub(v)

    def model_post_init(self, __context: Any) -> None:
        if not self.at:
            self.at = datetime.now(UTC).isoformat(timespec="seconds")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def metric_rows(candidate: dict[str, float] | None, champion: dict[str, float] | None) -> list[MetricRow]:
    """Every metric of either side, sorted by name; the missing side is None."""
    candidate, champion = candidate or {}, champion or {}
    rows = []
    for name in sorted(set(candidate) | set(champion)):
        cand, champ = candidate.get(name), champion.get(name)
        both = cand is not None and champ is not None
        rows.append(
            MetricRow(
                metric=name,
                candidate=cand,
                champion=champ,
                delta=(cand - champ) if both else None,
                candidate_better=((cand > champ) if higher_is_better(name) else (cand < champ)) if both else None,
            )
        )
    return rows


def slice_rows(validation: ValidateResult) -> list[MetricRow]:
    """One row per gated slice and per disparity: ``recall [plan=premium]``, ``selection_rate difference by gender``."""
    rows = []
    for c in validation.checks:
        if c.check not in ("slice", "fairness") or c.value is None or c.outcome == "skipped":
            continue
        label = f"{c.metric} [{c.slice}]" if c.check == "slice" else c.name
        if any(r.metric == label for r in rows):  # a fairness bound and its vs-champion check share the values
            continue
        cand, champ = c.value, c.champion_value
        both = champ is not None
        lower_better = c.check == "fairness" and c.metric.endswith("_difference")
        up = higher_is_better(c.metric) if c.check == "slice" else not lower_better
        rows.append(
            MetricRow(
                metric=label,
                candidate=cand,
                champion=champ,
                delta=(cand - champ) if both else None,
                candidate_better=((cand > champ) if up else (cand < champ)) if both else None,
            )
        )
    return rows


def server_url(tracking_uri: str | None) -> str | None:
    """The MLflow UI base when tracking is an http(s) server (a database URI is not a page, and may hold a password)."""
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        return scrub(tracking_uri).rstrip("/")
    return None


def openmetadata_ui(host_port: str | None, fqn: str) -> str | None:
    """``<host>/mlmodel/<fqn>`` from the API address (``http://om:8585/api`` -> ``http://om:8585``)."""
    if not host_port:
        return None
    base = host_port.strip().rstrip("/")
    base = base[: -len("/api")] if base.endswith("/api") else base
    return f"{base}/mlmodel/{fqn}"


def links_for(
    *,
    model: str,
    tracking_uri: str | None = None,
    experiment_id: str | None = None,
    run_id: str | None = None,
    version: str | None = None,
    catalog_fqn: str | None = None,
    openmetadata_host_port: str | None = None,
    orchestrator_run: tuple[str, str] | None = None,
) -> list[Link]:
    """MLflow run and model version (http(s) tracking only), the catalog entity, the orchestrator run."""
    links: list[Link] = []
    base = server_url(tracking_uri)
    if base and run_id and experiment_id:
        links.append(Link(label="MLflow run", url=f"{base}/#/experiments/{experiment_id}/runs/{run_id}"))
    elif run_id:
        links.append(Link(label="MLflow run", command=f"mlflow runs describe --run-id {run_id}"))
    if base and version:
        links.append(Link(label="MLflow model version", url=f"{base}/#/models/{quote(model)}/versions/{version}"))
    ui = openmetadata_ui(openmetadata_host_port, catalog_fqn) if catalog_fqn else None
    links.append(
        Link(label="Catalog entity", url=ui)
        if ui
        else Link(label="Catalog entity", command=f"mlpublish catalog show {catalog_fqn or model}")
    )
    if orchestrator_run:
        label, url = orchestrator_run
        links.append(Link(label=label, url=url))
    return links


def gate_notification(
    evaluation: EvaluateResult, validation: ValidateResult, *, source: Source, links: list[Link] = ()
) -> Notification:
    """Validation PASSED or FAILED, with the candidate-vs-champion table and every check."""
    champ = f"champion v{evaluation.champion_version}" if evaluation.champion_version else "champion (none yet)"
    passed = validation.status == "PASSED"
    summary = validation.summary()
    if evaluation.champion_error:
        summary += f" (champion: {evaluation.champion_error})"
    return Notification(
        event="gate",
        outcome="PASSED" if passed else "FAILED",
        model=validation.model_name,
        run_id=validation.run_id,
        title=f"{validation.model_name}: candidate run {validation.run_id} {'PASSED' if passed else 'FAILED'} validation",
        summary=summary,
        champion_label=champ,
        metrics=metric_rows(evaluation.metrics, evaluation.champion_metrics) + slice_rows(validation),
        checks=validation.checks,
        champion_before=evaluation.champion_version,
        links=list(links),
        source=source,
    )


def promotion_notification(
    promotion: PromoteResult,
    *,
    source: Source,
    candidate_metrics: dict[str, float] | None = None,
    champion_metrics: dict[str, float] | None = None,
    compared_version: str | None = None,
    run_id: str | None = None,
    links: list[Link] = (),
) -> Notification:
    """The champion moved (or a PASSED candidate was refused), or a rollback.

    The table compares the version the event is about with the champion it replaces (or would have).
    ``compared_version``: the champion whose ``champion_metrics`` these are, when it is not the one the
    move replaced (the champion moved between evaluation and promotion); the column then says so.
    """
    p = promotion
    if p.mode == "rollback":
        event, outcome = "rollback", "ROLLED_BACK"
        title = f"{p.model_name}: champion rolled back from v{p.champion_before} to v{p.champion_after}"
        cand_label, champ_label = f"v{p.champion_after} (restored)", f"v{p.champion_before} (rolled back)"
    else:
        event, outcome = "promotion", "PROMOTED" if p.promoted else "NOT_PROMOTED"
        title = (
            f"{p.model_name}: v{p.version} is champion" if p.promoted else f"{p.model_name}: v{p.version} NOT promoted"
        )
        cand_label = f"v{p.version} (candidate)"
        shown = p.champion_before if p.champion_before != p.version else None
        champ_label = f"v{shown} (champion before)" if shown else "champion before (none)"
        if compared_version and compared_version != shown:
            champ_label = f"v{compared_version} (champion at evaluation)"
    return Notification(
        event=event,
        outcome=outcome,
        model=p.model_name,
        version=p.champion_after if p.mode == "rollback" else p.version,
        run_id=run_id,
        title=title,
        summary=p.reason,
        candidate_label=cand_label,
        champion_label=champ_label,
        metrics=metric_rows(candidate_metrics, champion_metrics),
        checks=p.checks,
        champion_before=p.champion_before,
        champion_after=p.champion_after,
        links=list(links),
        source=source,
    )
