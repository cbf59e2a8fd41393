"""Live metrics per window (mlpublish.steps.live_labels, mlpublish.registry.live_metrics) with an in-memory
registry: complete windows only, each (window, role, version) once, the labels read from where the serving
models' records end, an unfinished record counted as nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from mlpublish.registry.live_metrics import live_windows
from mlpublish.steps import live_labels
from mlpublish.steps.live_labels import record_live_windows

DAY0 = pd.Timestamp("2026-03-01T00:00:00Z")


class FakeRegistry:
    """The registry calls the live metrics make, on runs held in memory."""

    tracking_uri = "http://mlflow.invalid"

    def __init__(self, aliases: dict[str, str]):
        self.aliases, self.runs, self.fail_log = aliases, [], False

    def experiment_id(self, name):
        return "1" if self.runs else None

    def ensure_experiment(self, name, location):
        return "1"

    def alias_version(self, name, alias):
        return self.aliases.get(alias)

    def search_all_runs(self, ids, query, what=""):
        assert "attributes.status = 'FINISHED'" in query
        wanted = [part.split(" = ")[1].strip("'") for part in query.split(" and ") if "live.role" in part]
        return [
            r
            for r in self.runs
            if r.info.status == "FINISHED" and (not wanted or r.data.tags["mlpublish.live.role"] in wanted)
        ]

    def create_run(self, exp, name, tags, what=""):
        run = SimpleNamespace(
            info=SimpleNamespace(
                run_id=f"r{len(self.runs)}", run_name=name, status="RUNNING", start_time=len(self.runs)
            ),
            data=SimpleNamespace(tags=dict(tags), metrics={}),
        )
        self.runs.append(run)
        return run.info.run_id

    def _run(self, run_id):
        return next(r for r in self.runs if r.info.run_id == run_id)

    def log_batch(self, run_id, metrics, timestamp_ms=0, what=""):
        if self.fail_log:
            raise RuntimeError("the store went away")
        self._run(run_id).data.metrics.update(metrics)

    def end_run(self, run_id, status="FINISHED", what=""):
        self._run(run_id).info.status = status


def joined(days: list[int], roles=(("champion", "1"), ("challenger", "2"))) -> pd.DataFrame:
    """Labelled predictions: 4 labels a day (2 positive), each model right on 3 of them."""
    rows = []
    for d in days:
        for i in range(4):
            for role, version in roles:
                rows.append(
                    dict(
                        label=i % 2,
                        label_time=DAY0 + pd.Timedelta(days=d, hours=i),
                        model_role=role,
                        model_version=version,
                        prediction=(i % 2) if i < 3 else 1 - (i % 2),
                        probability=0.9 if i % 2 else 0.1,
                    )
                )
    return pd.DataFrame(rows)


@pytest.fixture
def world(monkeypatch):
    reg = FakeRegistry({"champion": "1", "challenger": "2"})
    labels = SimpleNamespace(table="labels", keyColumns=[], labelColumn=None, timeColumn="seen", windowHours=24)
    spec = SimpleNamespace(
        name="m",
        experiment_name="mlpublish/m",
        target="y",
        source_path="spec.yaml",
        data=SimpleNamespace(keyColumns=["id"], predictionsTable="preds"),
        scoring=SimpleNamespace(
            predictionsTable=None, predictionsParquet=None, predictionsSparkTable=None, shadow=True
        ),
        monitoring=SimpleNamespace(labels=labels),
        training=SimpleNamespace(positiveLabel=None),
    )
    ctx = SimpleNamespace(
        spec=spec,
        name="m",
        registry=reg,
        pipeline=None,
        preflight=SimpleNamespace(warehouse=None, task="classification"),
    )
    reads = []
    table = {"rows": joined([0, 1, 2])}

    def fake_read(wh, **kw):
        reads.append(kw)
        rows = table["rows"]
        since = kw["since"]
        keep = (rows["label_time"] < kw["until"]) & (True if since is None else rows["label_time"] >= since)
        return rows[keep].reset_index(drop=True)

    monkeypatch.setattr(live_labels, "labelled_predictions", fake_read)
    return SimpleNamespace(ctx=ctx, reg=reg, reads=reads, table=table)


def at(day: float) -> float:
    return (DAY0 + pd.Timedelta(days=day)).timestamp()


def test_complete_windows_are_recorded_once_per_role_and_version(world):
    first = record_live_windows(world.ctx, now=at(2.5))  # days 0 and 1 complete, day 2 not
    assert sorted((w.window_start, w.role, w.version) for w in first) == [
        ("2026-03-01T00:00:00Z", "challenger", "2"),
        ("2026-03-01T00:00:00Z", "champion", "1"),
        ("2026-03-02T00:00:00Z", "challenger", "2"),
        ("2026-03-02T00:00:00Z", "champion", "1"),
    ]
    w = first[0]
    assert w.window_end == "2026-03-02T00:00:00Z" and w.labelled_rows == 4 and w.metrics["accuracy"] == 0.75
    assert record_live_windows(world.ctx, now=at(2.9)) == []  # nothing new
    run = world.reg._run(w.run_id)
    assert run.info.run_name == "m-live-challenger-2026-03-01T00:00:00Z"
    assert run.data.tags["mlpublish.model_name"] == "m" and run.data.metrics["live_accuracy"] == 0.75
    assert run.data.metrics["labelled_rows"] == 4.0
    # the second read starts where both serving models' records end
    assert world.reads[0]["since"] is None
    assert pd.Timestamp(world.reads[1]["since"]) == DAY0 + pd.Timedelta(days=2)
    later = record_live_windows(world.ctx, now=at(3))
    assert {(w.window_start, w.role) for w in later} == {
        ("2026-03-03T00:00:00Z", r) for r in ("champion", "challenger")
    }
    stored = live_windows(world.reg, "mlpublish/m", "m")
    assert [w.window_start for w in stored] == sorted(w.window_start for w in stored) and len(stored) == 6
    assert [w.role for w in live_windows(world.reg, "mlpublish/m", "m", role="champion")] == ["champion"] * 3


def test_a_new_challenger_without_records_reads_from_the_start(world):
    record_live_windows(world.ctx, now=at(2))
    world.reg.aliases["challenger"] = "3"
    world.table["rows"] = pd.concat([joined([0, 1]), joined([1], roles=(("challenger", "3"),))])
    new = record_live_windows(world.ctx, now=at(2))
    assert world.reads[-1]["since"] is None
    assert [(w.window_start, w.role, w.version) for w in new] == [("2026-03-02T00:00:00Z", "challenger", "3")]


def test_a_record_that_failed_half_way_is_made_again(world):
    world.reg.fail_log = True
    with pytest.raises(RuntimeError, match="went away"):
        record_live_windows(world.ctx, now=at(1))
    assert [r.info.status for r in world.reg.runs] == ["FAILED"]
    world.reg.fail_log = False
    again = record_live_windows(world.ctx, now=at(1))
    assert len(again) == 2 and all(w.window_start == "2026-03-01T00:00:00Z" for w in again)


def test_without_labels_nothing_is_read_and_predictions_outside_the_warehouse_are_refused(world):
    world.ctx.spec.monitoring.labels = None
    assert record_live_windows(world.ctx, now=at(3)) == [] and world.reads == []
    world.ctx.spec.monitoring.labels = SimpleNamespace(
        table="labels", keyColumns=[], labelColumn=None, timeColumn="t", windowHours=1
    )
    world.ctx.spec.scoring.predictionsParquet = "/data/preds"
    from mlpublish.errors import StepError

    with pytest.raises(StepError, match="cannot be joined"):
        record_live_windows(world.ctx, now=at(3))
