"""The model card: what the chain knows about one candidate, as markdown (and HTML rendered from it).

Pure functions of the spec and the step results, so the text is unit-testable.
The steps log the card on the training run (``mlpublish/steps/card.py``) and the
champion's card becomes the catalog description (``mlpublish/promotion/``).

Untrusted text (spec descriptions, limitations, names, check details) is
escaped: ``<``, ``>`` and ``&`` become entities, so neither the HTML rendering
nor a catalog rendering the markdown ever gets live HTML, and ``|`` is escaped
in table cells so a hostile value cannot break a table. Everything goes through
``scrub``, and no connection or tracking URL is ever read into the card.
"""

from __future__ import annotations

import html
import shlex
from typing import Any

from mlpublish.contracts.card import card_section
from mlpublish.contracts.model import DataContract
from mlpublish.evaluation.metrics import ECE_BINS, higher_is_better
from mlpublish.redact import scrub
from mlpublish.registry.contract import ENVIRONMENT_TAG, GIT_COMMIT_TAG, PIPELINE_TAG_PREFIX
from mlpublish.results import EvaluateResult, RegisterResult, TrainResult, ValidateResult
from mlpublish.spec import Spec

# The rollback section is the card's last: at a champion move it is rewritten with what
# `mlpublish rollback` would restore then (see with_rollback).
ROLLBACK_HEADING = "## How to roll back"


def esc(text: Any) -> str:
    """Inline text from the spec or a result: secrets masked, no live HTML."""
    return html.escape(scrub(str(text)), quote=False)


def cell(text: Any) -> str:
    """A table cell: escaped, on one line, ``|`` escaped so the row keeps its columns."""
    return " ".join(esc(text).replace("|", "\\|").split())


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def build_card(
    spec: Spec,
    train: TrainResult,
    evaluation: EvaluateResult,
    validation: ValidateResult,
    registration: RegisterResult | None = None,
    run_tags: dict[str, str] | None = None,
    contract: DataContract | None = None,
) -> str:
    """The card of one candidate as markdown. ``registration`` is None when the register step did not run
    (a rejected candidate); ``run_tags`` are the training run's tags (code version, environment, pipeline);
    ``contract`` the data contract the run logged (None: none)."""
    tags = run_tags or {}
    version = registration.version if registration else None
    title = f"v{version}" if version else f"candidate run {train.run_id}"
    parts = [
        f"# Model card: {esc(spec.displayName or spec.name)} {title}",
        "",
        _status(spec, validation, registration),
        "",
    ]
    parts += _purpose(spec) + _model(spec, train, tags) + _data(spec, train) + _features(spec)
    compared = next((c.detail for c in validation.checks if c.check == "contract"), None)
    parts += card_section(contract, validation.contract_changes, compared, cell)
    parts += _metrics(evaluation) + _slices(evaluation) + _fairness(evaluation) + _calibration(evaluation)
    parts += _importances(evaluation) + _gates(validation) + _lineage(spec, train, version, tags)
    parts += _limitations(spec)
    parts.append(rollback_section(spec.name, version, validation.status, evaluation.champion_version, champion=False))
    return scrub("\n".join(parts))


def _status(spec: Spec, validation: ValidateResult, registration: RegisterResult | None) -> str:
    if registration is None or registration.version is None:
        return (
            f"**Status: REJECTED.** Validation {validation.status}: candidate run `{validation.run_id}` was "
            f"not registered and never served."
        )
    line = f"**Status at registration:** validation {registration.status}, registered as version {registration.version}"
    if registration.aliases:
        line += " with alias " + ", ".join(registration.aliases)
    if registration.status != "PASSED":
        line += " (kept for audit only: a FAILED version is never promoted)"
    return line + "."


def _purpose(spec: Spec) -> list[str]:
    out = ["## Purpose", ""]
    text = (spec.description or "").strip()
    out.append(esc(text) if text else "_The spec has no description._")
    out += ["", "## Owners", ""]
    out += [f"- {cell(o)}" for o in spec.owners] or ["_The spec names no owners._"]
    return out + [""]


def _model(spec: Spec, train: TrainResult, tags: dict[str, str]) -> list[str]:
    out = [
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| Algorithm | {cell(spec.algorithm)} |",
        f"| Estimator | {cell(spec.training.estimator or f'existing model {spec.training.existingModel}')} |",
        f"| Task | {cell(train.task)} |",
        f"| Target | {cell(spec.target)} |",
        f"| Selected by | {cell(train.select_by)} among {len(train.candidates)} candidate(s) |",
        f"| Code version (git commit) | {cell(tags.get(GIT_COMMIT_TAG) or 'not recorded')} |",
        f"| Environment | {cell(tags.get(ENVIRONMENT_TAG) or 'not recorded')} |",
        "",
        "### Hyperparameters",
        "",
    ]
    if train.params:
        out += ["| Name | Value |", "|---|---|"]
        out += [f"| {cell(k)} | {cell(v)} |" for k, v in sorted(train.params.items())]
    else:
        out.append("_Estimator defaults._")
    return out + [""]


def _data(spec: Spec, train: TrainResult) -> list[str]:
    split = spec.training.split
    rng = train.time_range
    if rng:
        span = f"{cell(rng.get('min'))} to {cell(rng.get('max'))} (column {cell(rng.get('column'))})"
    else:
        span = "unknown (set data.timeColumn to record it)"
    return [
        "## Training data",
        "",
        "| | |",
        "|---|---|",
        f"| Table | {cell(train.training_fqn)} |",
        f"| Rows | {train.train_rows} trained on, {train.test_rows} held out for evaluation |",
        f"| Dataset digest | {cell(train.dataset_digest)} |",
        f"| Time range | {span} |",
        f"| Split | testSize {split.testSize:g}, seed {split.seed}, "
        f"{'by key ' + cell(', '.join(spec.data.keyColumns)) if spec.data.keyColumns else 'random (no key columns)'} |",
        "",
    ]


def _features(spec: Spec) -> list[str]:
    out = ["## Features", "", "| Feature | Type | Source columns | Description |", "|---|---|---|---|"]
    for f in spec.mlFeatures:
        sources = ", ".join(f"{s.dataSourceFqn}.{s.name}" if s.dataSourceFqn else s.name for s in f.featureSources)
        out.append(
            f"| {cell(f.name)} | {cell(f.dataType)} | {cell(sources or 'none recorded')} | {cell(f.description or '')} |"
        )
    return out + [""]


def _metrics(evaluation: EvaluateResult) -> list[str]:
    champion = evaluation.champion_metrics or {}
    label = f"Champion v{evaluation.champion_version}" if evaluation.champion_version else "Champion"
    out = [
        "## Metrics (held-out rows)",
        "",
        f"| Metric | Candidate | {cell(label)} | Delta | Candidate better |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(set(evaluation.metrics) | set(champion)):
        cand, champ = evaluation.metrics.get(name), champion.get(name)
        delta = better = "n/a"
        if cand is not None and champ is not None:
            delta = f"{cand - champ:+.4f}"
            better = "yes" if ((cand > champ) if higher_is_better(name) else (cand < champ)) else "no"
        out.append(f"| {cell(name)} | {_num(cand)} | {_num(champ)} | {delta} | {better} |")
    if evaluation.champion_version is None:
        out += ["", "_No champion to compare with: this was the first candidate._"]
    elif evaluation.champion_error:
        out += ["", f"_The champion could not be evaluated: {esc(evaluation.champion_error)}_"]
    return out + [""]


def _slices(evaluation: EvaluateResult) -> list[str]:
    if not evaluation.slices:
        return []
    # the metrics gates use most are shown; every metric of every slice is in evaluation/metrics.json
    shown = [
        m for m in ("roc_auc", "recall", "precision", "rmse", "mae") if any(m in s.candidate for s in evaluation.slices)
    ]
    champion = f"champion v{evaluation.champion_version}" if evaluation.champion_version else "champion"
    head = " | ".join(f"{m} (candidate / {cell(champion)})" for m in shown)
    out = ["## Slices (held-out rows)", "", f"| Slice | Rows | Gated | {head} |", "|---|---|---|" + "---|" * len(shown)]
    for s in evaluation.slices:
        values = " | ".join(
            f"{_num(s.candidate.get(m))} / {_num((s.champion or {}).get(m)) if s.champion else 'n/a'}" for m in shown
        )
        out.append(f"| {cell(s.label)} | {s.rows} | {'yes' if s.gated else 'no (under minRows)'} | {values} |")
    return out + [""]


def _fairness(evaluation: EvaluateResult) -> list[str]:
    if not evaluation.fairness:
        return []
    out = [
        "## Fairness (held-out rows)",
        "",
        "| Disparity | Candidate | Champion | Groups (candidate) |",
        "|---|---|---|---|",
    ]
    for d in evaluation.fairness:
        groups = ", ".join(f"{g}: {v:.4f} ({d.rows.get(g, 0)} rows)" for g, v in d.groups.items()) or (d.error or "")
        if d.left_out:
            groups += f"; under minRows: {', '.join(d.left_out)}"
        out.append(f"| {cell(d.name)} | {_num(d.candidate)} | {_num(d.champion)} | {cell(groups)} |")
    return out + [""]


def _calibration(evaluation: EvaluateResult) -> list[str]:
    if "ece" not in evaluation.metrics:
        return []
    champion = (evaluation.champion_metrics or {}).get("ece")
    line = f"Expected calibration error ({ECE_BINS} equal-width bins): candidate {_num(evaluation.metrics['ece'])}"
    line += f", champion v{evaluation.champion_version} {_num(champion)}." if champion is not None else "."
    out = ["## Calibration", "", line]
    return out + _plot_note(evaluation, "evaluation/reliability.png", "The reliability plot")


def _importances(evaluation: EvaluateResult, top: int = 10) -> list[str]:
    if not evaluation.importances:
        return []
    out = [
        "## What the model relies on",
        "",
        "Permutation importance on the held-out rows: how much the selection metric drops when a feature is shuffled.",
        "",
        "| Feature | Candidate | Champion | Moved |",
        "|---|---|---|---|",
    ]
    for i in evaluation.importances[:top]:
        moved = f"{i.moved:+.4f}" if i.moved is not None else "n/a"
        out.append(f"| {cell(i.feature)} | {i.candidate:.4f} | {_num(i.champion)} | {moved} |")
    movers = sorted((i for i in evaluation.importances if i.moved is not None), key=lambda i: -abs(i.moved or 0))
    if movers and abs(movers[0].moved or 0) > 0:
        m = movers[0]
        out += ["", f"Moved most against the champion: {esc(m.feature)} ({m.moved:+.4f})."]
    return out + _plot_note(evaluation, "evaluation/importances.png", "The permutation importance plot")


def _plot_note(evaluation: EvaluateResult, artifact: str, what: str) -> list[str]:
    """Where a plot is: the markdown links no image (a relative link breaks wherever the card is copied: the
    catalog, a file, a chat); the HTML card embeds the plot itself (mlpublish.steps.card)."""
    if artifact not in evaluation.artifacts:
        return [""]
    return [
        "",
        f"{what} is the MLflow artifact `{artifact}` of run `{esc(evaluation.run_id)}`, embedded in the HTML card.",
        "",
    ]


def _gates(validation: ValidateResult) -> list[str]:
    out = [
        "## Validation",
        "",
        f"Outcome: **{validation.status}**.",
        "",
        "| Check | Type | Threshold | Value | Champion | Outcome | Detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in validation.checks:
        threshold = f"{c.kind} {c.threshold:g}" if c.threshold is not None else ""
        value = _num(c.value) if c.value is not None else ""
        champ = _num(c.champion_value) if c.champion_value is not None else ""
        out.append(
            f"| {cell(c.name)} | {cell(c.check)} | {cell(threshold)} | {value} | {champ} | "
            f"{c.outcome.upper()} | {cell(c.detail)} |"
        )
    return out + [""]


def _lineage(spec: Spec, train: TrainResult, version: str | None, tags: dict[str, str]) -> list[str]:
    sources = sorted(
        {
            s.dataSourceFqn
            for f in spec.mlFeatures
            for s in f.featureSources
            if s.dataSourceFqn and s.dataSourceFqn != train.training_fqn
        }
    )
    out = ["## Lineage", ""]
    out += [f"- Source table: {cell(s)}" for s in sources]
    out.append(f"- Training table: {cell(train.training_fqn)}")
    out.append(f"- Catalog model: {cell(spec.fqn)}")
    predictions = spec.scoring.predictionsTable or spec.data.predictionsTable
    if predictions:
        out.append(f"- Predictions table: {cell(train.training_fqn.rsplit('.', 1)[0] + '.' + predictions)}")
    out.append(
        f"- MLflow: experiment {cell(train.experiment_id)}, run `{train.run_id}`, model {cell(train.model_uri)}"
        + (f", registered model {cell(spec.name)} version {version}" if version else "")
    )
    pipeline = {k.removeprefix(PIPELINE_TAG_PREFIX): v for k, v in tags.items() if k.startswith(PIPELINE_TAG_PREFIX)}
    if pipeline:
        out.append("- Pipeline: " + cell(", ".join(f"{k} {v}" for k, v in sorted(pipeline.items()))))
    return out + [""]


def _limitations(spec: Spec) -> list[str]:
    out = ["## Known limitations", ""]
    out += [f"- {cell(item)}" for item in spec.limitations] or ["_None recorded in the spec (limitations)._"]
    return out + [""]


def rollback_section(
    name: str, version: str | None, status: str, target: str | None, *, champion: bool, since: str | None = None
) -> str:
    """How to withdraw this version. ``target`` is what ``mlpublish rollback`` would restore: at registration
    the champion of the time, once champion the version it replaced (None: nothing to restore)."""
    command = f"```\nmlpublish rollback {shlex.quote(name)}\n```"
    lines = [ROLLBACK_HEADING, ""]
    if version is None:
        lines.append(
            f"Nothing to roll back: this candidate was never registered. The champion stays "
            f"{'v' + target if target else 'unset (none yet)'}."
        )
    elif status != "PASSED":
        lines.append(f"Nothing to roll back: v{version} is {esc(status)} and can never become champion.")
    elif target is None:
        lines.append(
            f"{'v' + version + ' is champion' if champion else 'If v' + version + ' becomes champion, it is'}"
            f"{' (since ' + esc(since) + ')' if since else ''}"
            f"{'' if champion else ' the first one'}: there is no earlier champion to restore, so "
            f"`mlpublish rollback` refuses. Withdraw it by approving another PASSED version: "
            f"`mlpublish promote {shlex.quote(name)} --version N`."
        )
    else:
        lead = (
            f"v{version} is champion{' since ' + esc(since) if since else ''}. To restore the version it replaced, run:"
            if champion
            else f"If v{version} becomes champion and must be withdrawn, run:"
        )
        lines += [
            lead,
            "",
            command,
            "",
            f"It restores v{target}" + ("." if champion else f", the champion when v{version} was registered."),
        ]
    return "\n".join(lines) + "\n"


def with_rollback(markdown: str, section: str) -> str:
    """The card with its (last) rollback section replaced by ``section``."""
    cut = markdown.rfind("\n" + ROLLBACK_HEADING + "\n")
    head = markdown[: cut + 1] if cut >= 0 else markdown.rstrip("\n") + "\n\n"
    return head + section


def with_copy_note(markdown: str, name: str, version: str, origin: str) -> str:
    """The card of a version copied from another environment: the card as validated there, under a
    line saying which version of this registry it is and where it came from (``env:model/version``)."""
    title, _, rest = markdown.partition("\n")
    note = (
        f"**Copied:** this is {esc(name)} v{esc(version)}, a copy of {esc(origin)}; the card below "
        "was written where that version was trained and validated."
    )
    return f"{title}\n\n{note}\n{rest}"


def render_html(markdown: str, title: str, plots: dict[str, bytes] | None = None) -> str:
    """A standalone HTML page of the card. Raw HTML in the markdown stays text (``html: False``).

    ``plots`` (caption -> PNG) are embedded as ``data:`` URIs: the page shows them wherever it is
    opened, with no server behind it. The markdown (the catalog's description) carries none.
    """
    import base64

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    for caption, png in (plots or {}).items():
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        body += (
            f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>{esc(caption)}</figcaption></figure>\n'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
        "code,pre{background:#f4f4f4}</style></head>\n<body>\n" + body + "</body></html>\n"
    )
