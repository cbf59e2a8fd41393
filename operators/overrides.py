"""A spec file plus the overrides given at trigger time (DAG params / conf), validated as one spec."""

from __future__ import annotations

import json
from typing import Any

# Overrides may tune how a run trains and judges; they may not make a DAG
# publish a different model, or to a different registry, catalog or warehouse
# than the one its id and spec file say. An environment may freeze more
# (its ``overrides`` policy: mlpublish.spec.override_policy), never less.
FROZEN_FIELDS = ("name", "serviceName", "mlflow", "catalog", "data")


def coerce_overrides(value: Any, where: str) -> dict[str, Any]:
    """Overrides arrive as a dict or as rendered JSON text (``{{ params.overrides | tojson }}``)."""
    from mlpublish.errors import SpecError

    if value in (None, "", "None"):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpecError(where, [("overrides", f"not valid JSON: {exc}")]) from None
        except RecursionError:  # json raises this, not a JSONDecodeError, for absurdly nested arrays
            raise SpecError(where, [("overrides", "not valid JSON: nested too deeply")]) from None
    if not isinstance(value, dict):
        raise SpecError(where, [("overrides", f"expected a mapping of spec fields, got {type(value).__name__}")])
    return value


def _literal(value: Any) -> Any:
    """Overrides are values, not templates: ``$`` is escaped so ``${VAR}`` is never expanded from the
    worker's environment (whoever may trigger a DAG must not read its secrets into the catalog)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, val in over.items():
        out[key] = _merge(out[key], val) if isinstance(val, dict) and isinstance(out.get(key), dict) else val
    return out


def refused_overrides(over: dict[str, Any], spec: Any) -> list[tuple[str, str]]:
    """The fields ``over`` may not change: the frozen ones, and what the spec's environment does not allow."""
    from mlpublish.spec import override_problems

    env = spec.environment
    policy = env.settings.overrides if env is not None else None
    where = f"environment {env.name!r} ({env.file})" if env is not None else "the deployment"
    return override_problems(over, policy, always_frozen=FROZEN_FIELDS, where=where)


def load_spec_with_overrides(path: str, overrides: Any = None) -> Any:
    """The spec at ``path`` with ``overrides`` deep-merged (lists replaced whole), validated like a file.

    Raises :class:`mlpublish.errors.SpecError` naming the file and the field.
    """
    import yaml

    from mlpublish.errors import SpecError
    from mlpublish.spec import load_spec, parse_spec

    spec = load_spec(path)  # reports file problems with their lines first
    over = coerce_overrides(overrides, path)
    if not over:
        return spec
    refused = refused_overrides(over, spec)
    if refused:
        raise SpecError(path, refused)
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    merged = _merge(raw, _literal(over))
    merged_spec = parse_spec(
        yaml.safe_dump(merged, sort_keys=False), f"{path} (with trigger overrides)", environment=spec.environment
    )  # the same environment overlay as the file alone
    merged_spec._source_path = spec.source_path  # the code version is the spec file's repository's
    return merged_spec
