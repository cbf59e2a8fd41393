"""The gate table names how a multi-class metric is averaged."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from mlpublish.evaluation.gates import CheckResult
from mlpublish.steps import validate


def checks() -> list[CheckResult]:
    return [
        CheckResult(check="gate", name="f1 min 0.5", outcome="pass", metric="f1", detail="f1=0.61 >= min 0.5"),
        CheckResult(check="gate", name="roc_auc min 0.7", outcome="pass", metric="roc_auc", detail="roc_auc=0.8"),
        CheckResult(check="gate", name="accuracy min 0.5", outcome="pass", metric="accuracy", detail="accuracy=0.7"),
    ]


def named(monkeypatch, labels: list[str], task: str = "classification") -> list[str]:
    monkeypatch.setattr(validate, "load_holdout", lambda ctx, run_id: (None, pd.Series(labels)))
    found = checks()
    validate.name_the_averaging(SimpleNamespace(), SimpleNamespace(task=task, run_id="r"), found)
    return [c.detail for c in found]


def test_three_classes_name_the_average_of_each_gated_metric(monkeypatch):
    assert named(monkeypatch, ["basic", "gold", "silver", "gold"]) == [
        "f1=0.61 >= min 0.5 (weighted average over 3 classes)",
        "roc_auc=0.8 (one-vs-rest, macro average over 3 classes)",
        "accuracy=0.7",
    ]


def test_two_classes_and_regression_say_nothing_more(monkeypatch):
    plain = [c.detail for c in checks()]
    assert named(monkeypatch, ["yes", "no", "yes"]) == plain
    assert named(monkeypatch, ["1.5", "2.5", "3.5"], task="regression") == plain
