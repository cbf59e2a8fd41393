"""The step operators (mlpublish_airflow.publish): no I/O at construction, their OpenLineage inputs and outputs,
and how they translate step results into Airflow outcomes (the steps themselves are exercised for real in
tests/integration/airflow; here they are replaced to reach every branch)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.evaluation.gates import CheckResult
from mlpublish.results import PromoteResult, RegisterResult, ValidateResult
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

pytest.importorskip("airflow.sdk")


class FakeTI:
    dag_id, run_id = "mlpublish__m", "manual__1"

    def __init__(self, xcoms: dict[str, Any]):
        self.xcoms, self.pushed = xcoms, {}

    def xcom_pull(self, task_ids: str) -> Any:
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def ctx_for(tmp_path, **overrides):
    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict(**overrides)))
    return SimpleNamespace(spec=spec, registry="registry", catalog="catalog")


def failed_validation() -> ValidateResult:
    gate = CheckResult(
        check="gate",
        name="roc_auc min 0.99",
        outcome="fail",
        metric="roc_auc",
        kind="min",
        threshold=0.99,
        value=0.77,
        detail="roc_auc=0.7700 < min 0.99",
    )
    return ValidateResult(model_name="m", run_id="r1", status="FAILED", checks=[gate], champion_version=None)


UPSTREAM = {"train": {"x": 1}, "evaluate": {"x": 1}}


@pytest.fixture
def no_rebuild(monkeypatch):
    """Upstream XComs are passed through as they are (their models are covered elsewhere)."""
    from mlpublish_airflow.publish import PublishStepOperator

    monkeypatch.setattr(
        PublishStepOperator, "upstream", lambda self, context, step, model: context["ti"].xcom_pull(step)
    )


@pytest.mark.parametrize("on_failure, exc_name", [("fail", "CandidateRejected"), ("skip", "CandidateRejectedSkip")])
def test_failed_gate_names_metric_value_threshold(tmp_path, monkeypatch, no_rebuild, on_failure, exc_name):
    import mlpublish.steps
    from mlpublish_airflow import ValidateModelOperator, exceptions

    monkeypatch.setattr(mlpublish.steps, "validate_candidate", lambda ctx, t, e: failed_validation())
    ti = FakeTI(UPSTREAM)
    op = ValidateModelOperator(task_id="validate", spec_path="unused")
    with pytest.raises(getattr(exceptions, exc_name)) as err:
        op.run_step(ctx_for(tmp_path, validation={"onFailure": on_failure}), {"ti": ti})
    assert "roc_auc=0.7700 < min 0.99" in str(err.value) and "run r1 FAILED" in str(err.value)
    assert ti.pushed["rejected"]["status"] == "FAILED"


def test_failed_gate_registers_the_audit_version_when_asked(tmp_path, monkeypatch, no_rebuild):
    """register never runs after a rejected candidate: validate keeps it for audit itself (as the CLI does)."""
    import mlpublish.steps
    from mlpublish_airflow import ValidateModelOperator, exceptions

    calls = []

    def register(ctx, train, evaluation, validation):
        calls.append(validation.status)
        return RegisterResult(model_name="m", run_id="r1", status="FAILED", version="4", created=True)

    monkeypatch.setattr(mlpublish.steps, "validate_candidate", lambda ctx, t, e: failed_validation())
    monkeypatch.setattr(mlpublish.steps, "register_version", register)
    for register_failed, expected in ((False, []), (True, ["FAILED"])):
        calls.clear()
        ti = FakeTI(UPSTREAM)
        with pytest.raises(exceptions.CandidateRejected):
            ValidateModelOperator(task_id="validate", spec_path="unused").run_step(
                ctx_for(tmp_path, validation={"registerFailed": register_failed}), {"ti": ti}
            )
        assert calls == expected
        assert ("audit_version" in ti.pushed) is register_failed
    assert ti.pushed["audit_version"]["version"] == "4"


def test_promotion_refused_is_a_skip_with_the_reason(tmp_path, monkeypatch, no_rebuild):
    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.exceptions import PromotionRefused

    reason = "champion moved from v1 to v2 after validation and v3 no longer beats it: roc_auc drop 0.05"
    monkeypatch.setattr(
        mlpublish.steps,
        "promote_challenger",
        lambda ctx, e, v, r: PromoteResult(
            model_name="m",
            version="3",
            promoted=False,
            mode="auto",
            champion_before="2",
            champion_after="2",
            reason=reason,
        ),
    )
    reg = RegisterResult(model_name="m", run_id="r1", status="PASSED", version="3", created=True)
    ti = FakeTI({**UPSTREAM, "validate": {"x": 1}, "register": reg})
    with pytest.raises(PromotionRefused, match="no longer beats it"):
        PromoteModelOperator(task_id="promote", spec_path="unused").run_step(ctx_for(tmp_path), {"ti": ti})
    assert ti.pushed["refused"]["reason"] == reason  # for the notification callback


@pytest.mark.parametrize("approval", [None, {"chosen_options": ["Reject"]}])
def test_manual_mode_promotes_only_an_approved_version(tmp_path, monkeypatch, no_rebuild, approval):
    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.exceptions import PromotionRefused

    calls = []
    monkeypatch.setattr(mlpublish.steps, "promote_version", lambda *a, **k: calls.append((a, k)))
    reg = RegisterResult(model_name="m", run_id="r1", status="PASSED", version="3", created=True)
    ti = FakeTI({"register": reg, "approve_promotion": approval})
    with pytest.raises(PromotionRefused, match="not approved"):
        PromoteModelOperator(task_id="promote", spec_path="unused").run_step(
            ctx_for(tmp_path, promotion={"mode": "manual"}), {"ti": ti}
        )
    assert calls == []


def test_manual_mode_approved_records_who(tmp_path, monkeypatch, no_rebuild):
    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator

    calls = []
    monkeypatch.setattr(
        mlpublish.steps,
        "promote_version",
        lambda reg, cat, name, version, reason: (
            calls.append((reg, cat, name, version, reason))
            or PromoteResult(
                model_name=name,
                version=version,
                promoted=True,
                mode="manual",
                champion_before=None,
                champion_after=version,
                reason=reason,
            )
        ),
    )
    reg = RegisterResult(model_name="m", run_id="r1", status="PASSED", version="3", created=True)
    ti = FakeTI(
        {
            "register": reg,
            "approve_promotion": {"chosen_options": ["Approve"], "responded_by_user": {"id": "7", "name": "ada"}},
        }
    )
    out = PromoteModelOperator(task_id="promote", spec_path="unused").run_step(
        ctx_for(tmp_path, promotion={"mode": "manual"}), {"ti": ti}
    )
    assert out["promoted"] is True
    ((registry, catalog, name, version, reason),) = calls
    assert (registry, catalog, name, version) == ("registry", "catalog", "customer_churn_predictor", "3")
    assert "approved by ada" in reason and "mlpublish__m run manual__1" in reason


def test_nothing_new_skips_register_and_what_follows_with_the_reason(tmp_path, monkeypatch, no_rebuild):
    """A candidate that reproduces the champion: register is skipped (so approval and promote are), the
    reason says NOTHING NEW, and validate's callback notifies nobody."""
    import mlpublish.steps
    from mlpublish_airflow import RegisterModelVersionOperator
    from mlpublish_airflow.exceptions import NothingNew

    reason = "NOTHING NEW: run r2 reproduces champion v1 (run r1): same training data ..."
    monkeypatch.setattr(
        mlpublish.steps,
        "register_version",
        lambda ctx, t, e, v: RegisterResult(
            model_name="m",
            run_id="r2",
            status="PASSED",
            version=None,
            created=False,
            reason=reason,
            same_as_champion="1",
        ),
    )
    ti = FakeTI({**UPSTREAM, "validate": {"x": 1}})
    with pytest.raises(NothingNew, match="NOTHING NEW: run r2 reproduces champion v1"):
        RegisterModelVersionOperator(task_id="register", spec_path="unused").run_step(ctx_for(tmp_path), {"ti": ti})
    assert ti.pushed["nothing_new"]["version"] is None and ti.pushed["nothing_new"]["same_as_champion"] == "1"


def test_failed_slice_gate_names_metric_slice_values_and_threshold(tmp_path, monkeypatch, no_rebuild):
    import mlpublish.steps
    from mlpublish_airflow import ValidateModelOperator, exceptions

    sliced = CheckResult(
        check="slice",
        gate=0,
        slice="plan=premium",
        name="recall maxDropVsChampion 0.02 [plan=premium]",
        outcome="fail",
        metric="recall",
        kind="maxDropVsChampion",
        threshold=0.02,
        value=0.3,
        champion_value=0.4,
        detail="200 rows: recall=0.3000 vs champion v1 0.4000: drop 0.1000 exceeds maxDrop 0.02",
    )
    failed = ValidateResult(model_name="m", run_id="r1", status="FAILED", checks=[sliced], champion_version="1")
    monkeypatch.setattr(mlpublish.steps, "validate_candidate", lambda ctx, t, e: failed)
    op = ValidateModelOperator(task_id="validate", spec_path="unused")
    with pytest.raises(exceptions.CandidateRejected) as err:
        op.run_step(ctx_for(tmp_path), {"ti": FakeTI(UPSTREAM)})
    message = str(err.value)
    assert "recall maxDropVsChampion 0.02 [plan=premium]" in message
    assert "recall=0.3000 vs champion v1 0.4000" in message and "exceeds maxDrop 0.02" in message


def test_operators_do_no_io_at_construction(tmp_path):
    from mlpublish_airflow import TrainModelOperator

    op = TrainModelOperator(
        task_id="train", spec_path=str(tmp_path / "missing.yaml"), overrides="{{ params.overrides }}"
    )
    assert op.spec_path.endswith("missing.yaml") and op.template_fields == ("spec_path", "overrides")
    with pytest.raises(TypeError):
        TrainModelOperator("train", spec_path="x")  # keyword-only


def test_operators_report_openlineage_inputs_and_outputs(tmp_path, monkeypatch):
    pytest.importorskip("airflow.providers.openlineage")
    from airflow.providers.openlineage.extractors import OperatorLineage

    from mlpublish_airflow import EvaluateModelOperator, TrainModelOperator

    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", "http://mlflow.example:5000")
    path = str(write_spec(tmp_path / "s.yaml", churn_dict(data={"connection": "sqlite:////data/wh.db"})))
    lineage = TrainModelOperator(task_id="train", spec_path=path).get_openlineage_facets_on_complete(None)
    assert isinstance(lineage, OperatorLineage)
    assert [(d.namespace, d.name) for d in lineage.inputs][:2] == [
        ("sqlite:///data/wh.db", "main.main.customer_features"),
        ("sqlite:///data/wh.db", "main.main.orders"),
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("http://mlflow.example:5000", "models/customer_churn_predictor")
    ]
    evaluate = EvaluateModelOperator(task_id="evaluate", spec_path=path).get_openlineage_facets_on_complete(None)
    assert evaluate.outputs == [] and len(evaluate.inputs) == 4


def test_approval_required_approves_as_the_responding_user(tmp_path, monkeypatch, no_rebuild):
    """promotion.approval: required: the Airflow user who answered is the approver the core checks and records."""
    import mlpublish.promotion.approval as approval
    from mlpublish_airflow import PromoteModelOperator

    calls = []

    def approve(reg, cat, name, version, *, reason, approver):
        calls.append((name, version, approver, reason))
        return PromoteResult(
            model_name=name,
            version=version,
            promoted=True,
            mode="manual",
            champion_before=None,
            champion_after=version,
            reason=reason,
        )

    monkeypatch.setattr(approval, "approve_version", approve)
    monkeypatch.setattr(PromoteModelOperator, "champion_moved", lambda self, ctx, context, result: result.to_json())
    reg = RegisterResult(model_name="m", run_id="r1", status="PASSED", version="3", created=True)
    answer = {"chosen_options": ["Approve"], "responded_by_user": {"id": "ada", "name": "ada"}}
    ti = FakeTI({"register": reg, "approve_promotion": answer})
    spec = {"mode": "auto", "approval": "required", "approvers": ["ada"]}
    out = PromoteModelOperator(task_id="promote", spec_path="unused").run_step(
        ctx_for(tmp_path, promotion=spec), {"ti": ti}
    )
    assert out["promoted"] is True
    ((name, version, approver, reason),) = calls
    assert (name, version, approver) == ("customer_churn_predictor", "3", "ada")
    assert "mlpublish__m run manual__1" in reason
