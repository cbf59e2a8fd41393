"""Which notifications an outcome makes (mlpublish.notify.events): a shadow challenger is told nothing by the
chain; a promotion on live labels, or a win waiting for an approver, is told with its live evidence."""

from __future__ import annotations

from mlpublish.notify import Source, chain_notifications, live_promotion_notification
from mlpublish.notify.render import text
from mlpublish.promotion.shadow import decide_on_live_labels
from mlpublish.results import (
    ChainResult,
    LivePromotionResult,
    PromoteResult,
    RegisterResult,
    TrainResult,
)
from tests.support.live_windows import live_duel as duel
from tests.support.notify_results import results

SOURCE = Source(orchestrator="cli")


def decision(pairs):
    champ, chall = duel(pairs)
    return decide_on_live_labels(
        champ,
        chall,
        champion_version="1",
        challenger_version="2",
        metric="roc_auc",
        gates=[],
        window_n=2,
        window_m=3,
        min_labelled_rows=100,
    )


def live(outcome: str, pairs=((0.80, 0.85), (0.80, 0.79), (0.80, 0.86))) -> LivePromotionResult:
    d = decision(list(pairs))
    promotion = None
    if outcome == "PROMOTED":
        promotion = PromoteResult(
            model_name="churn", version="2", promoted=True, mode="shadow", champion_before="1",
            champion_after="2", reason=f"promoted on live labels: {d.reason}",
        )  # fmt: skip
    return LivePromotionResult(
        model_name="churn",
        outcome=outcome,
        challenger="2",
        champion_before="1",
        champion_after="2" if promotion else "1",
        promoted=promotion is not None,
        reason=promotion.reason if promotion else d.reason,
        decision=d,
        promotion=promotion,
        challenger_run_id="run2",
    )


def test_a_promotion_on_live_labels_carries_the_live_table_and_every_window():
    n = live_promotion_notification(live("PROMOTED"), source=SOURCE, tracking_uri=None, catalog_fqn="svc.churn")
    assert (n.event, n.outcome, n.version, n.champion_before, n.champion_after) == (
        "promotion",
        "PROMOTED",
        "2",
        "1",
        "2",
    )
    assert n.title == "churn: v2 is champion" and "won 2 of the last 3" in n.summary
    assert n.candidate_label == "v2 (challenger, live)" and n.champion_label == "v1 (champion, live)"
    row = next(r for r in n.metrics if r.metric == "roc_auc")
    assert (row.candidate, row.champion, row.candidate_better) == (0.86, 0.80, True)  # the latest window
    assert n.checks == [] and n.run_id == "run2"  # the move's checks: set by the step (see test_promote_live)
    assert "window" in n.summary and "metrics: live" in n.summary


def test_a_win_waiting_for_approval_is_told_with_its_windows_and_a_wait_is_not():
    n = live_promotion_notification(live("APPROVAL_REQUESTED"), source=SOURCE, tracking_uri=None, catalog_fqn=None)
    assert n.outcome == "NOT_PROMOTED" and n.title == "churn: v2 won on live labels and waits for approval"
    assert [c.outcome for c in n.checks] == ["pass", "fail", "pass"]
    assert "roc_auc 0.7900 vs 0.8000: does not beat the champion" in text(n)
    assert live_promotion_notification(live("WAITING"), source=SOURCE, tracking_uri=None, catalog_fqn=None) is None


def test_the_chain_tells_nothing_of_a_candidate_left_shadowing():
    evaluation, validation = results("PASSED")
    train = TrainResult(
        model_name="churn", run_id="r1", experiment_id="0", model_uri="runs:/r1/model", model_id=None,
        task="classification", select_by="roc_auc", params={}, candidates=[], train_rows=1, test_rows=1,
        dataset_digest="d", training_fqn="t", fit_seconds=1.0,
    )  # fmt: skip
    registration = RegisterResult(model_name="churn", run_id="r1", status="PASSED", version="5", created=True)

    def chain(**promotion) -> ChainResult:
        p = PromoteResult(
            model_name="churn", version="5", champion_before="4", champion_after="4", reason="r", **promotion
        )
        return ChainResult(
            training=train, evaluation=evaluation, validation=validation, registration=registration, promotion=p
        )

    shadowing = chain(promoted=False, mode="shadow", shadow=True)
    assert [n.event for n in chain_notifications(shadowing, source=SOURCE, tracking_uri=None, catalog_fqn=None)] == [
        "gate"
    ]
    first = chain(promoted=True, mode="shadow")  # no champion to shadow: promoted as in auto mode, and told
    assert [n.event for n in chain_notifications(first, source=SOURCE, tracking_uri=None, catalog_fqn=None)] == [
        "gate",
        "promotion",
    ]
