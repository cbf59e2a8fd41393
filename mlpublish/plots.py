"""Evaluation plots logged as MLflow artifacts: ROC and confusion matrix, or residuals."""

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
        if len(classes) == 2 and hasattr(model, "predict_proba"):
            fig, ax = plt.subplots(figsize=(5, 4))
            RocCurveDisplay.from_estimator(model, X, y, ax=ax, name="candidate")
            if champion is not None and hasattr(champion, "predict_proba"):
                RocCurveDisplay.from_estimator(
                    champion,
                    X[list(champion.feature_names_in_)] if hasattr(champion, "feature_names_in_") else X,
                    y,
                    ax=ax,
                    name=f"champion v{champion_version}",
                )
            ax.set_title("ROC: candidate vs champion" if champion is not None else "ROC")
            paths.append(_save(fig, out / "roc_curve.png"))
        fig, ax = plt.subplots(figsize=(4, 4))
        ConfusionMatrixDisplay.from_estimator(model, X, y, ax=ax, colorbar=False)
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


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
