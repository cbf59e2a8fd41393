"""Helpers shared by the integration tests: run the chain step by step."""

from __future__ import annotations

from typing import Any

GATES = {"gates": [{"metric": "roc_auc", "min": 0.6}, {"metric": "roc_auc", "maxDropVsChampion": 0.01}]}


def weak_champion_spec(ws: Any, **overrides: Any):
    """A spec whose model is deliberately weak (2 stumps): any decent candidate beats it."""
    return ws.spec(
        "weak.yaml",
        validation=GATES,
        training={"candidates": {"max_depth": [1]}},
        mlHyperParameters=[{"name": "n_estimators", "value": 2}, {"name": "random_state", "value": 0}],
        **overrides,
    )


def run_steps(spec_path: Any, *, register: bool = True) -> dict[str, Any]:
    """train -> evaluate -> validate (-> register) one step at a time, as separate tasks would."""
    from mlpublish.deployment.context import PublishContext
    from mlpublish.spec import load_spec
    from mlpublish.steps import evaluate_model, register_version, train_model, validate_candidate

    ctx = PublishContext.create(load_spec(spec_path))
    t = train_model(ctx)
    e = evaluate_model(ctx, t)
    v = validate_candidate(ctx, t, e)
    out = {"spec": str(spec_path), "ctx": ctx, "train": t, "evaluate": e, "validate": v}
    if register:
        out["register"] = register_version(ctx, t, e, v)
    return out


def registered_candidate(ws: Any, depth: int, leaves: int, **overrides: Any) -> dict[str, Any]:
    """Train, evaluate, validate and register one PASSED candidate; return its spec path and step results."""
    path = ws.spec(
        f"candidate-{depth}-{leaves}.yaml",
        validation=GATES,
        training={"candidates": {"max_depth": [depth]}},
        mlHyperParameters=[
            {"name": "n_estimators", "value": 40},
            {"name": "random_state", "value": 0},
            {"name": "max_leaf_nodes", "value": leaves},
        ],
        **overrides,
    )
    out = run_steps(path)
    assert out["validate"].status == "PASSED", out["validate"].summary()
    return out
