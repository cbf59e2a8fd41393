"""Per-slice and fairness gates end to end, on synthetic data built to make them fire (SQLite, MLflow on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from mlpublish.catalog.local import LocalCatalog
from mlpublish.cli import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, main
from tests.conftest import write_spec

ROWS = 4000


def run_cli(*args: str) -> int:
    return main(["-q", *args])


def synthetic_frame(seed: int = 3) -> pd.DataFrame:
    """Plans a and b churn by x1, plan c by x2; a sensitive group g1 with a proxy feature x3 and a
    label biased against it (y_biased) beside a fair one (y_fair, x1 only)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["a", "b", "c"], ROWS, p=[0.4, 0.35, 0.25])
    x1, x2 = rng.normal(size=ROWS), rng.normal(size=ROWS)
    noise = rng.normal(scale=0.5, size=ROWS)
    churned = np.where(plan == "c", x2 + noise > 0, x1 + noise > 0).astype(int)
    group = rng.choice([0, 1], ROWS)
    x3 = group + rng.normal(scale=0.3, size=ROWS)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, ROWS + 1),
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "plan": plan,
            "grp": np.where(group == 1, "g1", "g0"),
            "churned": churned,
            "y_fair": (x1 + noise > 0).astype(int),
            "y_biased": (x1 + 2.5 * group + noise > 1.25).astype(int),
        }
    )


@pytest.fixture
def synthetic(workspace):
    synthetic_frame().to_sql("synthetic", sa.create_engine(workspace.warehouse_url), index=False, if_exists="replace")
    return workspace


def spec(ws, name: str, features: list[str], validation: dict, target: str = "churned", filename: str = "s.yaml"):
    return write_spec(
        ws.root / filename,
        {
            "name": name,
            "description": "synthetic",
            "owners": ["tests"],
            "algorithm": "LogisticRegression",
            "target": target,
            "data": {"connection": ws.warehouse_url, "trainingTable": "synthetic", "keyColumns": ["customer_id"]},
            "mlFeatures": [{"name": f} for f in features],
            "training": {"estimator": "sklearn.linear_model.LogisticRegression", "split": {"testSize": 0.25}},
            "validation": {"requireMetadata": False, **validation},
        },
    )


SLICES = {"slices": [{"column": "plan", "minRows": 30}]}


def checks_of(run_id: str) -> list[dict]:
    return json.loads(Path(MlflowClient().download_artifacts(run_id, "validation/checks.json")).read_text())


def test_candidate_better_on_average_but_worse_on_one_plan_is_failed_naming_the_slice(synthetic, capsys):
    champion_spec = spec(synthetic, "sliced", ["x2"], {**SLICES, "gates": [{"metric": "roc_auc", "min": 0.5}]})
    assert run_cli("run", str(champion_spec)) == EXIT_OK
    capsys.readouterr()

    gates = [{"metric": "roc_auc", "min": 0.5}, {"metric": "recall", "maxDropVsChampion": 0.02, "perSlice": "plan"}]
    candidate_spec = spec(synthetic, "sliced", ["x1", "x2"], {**SLICES, "gates": gates})
    assert run_cli("run", str(candidate_spec)) == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "validation FAILED" in out
    assert "FAIL    recall maxDropVsChampion 0.02 [plan=c]" in out  # the gate table names the slice

    client = MlflowClient()
    assert str(client.get_model_version_by_alias("sliced", "champion").version) == "1"  # champion unchanged
    failed = client.search_runs(
        [client.get_experiment_by_name("mlpublish/sliced").experiment_id], "tags.model_validation_status = 'FAILED'"
    )[0]
    assert failed.data.metrics["test_roc_auc"] > failed.data.metrics["champion_test_roc_auc"]  # better on average
    by_slice = {c["slice"]: c for c in checks_of(failed.info.run_id) if c["check"] == "slice"}
    assert set(by_slice) == {"plan=a", "plan=b", "plan=c"}
    c = by_slice["plan=c"]
    assert c["outcome"] == "fail" and c["metric"] == "recall" and c["threshold"] == 0.02
    assert c["champion_value"] - c["value"] > 0.02 and c["gate"] == 1 and c["rows"] >= 30
    assert "recall=" in c["detail"] and "vs champion v1" in c["detail"] and "exceeds maxDrop 0.02" in c["detail"]
    tags = failed.data.tags
    assert any(v.startswith("FAIL recall maxDropVsChampion 0.02 [plan=c]") for k, v in tags.items() if "check" in k)
    summary = LocalCatalog(synthetic.catalog_path).find_model("sliced")["extension"]["validationSummary"]
    assert "[plan=c]" in summary and "maxDrop 0.02" in summary
    card = Path(client.download_artifacts(failed.info.run_id, "model_card/model_card.md")).read_text()
    assert "## Slices (held-out rows)" in card and "| plan=c |" in card and "## What the model relies on" in card
    artifacts = {a.path for a in client.list_artifacts(failed.info.run_id, "evaluation")}
    assert {"evaluation/reliability.png", "evaluation/importances.png", "evaluation/importances.json"} <= artifacts

    # the same data, the gate's tolerance widened: PASSED and promoted
    gates[1]["maxDropVsChampion"] = 1.0
    wider = spec(synthetic, "sliced", ["x1", "x2"], {**SLICES, "gates": gates})
    assert run_cli("run", str(wider)) == EXIT_OK
    out = capsys.readouterr().out
    assert "validation PASSED" in out and "PASS    recall maxDropVsChampion 1 [plan=c]" in out
    assert str(client.get_model_version_by_alias("sliced", "champion").version) != "1"


def fairness(bound: float) -> dict:
    return {
        "gates": [{"metric": "roc_auc", "min": 0.5}],
        "fairness": [{"sensitiveColumn": "grp", "metric": "selection_rate", "measure": "difference", "bound": bound}],
    }


@pytest.mark.parametrize(("target", "passed"), [("y_biased", False), ("y_fair", True)])
def test_disparity_gate_fails_a_model_of_a_biased_label_and_passes_a_fair_one(synthetic, capsys, target, passed):
    path = spec(synthetic, f"fair_{target}", ["x1", "x3"], fairness(0.15), target=target)
    assert run_cli("run", str(path)) == (EXIT_OK if passed else EXIT_REJECTED)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "selection_rate difference by grp <= 0.15" in x)
    assert line.strip().startswith("PASS" if passed else "FAIL")
    client = MlflowClient()
    run = client.search_runs([client.get_experiment_by_name(f"mlpublish/fair_{target}").experiment_id])[0]
    (check,) = [c for c in checks_of(run.info.run_id) if c["check"] == "fairness"]
    assert check["outcome"] == ("pass" if passed else "fail") and check["threshold"] == 0.15
    assert (check["value"] <= 0.15) is passed and "g0=" in check["detail"] and "g1=" in check["detail"]


def test_check_refuses_a_missing_slice_or_sensitive_column_before_any_write(synthetic, capsys):
    validation = {
        "gates": [{"metric": "roc_auc", "min": 0.5}],
        "slices": [{"column": "region"}],
        "fairness": [{"sensitiveColumn": "gender", "metric": "selection_rate", "bound": 0.1}],
    }
    path = spec(synthetic, "missing_cols", ["x1"], validation)
    assert run_cli("check", str(path)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "validation.slices[0].column" in err and "'region' not found" in err
    assert "validation.fairness[0].sensitiveColumn" in err and "'gender' not found" in err
    assert run_cli("run", str(path)) == EXIT_ERROR
    assert MlflowClient().get_experiment_by_name("mlpublish/missing_cols") is None


def test_a_champion_that_moved_after_validation_is_recompared_slice_by_slice(synthetic, capsys):
    """Validated against v1, promoted after v2 took over: the per-slice gate is measured again against v2 on
    the candidate's own rows, and a candidate that now loses one plan is refused (no overall relative gate
    would have caught it)."""
    from mlpublish.steps import promote_challenger
    from tests.support.helpers import run_steps

    absolute = {**SLICES, "gates": [{"metric": "roc_auc", "min": 0.5}]}
    per_slice = {
        **SLICES,
        "gates": [*absolute["gates"], {"metric": "recall", "maxDropVsChampion": 0.1, "perSlice": "plan"}],
    }
    assert run_cli("run", str(spec(synthetic, "moved", ["x1"], absolute, filename="v1.yaml"))) == EXIT_OK
    # the candidate: x1 and x2 (and an uninformative x3), within 0.1 of v1's recall on every plan
    candidate = run_steps(spec(synthetic, "moved", ["x1", "x2", "x3"], per_slice, filename="candidate.yaml"))
    assert candidate["validate"].status == "PASSED", candidate["validate"].summary()
    assert candidate["evaluate"].champion_version == "1"
    # meanwhile v3 (x2: the one feature that matters on plan c) becomes champion on absolute gates alone
    assert run_cli("run", str(spec(synthetic, "moved", ["x2"], absolute, filename="v3.yaml"))) == EXIT_OK
    client = MlflowClient()
    moved_to = str(client.get_model_version_by_alias("moved", "champion").version)
    assert moved_to not in ("1", candidate["register"].version)
    capsys.readouterr()

    c = candidate
    result = promote_challenger(c["ctx"], c["evaluate"], c["validate"], c["register"])
    assert not result.promoted and result.champion_after == moved_to
    assert f"champion moved from v1 to v{moved_to}" in result.reason and "[plan=c]" in result.reason
    [failed] = [k for k in result.checks if not k.passed]
    assert failed.check == "slice" and failed.slice == "plan=c" and failed.champion_value - failed.value > 0.1
    assert str(client.get_model_version_by_alias("moved", "champion").version) == moved_to


def test_a_slice_column_of_ids_is_refused_before_any_run(synthetic, capsys):
    path = spec(
        synthetic, "ids", ["x1"], {"slices": [{"column": "customer_id"}], "gates": [{"metric": "roc_auc", "min": 0.5}]}
    )
    assert run_cli("run", str(path)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(path) in err and "validation.slices[0].column" in err
    assert f"'customer_id' has {ROWS} distinct values" in err and "bins" in err
    assert MlflowClient().search_registered_models() == []
    experiment = MlflowClient().get_experiment_by_name("mlpublish/ids")
    assert experiment is None or MlflowClient().search_runs([experiment.experiment_id]) == []
