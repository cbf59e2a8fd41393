"""A per-slice gate is one blocking Dagster asset check over all its slices; a fairness bound is one too."""

from __future__ import annotations

from mlpublish.evaluation.gates import CheckResult
from mlpublish.results import ValidateResult
from tests.support.dagster_support import spec_folder

VALIDATION = {
    "slices": [{"column": "plan"}],
    "gates": [
        {"metric": "roc_auc", "min": 0.7},
        {"metric": "recall", "maxDropVsChampion": 0.02, "perSlice": "plan"},
    ],
    "fairness": [{"sensitiveColumn": "plan", "metric": "selection_rate", "bound": 0.2}],
}


def check(**fields) -> CheckResult:
    return CheckResult(**{"outcome": "pass", "detail": "ok", **fields})


def test_slice_and_fairness_checks_map_to_their_asset_checks(tmp_path):
    from mlpublish_dagster.checks import check_results, check_specs
    from mlpublish_dagster.specs import discover

    (ref,) = discover(spec_folder(tmp_path, validation=VALIDATION))
    assert ref.gates == ("roc_auc_min", "recall_max_drop_vs_champion")
    assert ref.fairness == ("fairness_selection_rate_difference_plan",)
    assert {s.name for s in check_specs(ref)} >= set(ref.gates + ref.fairness)
    validation = ValidateResult(
        model_name=ref.name,
        run_id="r1",
        status="FAILED",
        champion_version="1",
        checks=[
            check(check="gate", gate=0, name="roc_auc min 0.7", metric="roc_auc", kind="min", threshold=0.7),
            check(check="slice", gate=1, slice="plan=basic", name="recall [plan=basic]", kind="maxDropVsChampion"),
            check(
                check="slice",
                gate=1,
                slice="plan=premium",
                name="recall maxDropVsChampion 0.02 [plan=premium]",
                kind="maxDropVsChampion",
                outcome="fail",
                detail="200 rows: recall=0.3000 vs champion v1 0.4000: drop 0.1000 exceeds maxDrop 0.02",
            ),
            check(check="fairness", gate=0, name="selection_rate difference by plan <= 0.2", kind="bound"),
            check(check="smoke_test", name="smoke"),
            check(
                check="contract",
                name="data contract vs champion",
                outcome="fail",
                detail="blocking (data.contract.blocking): plan: removed_category gold ({basic, gold} -> {basic})",
            ),
            check(check="metadata", name="description"),
        ],
    )
    results = {r.check_name: r for r in check_results(ref, validation)}
    assert results["roc_auc_min"].passed
    sliced = results["recall_max_drop_vs_champion"]
    assert not sliced.passed and "[plan=premium]" in sliced.description and "exceeds maxDrop 0.02" in sliced.description
    assert results["fairness_selection_rate_difference_plan"].passed
    contract = results["data_contract"]
    assert not contract.passed and "plan: removed_category gold" in contract.description
    assert results["smoke_test"].passed
