"""What a person reads on an asset page: metrics, checks, versions, links. Never a secret.

Links are given only for an ``http(s)`` tracking server (a database URI is not a
page, and may carry a password); everything shown goes through ``scrub``.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, unquote, urlparse

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from mlpublish.evaluation.metrics import higher_is_better
from mlpublish.redact import scrub


def server_url(tracking_uri: str) -> str | None:
    if tracking_uri.startswith(("http://", "https://")):
        return scrub(tracking_uri).rstrip("/")
    return None


def run_links(tracking_uri: str, experiment_id: str, run_id: str) -> dict[str, Any]:
    base = server_url(tracking_uri)
    out: dict[str, Any] = {"mlflow_run_id": MetadataValue.text(run_id)}
    if base:
        out["mlflow_run"] = MetadataValue.url(f"{base}/#/experiments/{experiment_id}/runs/{run_id}")
    return out


def plot_artifact(artifacts: list[str]) -> str | None:
    """The ROC curve (classification) or residuals (regression) the evaluate step logged."""
    return next((a for a in artifacts if a.endswith(("roc_curve.png", "residuals.png"))), None)


def plot_metadata(
    tracking_uri: str, run_id: str, plot: str | None, artifact_uri: str | None, image: bytes | None = None
) -> dict[str, Any]:
    """The plot as a picture on the asset page.

    A tracking server serves the artifact, so the markdown links it. Without one (the local
    file store, the default) there is no URL a browser may load, so the PNG rides inline as a
    ``data:`` URI, which the UI's markdown renders like any image (the ROC: about 20 KB, 26 KB inline).
    """
    if plot is None:
        return {}
    title = "ROC curve" if plot.endswith("roc_curve.png") else "Residuals"
    caption = f"**{title}** (candidate vs champion, held-out rows)"
    base = server_url(tracking_uri)
    if base:
        url = f"{base}/get-artifact?path={quote(plot, safe='')}&run_uuid={run_id}"
        return {"plot": MetadataValue.md(f"{caption}\n\n![{title}]({url})"), "plot_url": MetadataValue.url(url)}
    out: dict[str, Any] = {}
    if image:
        inline = f"data:image/png;base64,{base64.b64encode(image).decode('ascii')}"
        out["plot"] = MetadataValue.md(f"{caption}\n\n![{title}]({inline})")
    else:
        out["plot"] = MetadataValue.text(f"MLflow artifact {plot} of run {run_id}")
    folder = local_folder(artifact_uri)
    if folder:
        out["plot_file"] = MetadataValue.path(f"{folder}/{plot}")
    return out


def local_folder(artifact_uri: str | None) -> str | None:
    """The folder of a local artifact location (``file://`` URI or a plain path), else None."""
    if not artifact_uri:
        return None
    if artifact_uri.startswith("file://"):
        return unquote(urlparse(artifact_uri).path).rstrip("/")
    return artifact_uri.rstrip("/") if "://" not in artifact_uri else None


def metrics_table(metrics: dict[str, float], champion: dict[str, float] | None, champion_version: str | None) -> Any:
    label = f"champion v{champion_version}" if champion_version else "champion"
    records = []
    for name in sorted(metrics):
        cand = metrics[name]
        champ = (champion or {}).get(name)
        better = None
        if champ is not None:
            better = (cand > champ) if higher_is_better(name) else (cand < champ)
        records.append(
            TableRecord(
                data={
                    "metric": name,
                    "candidate": round(cand, 6),
                    label: round(champ, 6) if champ is not None else None,
                    "delta": round(cand - champ, 6) if champ is not None else None,
                    "candidate better": better,
                }
            )
        )
    schema = TableSchema(
        columns=[
            TableColumn("metric", "string"),
            TableColumn("candidate", "float"),
            TableColumn(label, "float"),
            TableColumn("delta", "float"),
            TableColumn("candidate better", "bool"),
        ]
    )
    return MetadataValue.table(records=records, schema=schema)


def checks_table(checks: list[Any]) -> Any:
    records = [
        TableRecord(
            data={
                "check": c.name,
                "outcome": c.outcome.upper(),
                "metric": c.metric,
                "value": round(c.value, 6) if c.value is not None else None,
                "threshold": c.threshold,
                "detail": scrub(c.detail)[:500],
            }
        )
        for c in checks
    ]
    schema = TableSchema(
        columns=[
            TableColumn("check", "string"),
            TableColumn("outcome", "string"),
            TableColumn("metric", "string"),
            TableColumn("value", "float"),
            TableColumn("threshold", "float"),
            TableColumn("detail", "string"),
        ]
    )
    return MetadataValue.table(records=records, schema=schema)


def version_links(tracking_uri: str, name: str, version: str | None) -> dict[str, Any]:
    base = server_url(tracking_uri)
    if not base or version is None:
        return {}
    return {"mlflow_model_version": MetadataValue.url(f"{base}/#/models/{quote(name)}/versions/{version}")}


def drift_table(features: list[Any]) -> Any:
    """PSI and KS per feature, drifted ones first."""
    rows = sorted(features, key=lambda f: (not f.drifted, -f.psi))
    return MetadataValue.table(
        records=[
            TableRecord(
                data={
                    "feature": f.feature,
                    "kind": f.kind,
                    "psi": round(f.psi, 4),
                    "ks_statistic": round(f.ks_statistic, 4) if f.ks_statistic is not None else None,
                    "ks_pvalue": round(f.ks_pvalue, 6) if f.ks_pvalue is not None else None,
                    "drifted": f.drifted,
                }
            )
            for f in rows
        ],
        schema=TableSchema(
            columns=[
                TableColumn("feature", "string"),
                TableColumn("kind", "string"),
                TableColumn("psi", "float"),
                TableColumn("ks_statistic", "float"),
                TableColumn("ks_pvalue", "float"),
                TableColumn("drifted", "bool"),
            ]
        ),
    )


def card_metadata(card: str | None, uri: str | None = None) -> dict[str, Any]:
    """The model card (markdown, secrets already scrubbed by its builder) and where MLflow keeps it."""
    out: dict[str, Any] = {}
    if card:
        out["model_card"] = MetadataValue.md(scrub(card))
    if uri:
        out["model_card_uri"] = MetadataValue.text(uri)
    return out
