"""The shadow predictor (mlpublish.steps.predictor.ShadowPredictor): both roles' rows for the same chunk, the
champion's columns, and a copy per Spark task."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlpublish.steps.predictor import ChampionPredictor, ShadowPredictor

FRAME = pd.DataFrame({"id": [1, 2, 3, 4], "a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
X, Y = FRAME[["a", "b"]], np.array([0, 0, 1, 1])


def predictor(model, pos_index):
    return ChampionPredictor(model, ["a", "b"], [], ["id"], pos_index)


def test_both_roles_predict_the_same_rows():
    champion = LogisticRegression().fit(X, Y)
    challenger = LogisticRegression(C=0.01).fit(X, Y)
    shadow = ShadowPredictor(predictor(champion, 1), predictor(challenger, 1))
    out = shadow(FRAME)
    assert list(out.columns) == ["id", "prediction", "probability", "model_role"]
    assert out["model_role"].tolist() == ["champion"] * 4 + ["challenger"] * 4
    assert out["id"].tolist() == [1, 2, 3, 4] * 2
    assert np.allclose(out["probability"][:4], champion.predict_proba(X)[:, 1])
    assert np.allclose(out["probability"][4:], challenger.predict_proba(X)[:, 1])
    assert (shadow.model, shadow.keys, shadow.pos_index) == (champion, ["id"], 1)
    fresh = pickle.loads(pickle.dumps(shadow)).fresh()  # what a Spark task holds
    pd.testing.assert_frame_equal(fresh(FRAME), out)


def test_a_challenger_without_probabilities_gets_nan_under_the_champions_columns():
    champion = LogisticRegression().fit(X, Y)
    challenger = LinearRegression().fit(X, Y)
    out = ShadowPredictor(predictor(champion, 1), predictor(challenger, None))(FRAME)
    assert out["probability"][4:].isna().all() and out["probability"][:4].notna().all()
    reverse = ShadowPredictor(predictor(challenger, None), predictor(champion, 1))(FRAME)
    assert "probability" not in reverse
