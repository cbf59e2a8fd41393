"""The one model contract (mlpublish.modelling.contract): checked at train, read the same way by every step."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from mlpublish.errors import StepError
from mlpublish.modelling.contract import BoosterView, ModelView, check_contract, contract_view, inner_model


class Labels:
    def predict(self, X):
        return np.ones(len(X), dtype=int)


class Scores(Labels):
    def predict_proba(self, X):
        return np.tile([0.25, 0.75], (len(X), 1))


class Nothing:
    pass


def test_a_model_without_predict_is_refused_naming_trainer_class_and_method() -> None:
    with pytest.raises(StepError) as info:
        check_contract(Nothing(), "trainer team.models:train", "regression", ["rmse"])
    assert str(info.value).startswith(
        f"trainer team.models:train returned a {__name__}.Nothing, which has no predict(): every model must predict"
    )
    assert "nothing was registered" in str(info.value)


def test_a_classifier_gated_on_probabilities_needs_predict_proba() -> None:
    with pytest.raises(StepError) as info:
        check_contract(Labels(), "trainer team.models:train", "classification", ["accuracy", "roc_auc", "brier"])
    message = str(info.value)
    assert f"returned a {__name__}.Labels, which has no predict_proba()" in message
    assert "the classification metric(s) brier, roc_auc (training.selectBy or validation.gates)" in message
    # labels are enough when nothing reads probabilities, and for a regressor
    check_contract(Labels(), "trainer team.models:train", "classification", ["accuracy", "f1"])
    check_contract(Labels(), "trainer team.models:train", "regression", ["rmse"])
    check_contract(Scores(), "trainer team.models:train", "classification", ["roc_auc"])


def test_a_plain_class_is_seen_with_the_training_labels_as_its_classes_and_survives_pickling() -> None:
    view = contract_view(Scores(), "classification", ["stay", "churn"])
    assert isinstance(view, ModelView) and inner_model(view).__class__ is Scores
    assert view.classes_ == ["stay", "churn"] and view.predict_proba(range(2)).shape == (2, 2)
    again = pickle.loads(pickle.dumps(view))
    assert again.classes_ == ["stay", "churn"] and list(again.predict(range(3))) == [1, 1, 1]
    assert not hasattr(contract_view(Labels(), "classification", [0, 1]), "predict_proba")


def test_a_model_that_offers_the_contract_itself_is_used_as_it_is() -> None:
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    assert contract_view(model, "classification", [0, 1]) is model
    assert contract_view(Labels(), "regression") is not None and inner_model(model) is model


def test_a_multi_class_booster_predicts_the_labels_its_codes_stand_for() -> None:
    import lightgbm

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    codes = np.digitize(X["x"], [-0.5, 0.5])
    booster = lightgbm.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1}, lightgbm.Dataset(X, label=codes), 20
    )
    view = contract_view(booster, "classification", ["low", "mid", "high"])
    assert isinstance(view, BoosterView) and view.predict_proba(X).shape == (300, 3)
    labels = view.predict(X)
    assert (labels == np.array(["low", "mid", "high"])[codes]).mean() > 0.9
    assert list(pickle.loads(pickle.dumps(view)).predict(X.head(5))) == list(labels[:5])
