"""Evaluate another environment's champion (prod, usually) on this environment's held-out rows. Writes nothing.

``mlpublish compare SPEC --champion-from prod`` answers "would prod's model do
better or worse on the rows dev holds out?" with read access to prod only: it
reads prod's registry and downloads the champion's files, and reads this
environment's held-out rows; no run, tag, alias or catalog entry is written
anywhere, so it works with a read-only database role or a ``readOnly`` environment.
"""

from __future__ import annotations

import tempfile
from typing import Any

from mlpublish.deployment import for_environment, for_spec
from mlpublish.deployment.preflight import preflight
from mlpublish.errors import MlpublishError, NoChampion, RegistryError, StepError
from mlpublish.evaluation.metrics import compute_metrics
from mlpublish.redact import scrub
from mlpublish.registry import Registry
from mlpublish.registry.contract import CHAMPION, GIT_COMMIT_TAG, HOLDOUT_ARTIFACT, SPLIT_TAG
from mlpublish.spec import Spec
from mlpublish.spec.environments import Environment


def _load_version(reg: Registry, name: str, version: str, tmp: str) -> Any:
    from mlpublish.modelling.flavors import load_model

    local = reg.download_version(name, version, tmp)
    try:
        return load_model(local)
    except Exception as exc:
        raise RegistryError(
            scrub(f"cannot load {name} v{version} from {local}: {exc.__class__.__name__}: {exc}")
        ) from None


def _score(task: str, model: Any, X: Any, y: Any, spec: Spec, what: str) -> dict[str, float]:
    expected = list(getattr(model, "feature_names_in_", []))
    missing = [c for c in expected if c not in X.columns]
    if missing:
        raise StepError(f"{what} needs columns {missing} that the held-out rows do not have")
    return compute_metrics(task, model, X[expected] if expected else X, y, spec.training.positiveLabel)


def compare_champion(spec: Spec, other: Environment, run_id: str | None = None) -> dict[str, Any]:
    """Metrics of ``other``'s champion and of this environment's champion on the same held-out rows."""
    import pandas as pd

    here = spec.environment_name or "(no environment)"
    reg = for_spec(spec).open_registry()
    base = spec.environment.base_name(spec.name) if spec.environment is not None else spec.name
    other_name = other.registered_name(base)
    other_reg = for_environment(other).open_registry()
    other_version = other_reg.alias_version(other_name, CHAMPION)
    if other_version is None:
        raise NoChampion(f"{other_name} has no {CHAMPION} in environment {other.name!r}: nothing to compare")
    own_version = reg.alias_version(spec.name, CHAMPION)
    if run_id is None:
        if own_version is None:
            raise NoChampion(f"{spec.name} has no {CHAMPION} in {here} whose held-out rows to use: give --run RUN_ID")
        run_id = reg.get_version(spec.name, own_version).run_id
    task = preflight(spec, check_warehouse=False).task
    try:
        path = reg.download_artifacts(run_id, HOLDOUT_ARTIFACT)
    except MlpublishError as exc:
        raise StepError(scrub(f"{spec.name}: run {run_id} has no held-out rows ({HOLDOUT_ARTIFACT}): {exc}")) from None
    frame = pd.read_parquet(path)
    X, y = frame.drop(columns=[spec.target]), frame[spec.target]
    other_mv = other_reg.get_version(other_name, other_version)
    out: dict[str, Any] = {
        "model": base,
        "rows": len(y),
        "heldOutRun": run_id,
        "environment": here,
        "champions": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        model = _load_version(other_reg, other_name, other_version, f"{tmp}/other")
        out["champions"].append(
            {
                "environment": other.name,
                "name": other_name,
                "version": other_version,
                "codeVersion": other_reg.run(other_mv.run_id).data.tags.get(GIT_COMMIT_TAG),
                "metrics": _score(task, model, X, y, spec, f"{other.name} {other_name} v{other_version}"),
            }
        )
        if own_version is not None:
            own = _load_version(reg, spec.name, own_version, f"{tmp}/own")
            out["champions"].append(
                {
                    "environment": here,
                    "name": spec.name,
                    "version": own_version,
                    "metrics": _score(task, own, X, y, spec, f"{spec.name} v{own_version}"),
                }
            )
    theirs = other_reg.run(other_mv.run_id).data.tags.get(SPLIT_TAG)
    ours = reg.run(run_id).data.tags.get(SPLIT_TAG)
    if theirs != ours:
        out["note"] = (
            f"{other.name}'s champion was split with {theirs} and these rows with {ours}: it may have "
            "trained on some of them (same warehouse data), which would flatter it"
        )
    return out


def compare_text(result: dict[str, Any]) -> str:
    lines = [
        f"{result['model']}: champions on {result['rows']} held-out rows of run {result['heldOutRun']} "
        f"({result['environment']})"
    ]
    for c in result["champions"]:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(c["metrics"].items()))
        lines.append(f"  {c['environment']:10} {c['name']} v{c['version']}: {metrics}")
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    return "\n".join(lines)
