"""How the champion predicts a chunk of source rows: its keys, ``prediction`` and (classifiers) ``probability``.

Both engines use :class:`ChampionPredictor`: the local engine in threads of its own
(:data:`mlpublish.warehouse.scoring.PREDICTING_THREADS` chunks at once, sharing one label check), the Spark
engine pickled to its executors (a fresh label check per task).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mlpublish.deployment.context import PublishContext
from mlpublish.evaluation.metrics import positive_class
from mlpublish.modelling import prepare_features

log = logging.getLogger("mlpublish.score")


class MostProbableClass:
    """The labels ``model.predict`` gives, read off ``predict_proba``: one ensemble pass per chunk instead of two.

    A classifier's ``predict`` is the most probable of its ``classes_``, except in two cases, both caught:
    a (near) tie between the two most probable classes, which a model may break its own way (a logistic
    regression says the positive class where its decision function is exactly 0, argmax the first class),
    goes to ``predict`` for those rows; and a model whose ``predict`` is not the most probable class at
    all (a tuned decision threshold) is found on the first rows scored, and then ``predict`` labels every row.
    """

    TIE = 1e-9  # far above float rounding of probabilities, far below any real difference between classes
    CHECKED_ROWS = 2000

    def __init__(self, model: Any):
        import numpy as np

        self.model = model
        self.classes = np.asarray(model.classes_)
        self.checked = False
        self.agrees = True
        # chunks are labelled in several threads: the first to come checks, the others wait for its verdict
        self.check_lock = threading.Lock()

    def of(self, X: Any, proba: Any) -> Any:
        """The labels of the rows of ``X``, whose probabilities ``proba`` are."""
        import numpy as np

        if not self.checked:
            with self.check_lock:
                if not self.checked:
                    labels = self._most_probable(X, proba)
                    head = min(len(labels), self.CHECKED_ROWS)
                    self.agrees = bool(np.array_equal(labels[:head], self.model.predict(X.iloc[:head])))
                    self.checked = True
                    if self.agrees:
                        return labels
                    log.info("the champion's predict is not its most probable class: labels come from predict")
        if not self.agrees:
            return self.model.predict(X)
        return self._most_probable(X, proba)

    def __getstate__(self) -> dict[str, Any]:  # the Spark engine pickles it: a lock does not travel
        return {k: v for k, v in self.__dict__.items() if k != "check_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, check_lock=threading.Lock())

    def _most_probable(self, X: Any, proba: Any) -> Any:
        import numpy as np

        labels = self.classes.take(proba.argmax(axis=1))
        if proba.shape[1] > 1:
            top_two = np.partition(proba, -2, axis=1)[:, -2:]
            tied = np.flatnonzero(top_two[:, 1] - top_two[:, 0] <= self.TIE)
            if len(tied):
                labels[tied] = self.model.predict(X.iloc[tied])
        return labels


class ChampionPredictor:
    """A chunk of source rows -> its keys, ``prediction`` and (classifiers) ``probability``; both engines use it.

    Picklable: the Spark engine ships it to the executors with the model and calls it on each Arrow batch.
    ``pos_index``: the positive class's column of ``predict_proba`` (-1: the top probability of a multi-class
    model), None when the model gives no probabilities.
    """

    def __init__(self, model: Any, features: list[str], categorical: list[str], keys: list[str], pos_index: Any):
        self.model, self.features, self.categorical, self.keys = model, features, categorical, keys
        self.pos_index = pos_index
        self.labels = MostProbableClass(model) if pos_index is not None else None

    def fresh(self) -> ChampionPredictor:
        """A copy with its own label check (one per Spark task: the state of another task never leaks in)."""
        return ChampionPredictor(self.model, self.features, self.categorical, self.keys, self.pos_index)

    def __call__(self, frame: Any) -> Any:
        X = prepare_features(frame, self.features, self.categorical)
        out = frame[self.keys].copy()
        if self.labels is None:
            out["prediction"] = self.model.predict(X)
        else:
            proba = self.model.predict_proba(X)
            out["prediction"] = self.labels.of(X, proba)
            out["probability"] = proba[:, self.pos_index] if self.pos_index >= 0 else proba.max(axis=1)
        return out


def positive_index(ctx: PublishContext, model: Any) -> int | None:
    """The column of ``predict_proba`` the probability comes from (-1: the top one of a multi-class model);
    None when the model gives no probabilities (regression)."""
    classes = list(getattr(model, "classes_", []))
    if ctx.preflight.task != "classification" or not hasattr(model, "predict_proba") or not classes:
        return None
    return classes.index(positive_class(classes, ctx.spec.training.positiveLabel)) if len(classes) == 2 else -1


class ShadowPredictor:
    """scoring.shadow: the champion and the challenger predict the same chunk; both roles' rows, told apart by
    ``model_role`` (the champion's first). The scoring loops split them again
    (:func:`mlpublish.warehouse.predictions.by_role`) to write each role with its own version and run id.

    The rows of both roles have the champion's columns: a challenger without probabilities gets NaN, and a
    challenger's probability is dropped when the champion has none. Picklable, as ChampionPredictor.
    """

    roles = ("champion", "challenger")

    def __init__(self, champion: ChampionPredictor, challenger: ChampionPredictor):
        self.champion, self.challenger = champion, challenger

    # what the Spark engine reads off a predictor: the champion's (the predictions' columns are its)
    @property
    def model(self) -> Any:
        return self.champion.model

    @property
    def keys(self) -> list[str]:
        return self.champion.keys

    @property
    def pos_index(self) -> Any:
        return self.champion.pos_index

    def fresh(self) -> ShadowPredictor:
        return ShadowPredictor(self.champion.fresh(), self.challenger.fresh())

    def __call__(self, frame: Any) -> Any:
        import pandas as pd

        first = self.champion(frame)
        second = self.challenger(frame).reindex(columns=first.columns)
        first["model_role"] = "champion"
        second["model_role"] = "challenger"
        return pd.concat([first, second], ignore_index=True)
