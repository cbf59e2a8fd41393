"""Evaluation plots logged as MLflow artifacts: ROC (one curve per class, one-vs-rest, beyond two classes),
reliability and confusion matrix, or residuals; permutation importances."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluation_plots(
    task: str, model: Any, champion: Any, champion_version: str | None, X: Any, y: Any, out: Path
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    paths: list[Path] = []
    if task == "classification":
        from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

        classes = np.unique(y)
        # from predictions, never from the estimator: a model need not be a scikit-learn class
        candidate_scores = _positive_scores(model, X) if len(classes) == 2 else None
        if candidate_scores is not None:
            fig, ax = plt.subplots(figsize=(5, 4))
            pos, scores = candidate_scores
            RocCurveDisplay.from_predictions(y, scores, pos_label=pos, ax=ax, name="candidate")
            champion_scores = _positive_scores(champion, _columns(champion, X)) if champion is not None else None
            if champion_scores is not None:
                RocCurveDisplay.from_predictions(
                    y, champion_scores[1], pos_label=champion_scores[0], ax=ax, name=f"champion v{champion_version}"
                )
            ax.set_title("ROC: candidate vs champion" if champion is not None else "ROC")
            paths.append(_save(fig, out / "roc_curve.png"))
            try:
                paths.append(_reliability(model, champion, champion_version, X, y, out))
            except ValueError:  # labels other than 0/1 need a pos_label the ROC plot does not take either
                plt.close("all")
        elif len(classes) > 2 and hasattr(model, "predict_proba"):
            paths.append(_one_vs_rest_roc(model, X, y, out))
        fig, ax = plt.subplots(figsize=(4, 4))
        ConfusionMatrixDisplay.from_predictions(y, model.predict(X), ax=ax, colorbar=False)
        ax.set_title("Confusion matrix (candidate)")
        paths.append(_save(fig, out / "confusion_matrix.png"))
    else:
        pred = model.predict(X)
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.scatter(pred, np.asarray(y) - pred, s=6, alpha=0.5, label="candidate")
        if champion is not None:
            cp = champion.predict(X)
            ax.scatter(cp, np.asarray(y) - cp, s=6, alpha=0.5, label=f"champion v{champion_version}")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("prediction")
        ax.set_ylabel("residual")
        ax.legend()
        ax.set_title("Residuals")
        paths.append(_save(fig, out / "residuals.png"))
    return paths


# the bins of the reliability plot are those of the ece metric (mlpublish.evaluation.metrics.ECE_BINS), said in its title
RELIABILITY_BINS = 10


def _reliability(model: Any, champion: Any, champion_version: str | None, X: Any, y: Any, out: Path) -> Path:
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay

    fig, ax = plt.subplots(figsize=(5, 4))
    pos, scores = _positive_scores(model, X)
    CalibrationDisplay.from_predictions(y, scores, n_bins=RELIABILITY_BINS, pos_label=pos, ax=ax, name="candidate")
    champion_scores = _positive_scores(champion, _columns(champion, X)) if champion is not None else None
    if champion_scores is not None:
        CalibrationDisplay.from_predictions(
            y,
            champion_scores[1],
            n_bins=RELIABILITY_BINS,
            pos_label=champion_scores[0],
            ax=ax,
            name=f"champion v{champion_version}",
        )
    ax.set_title(f"Reliability ({RELIABILITY_BINS} equal-width bins)")
    return _save(fig, out / "reliability.png")


def _columns(model: Any, X: Any) -> Any:
    names = getattr(model, "feature_names_in_", None)
    return X[list(names)] if names is not None else X


def _positive_scores(model: Any, X: Any) -> tuple[Any, Any] | None:
    """(the second class, its probabilities) of a binary classifier, as scikit-learn's estimator plots take
    them; None for a model without predict_proba."""
    import numpy as np

    classes = getattr(model, "classes_", None)
    if not callable(getattr(model, "predict_proba", None)) or classes is None or len(classes) != 2:
        return None
    return classes[1], np.asarray(model.predict_proba(X))[:, 1]


def importances_plot(importances: list[Any], champion_version: str | None, out: Path, top: int = 15) -> Path:
    """Horizontal bars: permutation importance of the top features, candidate beside champion."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    shown = list(reversed(importances[:top]))
    pos = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(shown) + 1.5))
    with_champion = any(i.champion is not None for i in shown)
    height = 0.4 if with_champion else 0.8
    ax.barh(pos + (height / 2 if with_champion else 0), [i.candidate for i in shown], height, label="candidate")
    if with_champion:
        values = [i.champion if i.champion is not None else 0.0 for i in shown]
        ax.barh(pos - height / 2, values, height, label=f"champion v{champion_version}")
    ax.set_yticks(pos, [i.feature for i in shown])
    ax.set_xlabel("drop of the selection metric when shuffled")
    ax.legend()
    ax.set_title("Permutation importance (held-out rows)")
    return _save(fig, out / "importances.png")


def _one_vs_rest_roc(model: Any, X: Any, y: Any, out: Path) -> Path:
    """The candidate's ROC curve of each class against the rest (what the multi-class roc_auc averages)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import RocCurveDisplay

    proba = model.predict_proba(X)
    truth = np.asarray(y)
    fig, ax = plt.subplots(figsize=(5, 4))
    # the columns of predict_proba follow classes_, or the sorted labels when the model has none (the contract)
    labels = getattr(model, "classes_", None)
    for i, label in enumerate(np.unique(truth) if labels is None else labels):
        if (truth == label).any() and not (truth == label).all():
            RocCurveDisplay.from_predictions(truth == label, proba[:, i], ax=ax, name=f"{label} vs rest")
    ax.set_title("ROC, one-vs-rest per class (candidate)")
    return _save(fig, out / "roc_curve.png")


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
