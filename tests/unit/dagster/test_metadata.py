"""The plot on the model_evaluation page: linked from a server, else inline (the local default)."""

from __future__ import annotations

from mlpublish_dagster.metadata import local_folder, plot_artifact, plot_metadata

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
ROC = "evaluation/roc_curve.png"


def test_without_a_server_the_picture_is_inline_and_the_file_beside_it() -> None:
    for root in ("/data/mlartifacts/1/abc/artifacts", "file:///data/mlartifacts/1/abc/artifacts/"):
        meta = plot_metadata("sqlite:///mlflow.db", "abc", ROC, root, PNG)
        assert meta["plot"].value.startswith("**ROC curve** (candidate vs champion, held-out rows)\n\n![ROC curve](")
        assert "(data:image/png;base64,iVBORw0KGgo" in meta["plot"].value
        assert meta["plot_file"].value == "/data/mlartifacts/1/abc/artifacts/evaluation/roc_curve.png"


def test_a_server_serves_the_picture() -> None:
    meta = plot_metadata("http://mlflow:5000/", "abc", ROC, "mlflow-artifacts:/1/abc/artifacts", PNG)
    url = "http://mlflow:5000/get-artifact?path=evaluation%2Froc_curve.png&run_uuid=abc"
    assert meta["plot_url"].value == url and f"![ROC curve]({url})" in meta["plot"].value
    assert "plot_file" not in meta and "base64" not in meta["plot"].value


def test_an_unreadable_picture_is_named_and_no_plot_is_nothing() -> None:
    meta = plot_metadata("sqlite:///mlflow.db", "abc", ROC, "s3://bucket/1/abc/artifacts", None)
    assert meta == {"plot": meta["plot"]} and meta["plot"].value == f"MLflow artifact {ROC} of run abc"
    assert plot_metadata("sqlite:///mlflow.db", "abc", None, None) == {}
    assert plot_artifact(["evaluation/metrics.json", "evaluation/residuals.png"]) == "evaluation/residuals.png"
    assert local_folder("file:///a%20b/c") == "/a b/c" and local_folder("s3://b/c") is None
