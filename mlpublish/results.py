"""Typed results of the steps: small, JSON-serializable values (what an XCom may carry)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mlpublish.contracts.diff import ContractChange
from mlpublish.contracts.enforce import ContractSummary
from mlpublish.evaluation.explain import FeatureImportance
from mlpublish.evaluation.fairness import Disparity
from mlpublish.evaluation.gates import CheckResult
from mlpublish.evaluation.slices import SliceMetrics
from mlpublish.redact import scrub

Status = Literal["PENDING", "PASSED", "FAILED"]
# The outcome of a candidate that reproduces the champion (same data, parameters, estimator, code and
# held-out metrics): it passes its gates, but registering and promoting it again would publish nothing.
NOTHING_NEW = "NOTHING NEW"


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Candidate(BaseModel):
    params: dict[str, Any]
    score: float | None
    run_id: str | None = None


class TrainResult(_Result):
    model_name: str
    run_id: str
    experiment_id: str
    model_uri: str
    model_id: str | None
    task: str
    select_by: str
    params: dict[str, Any]
    candidates: list[Candidate]
    train_rows: int
    test_rows: int
    dataset_digest: str
    training_fqn: str
    fit_seconds: float
    # {"column", "min", "max"} of data.timeColumn over the rows used (None without that field)
    time_range: dict[str, str] | None = None
    # the data contract learned (logged at contracts.CONTRACT_ARTIFACT), in one line: columns, rules, rows
    contract: str | None = None


class EvaluateResult(_Result):
    model_name: str
    run_id: str
    metrics: dict[str, float]
    champion_version: str | None
    champion_metrics: dict[str, float] | None
    champion_error: str | None = None
    artifacts: list[str] = []
    # validation.slices and validation.fairness measured on the held-out rows; permutation importances
    slices: list[SliceMetrics] = []
    fairness: list[Disparity] = []
    importances: list[FeatureImportance] = []

    @field_validator("champion_error")
    @classmethod
    def _no_secrets(cls, v: str | None) -> str | None:
        return scrub(v) if v else v


class ValidateResult(_Result):
    model_name: str
    run_id: str
    status: Status
    checks: list[CheckResult]
    champion_version: str | None
    # the champion version this candidate reproduces, and how that was recognised (see NOTHING_NEW)
    same_as_champion: str | None = None
    same_as_champion_detail: str = ""
    # the candidate's data contract against the champion's (steps.data_contract): every change, blocking or not
    contract_changes: list[ContractChange] = []

    @property
    def nothing_new(self) -> bool:
        return self.status == "PASSED" and self.same_as_champion is not None

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.status == "PASSED":
            passed = f"PASSED ({sum(c.outcome == 'pass' for c in self.checks)} checks passed)"
            return f"{passed}; {NOTHING_NEW}: {self.same_as_champion_detail}" if self.nothing_new else passed
        return "FAILED: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)


class RegisterResult(_Result):
    model_name: str
    run_id: str
    status: Status
    version: str | None
    created: bool
    aliases: list[str] = []
    reason: str = ""
    # where the model card is (an MLflow artifact URI): the card itself is too big for an XCom
    card_uri: str | None = None
    same_as_champion: str | None = None  # NOTHING_NEW: no version registered, the champion stands


class PromoteResult(_Result):
    model_name: str
    version: str | None
    promoted: bool
    mode: str
    champion_before: str | None
    champion_after: str | None
    reason: str
    checks: list[CheckResult] = []
    same_as_champion: str | None = None  # NOTHING_NEW: nothing moved, nothing to notify
    # promotion.mode: shadow with a champion: the candidate is challenger, scoring beside the champion until it
    # wins on live labels (mlpublish.steps.promote_live); nothing was refused, nothing to notify yet
    shadow: bool = False


def same_candidate(step: str, *results: Any) -> None:
    """Refuse results of different candidates (an orchestrator mixing up runs): every earlier step's
    result handed to ``step`` must carry the same MLflow run id."""
    from mlpublish.errors import StepError

    ids = {f"{type(r).__name__}={r.run_id}" for r in results}
    if len({r.run_id for r in results}) > 1:
        raise StepError(
            f"{step}: the results handed to it belong to different candidates ({', '.join(sorted(ids))}); "
            "re-run the chain from train"
        )


class ChainResult(_Result):
    training: TrainResult
    evaluation: EvaluateResult
    validation: ValidateResult
    registration: RegisterResult
    promotion: PromoteResult

    @property
    def status(self) -> Status:
        return self.validation.status

    @property
    def nothing_new(self) -> bool:
        return self.validation.nothing_new


class ScoreResult(_Result):
    model_name: str
    version: str
    model_run_id: str
    scoring_run_id: str
    rows: int
    table_fqn: str
    source: str
    seconds: float
    # the champion's data contract checked on the rows (None: a champion published before contracts)
    contract: ContractSummary | None = None
    # scoring.shadow: the challenger that scored the same rows in the same run, and its rows (None, 0: none)
    challenger_version: str | None = None
    challenger_rows: int = 0


class FeatureDrift(BaseModel):
    feature: str
    kind: str  # numerical | categorical
    psi: float
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    drifted: bool


class LiveWindow(BaseModel):
    """One model's live metrics on the labels of one window (monitoring.labels): what one live-metrics run holds
    (see mlpublish.registry.live_metrics)."""

    window_start: str  # ISO-8601 UTC, e.g. 2026-12-07T00:00:00Z
    window_end: str
    role: str  # champion | challenger
    version: str
    labelled_rows: int
    metrics: dict[str, float]  # the names of evaluation.metrics (roc_auc, accuracy, rmse ...), without live_
    run_id: str | None = None  # the live-metrics run


class MonitorResult(_Result):
    model_name: str
    version: str
    monitor_run_id: str
    rows: int
    reference_rows: int
    features: list[FeatureDrift]
    drifted_features: list[str]
    performance: dict[str, float] = {}
    window_drifted: bool
    retrain: bool
    reasons: list[str]
    # The open retraining request this run stands for: its own run id when it decided to retrain,
    # else an earlier request no training has served yet (a scheduler that missed it acts on it).
    request_id: str | None = None
    # the monitored rows checked against the champion's data contract (None: no contract)
    contract: ContractSummary | None = None
    # monitoring.labels: the live-metrics windows this run recorded (a window is recorded once, by one run)
    live_windows: list[LiveWindow] = []


class LiveWindowEvidence(BaseModel):
    """One labelled window in which champion and challenger were both measured: won or lost, and why."""

    window_start: str
    window_end: str
    champion_rows: int
    challenger_rows: int
    champion: dict[str, float]  # live metrics
    challenger: dict[str, float]
    won: bool
    why: str
    checks: list[CheckResult] = []  # the spec's gates on the challenger's live metrics


class ShadowDecision(BaseModel):
    """promotion.mode: shadow: does the challenger replace the champion, on the evidence of the live windows."""

    champion_version: str
    challenger_version: str
    metric: str  # training.selectBy (default roc_auc / rmse)
    window_n: int
    window_m: int
    min_labelled_rows: int
    windows: list[LiveWindowEvidence] = []  # the last windowM counted windows, oldest first
    not_counted: int = 0  # windows of the two versions left out: too few labelled rows, or one model missing
    wins: int = 0
    promote: bool = False
    reason: str


class LivePromotionResult(_Result):
    """What the promotion on live labels did: promoted, asked an approver, waits, or had nothing to decide."""

    model_name: str
    outcome: Literal["PROMOTED", "APPROVAL_REQUESTED", "WAITING", "NO_CHALLENGER", "NOT_SHADOW", "REFUSED"]
    challenger: str | None
    champion_before: str | None
    champion_after: str | None
    promoted: bool
    reason: str
    decision: ShadowDecision | None = None
    promotion: PromoteResult | None = None  # the move, when one was made (its notification's subject)
    challenger_run_id: str | None = None  # the challenger's training run (a notification's link)
