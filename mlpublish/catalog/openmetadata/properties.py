"""The custom properties mlpublish declares on OpenMetadata's mlmodel type: the registry facts the chain records.

Every property is declared with one value type, and every value is sent as text of that type, so a
property's declaration never depends on which step first set it.
"""

from __future__ import annotations

import json
from typing import Any

# The value type every property is declared with (a CustomPropertyDataTypes value of the SDK).
VALUE_TYPE = "string"

PROPERTY_DESCRIPTIONS = {
    "latestVersion": "Latest registered model version in MLflow",
    "latestRunId": "MLflow run id of the latest trained candidate",
    "latestHyperParameters": "Hyperparameters of the latest candidate (JSON)",
    "latestMetrics": "Key metrics of the latest candidate on its held-out rows (JSON)",
    "mlflowExperimentId": "MLflow experiment id",
    "trainingRows": "Rows the latest candidate was trained on",
    "datasetDigest": "Digest of the latest training dataset",
    "lastTrainedAt": "When the latest candidate was trained (UTC, ISO 8601)",
    "environment": "mlpublish environment (dev, staging, prod ...) whose registry and catalog hold this model",
    "codeVersion": "Git commit of the spec's repository the latest candidate was trained from (-dirty: uncommitted changes)",
    "copiedFrom": "Origin (environment:model/version) of the latest copied version, or of the champion once it moves "
    "(none: the champion was trained here)",
    "championCodeVersion": "Git commit the champion was trained from (-dirty: uncommitted changes)",
    "comparedChampionVersion": "Champion version the latest candidate was compared with",
    "validationSummary": "Validation result of the latest candidate (gates, smoke test, metadata)",
    "validatedRunId": "MLflow run id of the latest validated candidate",
    "aliases": "MLflow registry aliases (champion, challenger) -> version (JSON)",
    "championVersion": "Model version serving as champion",
    "previousChampionVersion": "Champion version before the last move",
    "championRunId": "MLflow run id of the champion",
    "lastPublishedAt": "When the champion last moved (UTC, ISO 8601)",
    "championApprovedBy": "Who approved the champion's last move (promotion.approval: required), or none",
    "championApprovedAt": "When the champion's last move was approved (UTC, ISO 8601), or none",
    "championApprovalReason": "Why the approver approved the champion's last move, or none",
    "predictionsTable": "Table the champion's batch predictions are written to",
    "lastScoredAt": "When the last scoring run finished (UTC, ISO 8601)",
    "lastScoringRunId": "Id of the last scoring run (its rows carry it in scoring_run_id)",
    "lastScoredRows": "Rows written by the last scoring run",
    "lastScoredVersion": "Model version that produced the last predictions",
    "lastMonitoredAt": "When drift was last measured (UTC, ISO 8601)",
    "driftDetected": "Whether the last monitoring window drifted (true/false)",
    "driftedFeatures": "Features whose drift crossed a threshold in the last window",
    "driftSummary": "PSI per feature in the last window (JSON)",
    "retrainRequested": "Whether the last monitor run requested retraining (true/false)",
    "retrainReasons": "Why retraining was or was not requested",
    "monitorRunId": "MLflow run id of the last monitor run (its drift report is an artifact)",
    "monitoredVersion": "Champion version the last monitor run measured",
}


def property_values(properties: dict[str, Any]) -> dict[str, str]:
    """The values as sent: strings as they are, anything else as sorted JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for k, v in properties.items()}


def property_description(name: str) -> str:
    return PROPERTY_DESCRIPTIONS.get(name, f"mlpublish: {name}")


def undeclared(values: dict[str, str], declared: set[str]) -> list[str]:
    """The properties the mlmodel type must declare before ``values`` can be set, in a stable order."""
    return sorted(set(values) - declared)


def as_property_type(value: str, kind: str) -> Any:
    """``value`` (text, as ``property_values`` makes it) as a property declared with type ``kind`` wants it.
    ValueError when it cannot be one (a property someone else declared with a type our values do not have)."""
    if kind in ("string", "markdown"):
        return value
    if kind == "integer":
        return int(value)
    if kind == "number":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    raise ValueError(f"no {kind} value from text")
