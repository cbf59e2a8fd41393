"""Step results the notification tests render (tests/unit/notify): a candidate against champion v4, its gates,
and the secrets no rendering may show."""

from __future__ import annotations

from mlpublish.evaluation.gates import CheckResult
from mlpublish.results import EvaluateResult, ValidateResult

TOKEN = "T000/B000/XXXXsecretXXXX"
PASSWORD = "smtp-pa55-word"


def results(status: str = "FAILED") -> tuple[EvaluateResult, ValidateResult]:
    evaluation = EvaluateResult(
        model_name="churn",
        run_id="r1",
        champion_version="4",
        metrics={"roc_auc": 0.81, "f1": 0.52, "log_loss": 0.41, "brier": 0.13},
        champion_metrics={"roc_auc": 0.84, "f1": 0.50, "log_loss": 0.45},
    )
    checks = [
        CheckResult(
            check="gate",
            name="roc_auc >= 0.8",
            outcome="pass",
            metric="roc_auc",
            kind="min",
            threshold=0.8,
            value=0.81,
            detail="roc_auc=0.8100 >= min 0.8",
        ),
        CheckResult(
            check="gate",
            name="roc_auc maxDrop 0.01",
            outcome="fail" if status == "FAILED" else "pass",
            metric="roc_auc",
            kind="maxDropVsChampion",
            threshold=0.01,
            value=0.81,
            champion_value=0.84,
            detail="drop 0.0300 exceeds maxDrop 0.01 (postgresql://ml:dbpass@warehouse/db?token=abc)",
        ),
    ]
    return evaluation, ValidateResult(
        model_name="churn", run_id="r1", status=status, checks=checks, champion_version="4"
    )
