"""promotion.mode: shadow on Airflow (mlpublish_airflow.live_promotion): the monitor DAG's tasks after monitor,
the publish DAG's promote skipping as a shadow challenger, and how the operators translate the core's outcomes
(the core step itself is tested in tests/unit/steps/test_promote_live.py; here it is replaced)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mlpublish.results import LivePromotionResult, PromoteResult, RegisterResult
from mlpublish.spec import load_spec
from tests.conftest import churn_dict, write_spec

pytest.importorskip("airflow.sdk")

SHADOW = {
    "promotion": {"mode": "shadow"},
    "scoring": {"shadow": True},
    "monitoring": {"labels": {"table": "churn_labels", "timeColumn": "observed_at"}},
}


class FakeTI:
    dag_id, run_id = "mlpublish__m__monitor", "scheduled__1"

    def __init__(self, xcoms: dict[str, Any]):
        self.xcoms, self.pushed = xcoms, {}

    def xcom_pull(self, task_ids: str) -> Any:
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class Events(dict):
    """Airflow's outlet_events: what an alias was given."""

    def __missing__(self, key: Any) -> Any:
        added: list = []
        self[key] = SimpleNamespace(added=added, add=lambda asset, extra=None: added.append((asset, extra)))
        return self[key]


def spec_at(tmp_path, **overrides):
    path = write_spec(tmp_path / "s.yaml", churn_dict(**{**SHADOW, **overrides}))
    return load_spec(path), str(path)


def live(outcome: str, promoted: bool = False) -> LivePromotionResult:
    return LivePromotionResult(
        model_name="customer_churn_predictor",
        outcome=outcome,
        challenger="3",
        champion_before="2",
        champion_after="3" if promoted else "2",
        promoted=promoted,
        reason=f"reason of {outcome}",
    )


def test_the_monitor_dag_decides_on_live_labels_beside_the_retraining_branch(tmp_path):
    from mlpublish_airflow.dag_factory import monitor_dag
    from mlpublish_airflow.notifications import notify_live_promotion

    spec, path = spec_at(tmp_path)
    dag = monitor_dag(spec, path)
    assert dag.get_task("monitor").downstream_task_ids == {"retrain_requested", "promote_on_live_labels"}
    task = dag.get_task("promote_on_live_labels")
    assert list(task.on_success_callback) == [notify_live_promotion] and task.downstream_task_ids == set()
    assert [o.name for o in task.outlets] == ["mlpublish-live-promotion/mlflow-local.customer_churn_predictor"]
    plain = write_spec(tmp_path / "p.yaml", churn_dict())
    assert "promote_on_live_labels" not in monitor_dag(load_spec(plain), str(plain)).task_ids


def test_under_four_eyes_the_monitor_dag_asks_the_approvers_after_a_win(tmp_path):
    from mlpublish_airflow.dag_factory import build_dag, monitor_dag

    spec, path = spec_at(tmp_path, promotion={"mode": "shadow", "approval": "required", "approvers": ["ada"]})
    dag = monitor_dag(spec, path)
    order = ["promote_on_live_labels", "live_approval_requested", "approve_live_promotion", "promote_approved"]
    for before, after in zip(order, order[1:]):
        assert dag.get_task(before).downstream_task_ids == {after}
    assert dag.get_task("approve_live_promotion").assigned_users == [{"id": "ada", "name": "ada"}]
    assert "approve_promotion" not in build_dag(spec, path).task_ids  # not at the end of the chain


def test_the_live_task_succeeds_whatever_it_decided_and_only_a_move_emits_the_model_event(tmp_path, monkeypatch):
    import mlpublish.steps.promote_live as step
    from mlpublish_airflow.live_promotion import PromoteOnLiveLabelsOperator, live_alias, live_approval_requested

    spec, _ = spec_at(tmp_path)
    ctx = SimpleNamespace(spec=spec)
    op = PromoteOnLiveLabelsOperator(task_id="promote_on_live_labels", spec_path="unused")
    for outcome, promoted in (("WAITING", False), ("PROMOTED", True), ("APPROVAL_REQUESTED", False)):
        monkeypatch.setattr(step, "promote_on_live_labels", lambda c, o=outcome, p=promoted: live(o, p))
        events = Events()
        out = op.run_step(ctx, {"ti": FakeTI({}), "outlet_events": events})
        assert out["outcome"] == outcome
        added = events[live_alias(spec)].added
        assert [(a.name, e["version"]) for a, e in added] == ([(spec.fqn, "3")] if promoted else [])
        assert live_approval_requested(FakeTI({"promote_on_live_labels": out})) is (outcome == "APPROVAL_REQUESTED")


@pytest.mark.parametrize("answer", [None, {"chosen_options": ["Reject"]}])
def test_the_live_winner_moves_only_on_an_approval(tmp_path, monkeypatch, answer):
    import mlpublish.promotion.approval as approval
    from mlpublish_airflow.exceptions import PromotionRefused
    from mlpublish_airflow.live_promotion import PromoteLiveWinnerOperator

    calls = []
    monkeypatch.setattr(approval, "approve_version", lambda *a, **k: calls.append((a, k)))
    spec, _ = spec_at(tmp_path)
    ti = FakeTI({"promote_on_live_labels": live("APPROVAL_REQUESTED").to_json(), "approve_live_promotion": answer})
    with pytest.raises(PromotionRefused, match="v3 was not approved in task 'approve_live_promotion'"):
        PromoteLiveWinnerOperator(task_id="promote_approved", spec_path="unused").run_step(
            SimpleNamespace(spec=spec), {"ti": ti}
        )
    assert calls == []


def test_the_live_winner_is_approved_as_the_responding_user(tmp_path, monkeypatch):
    import mlpublish.promotion.approval as approval
    from mlpublish_airflow.live_promotion import PromoteLiveWinnerOperator

    calls = []

    def approve(reg, cat, name, version, *, reason, approver):
        calls.append((name, version, approver, reason))
        return PromoteResult(
            model_name=name, version=version, promoted=True, mode="manual", champion_before="2",
            champion_after=version, reason=reason,
        )  # fmt: skip

    monkeypatch.setattr(approval, "approve_version", approve)
    monkeypatch.setattr(PromoteLiveWinnerOperator, "champion_moved", lambda self, ctx, context, r: r.to_json())
    spec, _ = spec_at(tmp_path)
    answer = {"chosen_options": ["Approve"], "responded_by_user": {"id": "ada", "name": "ada"}}
    ti = FakeTI({"promote_on_live_labels": live("APPROVAL_REQUESTED").to_json(), "approve_live_promotion": answer})
    out = PromoteLiveWinnerOperator(task_id="promote_approved", spec_path="unused").run_step(
        SimpleNamespace(spec=spec, registry="registry", catalog="catalog"), {"ti": ti}
    )
    assert out["champion_after"] == "3"
    ((name, version, approver, reason),) = calls
    assert (name, version, approver) == ("customer_churn_predictor", "3", "ada")
    assert "after winning on live labels" in reason and "mlpublish__m__monitor run scheduled__1" in reason


def test_the_publish_dag_skips_promote_for_a_shadow_challenger_and_tells_nobody(tmp_path, monkeypatch):
    import mlpublish.steps
    from mlpublish_airflow import PromoteModelOperator
    from mlpublish_airflow.exceptions import ShadowChallenger
    from mlpublish_airflow.publish import PublishStepOperator

    monkeypatch.setattr(
        PublishStepOperator, "upstream", lambda self, context, step, model: context["ti"].xcom_pull(step)
    )
    waiting = PromoteResult(
        model_name="m", version="3", promoted=False, mode="shadow", champion_before="2", champion_after="2",
        reason="promotion.mode is shadow: v3 is challenger", shadow=True,
    )  # fmt: skip
    monkeypatch.setattr(mlpublish.steps, "promote_challenger", lambda ctx, e, v, r: waiting)
    spec, _ = spec_at(tmp_path)
    reg = RegisterResult(model_name="m", run_id="r1", status="PASSED", version="3", created=True)
    ti = FakeTI({"evaluate": {}, "validate": {}, "register": reg})
    with pytest.raises(ShadowChallenger, match="v3 is challenger"):
        PromoteModelOperator(task_id="promote", spec_path="unused").run_step(SimpleNamespace(spec=spec), {"ti": ti})
    assert ti.pushed == {"shadow": waiting.to_json()}  # no "refused": the notification callback says nothing


def test_the_live_task_notifies_a_move_with_its_windows_and_a_wait_not_at_all(tmp_path, monkeypatch):
    from mlpublish.promotion.shadow import decide_on_live_labels
    from mlpublish_airflow.hooks import OpenMetadataHook
    from mlpublish_airflow.live_promotion import PromoteOnLiveLabelsOperator
    from mlpublish_airflow.notifications import notify_live_promotion
    from tests.support.live_windows import live_duel
    from tests.support.notify_receivers import HttpReceiver

    spec, _ = spec_at(tmp_path)
    monkeypatch.setattr(PromoteOnLiveLabelsOperator, "load_spec", lambda self: spec)
    monkeypatch.setattr(OpenMetadataHook, "settings", lambda self: None)
    champ, chall = live_duel([(0.80, 0.85), (0.80, 0.86)], champion="2", challenger="3")
    decision = decide_on_live_labels(
        champ, chall, champion_version="2", challenger_version="3", metric="roc_auc", gates=[], window_n=2,
        window_m=3, min_labelled_rows=100,
    )  # fmt: skip
    moved = live("PROMOTED", True).model_copy(update={"decision": decision})
    task = PromoteOnLiveLabelsOperator(task_id="promote_on_live_labels", spec_path="unused")

    class TI(FakeTI):
        task_id = "promote_on_live_labels"
        log_url = "http://airflow.local:8080/dags/d/runs/r/tasks/promote_on_live_labels"

        def xcom_pull(self, task_ids: str, key: str | None = None) -> Any:
            return self.xcoms.get(task_ids)

    with HttpReceiver() as http:
        monkeypatch.setenv("MLPUBLISH_NOTIFY_WEBHOOK_URL", http.url("/hook"))
        notify_live_promotion({"task": task, "ti": TI({"promote_on_live_labels": live("WAITING").to_json()})})
        assert http.requests == []
        notify_live_promotion({"task": task, "ti": TI({"promote_on_live_labels": moved.to_json()})})
        [hook] = [r["json"] for r in http.received("/hook")]
    assert (hook["event"], hook["outcome"], hook["version"], hook["champion_before"]) == (
        "promotion",
        "PROMOTED",
        "3",
        "2",
    )
    assert hook["candidate_label"] == "v3 (challenger, live)" and "metrics: live" in hook["summary"]
    assert {r["metric"]: r["candidate"] for r in hook["metrics"]}["roc_auc"] == 0.86
