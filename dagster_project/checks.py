"""The asset checks of ``validated_model``: the gates (a per-slice gate over all its slices),
the fairness bounds, 'some gate applied', the smoke test, the data contract vs the champion's and the required
metadata.

Every check is blocking with ERROR severity: when one fails, registration and promotion do not run.
"""

from collections.abc import Iterator
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from mlpublish.errors import MlpublishError
from mlpublish.results import ValidateResult
from mlpublish_dagster.specs import SpecRef

GATES_APPLIED = "gates_applied"
SMOKE_TEST = "smoke_test"
DATA_CONTRACT = "data_contract"
REQUIRED_METADATA = "required_metadata"


def check_specs(ref: SpecRef) -> list[AssetCheckSpec]:
    """One blocking check per gate, plus 'some gate applied', the smoke test, the data contract and the required
    metadata."""
    asset_key = ref.asset_key("validated_model")
    described = [(name, f"gate {name}: the candidate's metric against the spec's threshold") for name in ref.gates]
    described += [(name, f"{name}: the disparity between the sensitive column's groups") for name in ref.fairness]
    described += [
        (GATES_APPLIED, "at least one gate is configured and applied (relative gates skip a first model)"),
        (SMOKE_TEST, "the logged model loads through mlflow.pyfunc and scores sample rows"),
        (DATA_CONTRACT, "the data contract against the champion's: no change data.contract.blocking names"),
        (REQUIRED_METADATA, "description, owners and a source table for every feature"),
    ]
    return [AssetCheckSpec(name, asset=asset_key, blocking=True, description=desc) for name, desc in described]


def check_results(ref: SpecRef, validation: ValidateResult) -> Iterator[AssetCheckResult]:
    """The core's checks as Dagster check results, each naming its metric, value and threshold."""
    asset_key = ref.asset_key("validated_model")
    # a per-slice gate has one check per slice: they are grouped by the gate they stand for
    per_gate = [
        [c for c in validation.checks if c.check in ("gate", "slice") and c.gate == i] for i in range(len(ref.gates))
    ]
    per_fairness = [
        [c for c in validation.checks if c.check == "fairness" and c.gate == i] for i in range(len(ref.fairness))
    ]
    general = [c for c in validation.checks if c.check == "gate" and c.kind is None]
    if not all(per_gate + per_fairness):  # SpecRef.load guards this; never map a result to the wrong gate
        counted = sum(1 for checks in per_gate if checks)
        raise MlpublishError(f"{ref.name}: {counted} gate results for {len(ref.gates)} gate checks")

    for name, checks in zip(ref.gates + ref.fairness, per_gate + per_fairness, strict=True):
        yield check_result(asset_key, name, checks, "")
    yield check_result(asset_key, GATES_APPLIED, general, f"{len(per_gate)} gate(s) configured, at least one applied")
    yield check_result(
        asset_key, SMOKE_TEST, [c for c in validation.checks if c.check == "smoke_test"], "no smoke test ran"
    )
    yield check_result(
        asset_key, DATA_CONTRACT, [c for c in validation.checks if c.check == "contract"], "no contract check ran"
    )
    yield check_result(
        asset_key, REQUIRED_METADATA, [c for c in validation.checks if c.check == "metadata"], "no metadata check ran"
    )


def check_result(asset_key: AssetKey, name: str, checks: list[Any], default: str) -> AssetCheckResult:
    """One asset check from the core checks it stands for (a per-slice gate: one per slice)."""
    passed = all(c.passed for c in checks)
    meta: dict[str, Any] = {
        "outcome": MetadataValue.text(
            "FAIL" if not passed else ("SKIPPED" if checks and all(c.outcome == "skipped" for c in checks) else "PASS")
        )
    }
    if len(checks) == 1:
        c = checks[0]
        for field in ("metric", "kind"):
            if getattr(c, field) is not None:
                meta[field] = MetadataValue.text(getattr(c, field))
        for field in ("value", "threshold", "champion_value"):
            if getattr(c, field) is not None:
                meta[field] = MetadataValue.float(float(getattr(c, field)))
    # failures first: a per-slice gate's failing slice must survive the 2000-character cut
    detail = "; ".join(f"{c.name}: {c.detail}" for c in sorted(checks, key=lambda c: c.passed)) or default
    meta["detail"] = MetadataValue.text(detail[:2000])
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=meta,
        description=detail[:2000],
    )
