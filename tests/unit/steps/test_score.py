"""The score step (mlpublish.steps.score): its labels come from predict_proba (one ensemble pass per chunk), always
the labels of predict; Spark-only fields need the Spark engine."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlpublish.errors import StepError
from mlpublish.spec import load_spec
from mlpublish.steps.score import MostProbableClass, engine_of
from tests.conftest import churn_dict, write_spec

FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "support_tickets", "plan"]


def labels_in_chunks(model, X, chunk=700):
    labels = MostProbableClass(model)
    return np.concatenate(
        [labels.of(X.iloc[i : i + chunk], model.predict_proba(X.iloc[i : i + chunk])) for i in range(0, len(X), chunk)]
    )


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    import sqlalchemy as sa

    from mlpublish.demo.data import build_demo_warehouse
    from mlpublish.modelling import prepare_features

    url = f"sqlite:///{tmp_path_factory.mktemp('labels') / 'warehouse.db'}"
    build_demo_warehouse(url, customers=3000, seed=11)
    frame = pd.read_sql_table("customer_features", sa.create_engine(url))
    return prepare_features(frame, FEATURES, ["plan"]), frame["churned"]


def test_the_demo_model_labels_equal_predict(demo_rows):
    from mlpublish.modelling import build_model, resolve_estimator

    X, y = demo_rows
    # the demo spec's estimator and hyper-parameters (specs/churn.yaml)
    ref = resolve_estimator("sklearn.ensemble.RandomForestClassifier", "classification")
    model = build_model(ref, {"n_estimators": 100, "min_samples_leaf": 5, "max_depth": 8, "random_state": 0}, ["plan"])
    model.fit(X, y)
    labels = labels_in_chunks(model, X)
    assert labels.dtype == model.predict(X).dtype
    assert np.array_equal(labels, model.predict(X))


@pytest.mark.parametrize(
    "estimator",
    ["sklearn.linear_model.LogisticRegression", "sklearn.ensemble.HistGradientBoostingClassifier"],
)
def test_multi_class_string_labels_equal_predict(demo_rows, estimator):
    from mlpublish.modelling import build_model, resolve_estimator

    X, _ = demo_rows
    # three classes, none of them 0 or 1, not in sorted order of appearance
    y = np.where(X["frequency"] > X["frequency"].median(), "gold", np.where(X["recency_days"] > 60, "lapsed", "active"))
    model = build_model(resolve_estimator(estimator, "classification"), {}, ["plan"]).fit(X, y)
    assert list(model.classes_) == ["active", "gold", "lapsed"]
    assert np.array_equal(labels_in_chunks(model, X), model.predict(X))


def test_binary_labels_minus_one_and_seven_equal_predict(demo_rows):
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = demo_rows
    numeric = X.drop(columns=["plan"])
    target = np.where(y == 1, 7, -1)
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(numeric, target)
    assert np.array_equal(labels_in_chunks(model, numeric), model.predict(numeric))


class LastOfTiedClasses:
    """A classifier breaking ties toward its last class (as a decision function >= 0 does), argmax the first."""

    classes_ = np.array(["no", "yes"])

    def predict_proba(self, X):
        return np.column_stack([1 - X["p"].to_numpy(), X["p"].to_numpy()])

    def predict(self, X):
        return self.classes_.take((X["p"].to_numpy() >= 0.5).astype(int))


def test_an_exact_tie_is_broken_the_way_predict_breaks_it():
    model = LastOfTiedClasses()
    X = pd.DataFrame({"p": [0.1, 0.5, 0.9, 0.5, 0.5 - 1e-12]})
    proba = model.predict_proba(X)
    assert proba.argmax(axis=1)[1] == 0 and model.predict(X)[1] == "yes"
    assert list(MostProbableClass(model).of(X, proba)) == list(model.predict(X)) == ["no", "yes", "yes", "yes", "no"]


def test_a_tuned_threshold_is_found_and_predict_labels_every_row(demo_rows):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier

    X, y = demo_rows
    numeric = X.drop(columns=["plan"])
    model = FixedThresholdClassifier(LogisticRegression(max_iter=1000), threshold=0.2).fit(numeric, y)
    assert not np.array_equal(model.classes_.take(model.predict_proba(numeric).argmax(axis=1)), model.predict(numeric))
    assert np.array_equal(labels_in_chunks(model, numeric), model.predict(numeric))


class SlowToAnswer:
    """A tuned-threshold classifier (predict is not argmax) whose predict is slow: the first chunk's check takes
    time, so other threads label their chunks while it runs."""

    classes_ = np.array([0, 1])

    def __init__(self):
        import threading

        self.entered = threading.Event()

    def __reduce__(self):
        return (SlowToAnswer, ())

    def predict_proba(self, X):
        return np.column_stack([1 - X["p"].to_numpy(), X["p"].to_numpy()])

    def predict(self, X):
        import time

        self.entered.set()
        time.sleep(0.05)
        return (X["p"].to_numpy() >= 0.2).astype(int)


@pytest.mark.parametrize("pickled", [False, True])
def test_chunks_labelled_in_several_threads_wait_for_the_first_chunks_check(pickled):
    """Chunks are predicted two at a time (warehouse.scoring.PREDICTING_THREADS): a chunk labelled while the
    check of the first is still running must not take argmax labels the check is about to reject."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    model = SlowToAnswer()
    labels = MostProbableClass(model)
    if pickled:  # the Spark engine ships it to executors
        labels = pickle.loads(pickle.dumps(labels))
        model = labels.model
    rng = np.random.default_rng(3)
    chunks = [pd.DataFrame({"p": rng.uniform(0, 0.5, 500)}) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(labels.of, chunks[0], model.predict_proba(chunks[0]))
        assert model.entered.wait(5)  # the first chunk's check is running
        rest = [pool.submit(labels.of, c, model.predict_proba(c)) for c in chunks[1:]]
        got = [first.result()] + [f.result() for f in rest]
    for chunk, labelled in zip(chunks, got, strict=True):
        assert np.array_equal(labelled, model.predict(chunk))


def test_spark_only_fields_need_the_spark_engine(tmp_path):
    spec = load_spec(write_spec(tmp_path / "s.yaml", churn_dict(scoring={"sourceParquet": "/data/rows"})))
    ctx = SimpleNamespace(spec=spec)
    with pytest.raises(StepError, match=r"scoring.sourceParquet need\(s\) the Spark engine.*--engine spark"):
        engine_of(ctx, None)
    assert engine_of(ctx, "spark") == "spark"
    spec = load_spec(write_spec(tmp_path / "t.yaml", churn_dict(scoring={"engine": "spark"})))
    assert engine_of(SimpleNamespace(spec=spec), None) == "spark"
    assert engine_of(SimpleNamespace(spec=spec), "local") == "local"
