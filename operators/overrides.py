"""A spec file plus the overrides given at trigger time (DAG params / conf), validated as one spec."""

from __future__ import annotations

import json
from typing import Any

# Overrides may tune how a run trains and judges; they may not make a DAG
# publish a different model, or to a different registry, catalog or warehouse
# than the one its id and spec file say. An environment may freeze more
# (its ``overrides`` policy: mlpublish.spec.override_policy), never less.
FROZEN_FIELDS = ("name", "serviceName", "mlflow", "catalog", "data")
# Fields inside sections that stay as the spec file says: scoring.query is SQL run against the warehouse,
# checked when the spec is (docs/operations/security.md); whoever may trigger a DAG must not supply it. Nor may
# they lift the four-eyes rule on their own run (docs/permissions.md).
TRIGGER_FROZEN_PATHS = ("scoring.query", "promotion.approval", "promotion.approvers")


# What a publish run's conf may hold: the DAG's params. Airflow 3 merges a conf key it has no param for into
# the run's params without a schema (airflow/serialization/definitions/param.py, SerializedParamsDict.deep_merge),
# so a misspelled ``override`` would be ignored and the run go green on the file's spec: the first task refuses
# it instead. A deployment that reads conf keys of its own (a cluster policy, a test fault) names them in
# MLPUBLISH_AIRFLOW_CONF_KEYS.
CONF_KEYS = ("overrides",)


def unknown_conf_keys(conf: Any, extra: str | None = None) -> list[tuple[str, str]]:
    """The keys of a run's ``conf`` that nothing reads, each with a problem naming what is known."""
    import difflib
    import os

    if not isinstance(conf, dict):
        return []
    listed = os.environ.get("MLPUBLISH_AIRFLOW_CONF_KEYS", "") if extra is None else extra
    known = [*CONF_KEYS, *(k.strip() for k in listed.split(",") if k.strip())]
    problems = []
    for key in conf:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append((f"conf.{key}", f"not a key mlpublish reads (known: {', '.join(known)}){hint}"))
    return problems


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
    return override_problems(over, policy, always_frozen=FROZEN_FIELDS + TRIGGER_FROZEN_PATHS, where=where)


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
    from mlpublish.spec.files import read_user_file
    from mlpublish.spec.yamlio import MAX_YAML_BYTES

    raw = yaml.safe_load(read_user_file(path, MAX_YAML_BYTES, "spec"))  # the same bounded read as load_spec
    merged = _merge(raw, _literal(over))
    merged_spec = parse_spec(
        yaml.safe_dump(merged, sort_keys=False), f"{path} (with trigger overrides)", environment=spec.environment
    )  # the same environment overlay as the file alone
    merged_spec._source_path = spec.source_path  # the code version is the spec file's repository's
    return merged_spec


def overrides_json_schema() -> dict[str, Any]:
    """The JSON schema of the ``overrides`` DAG param, built from the spec's models and :data:`FROZEN_FIELDS`.

    Airflow validates the run's conf against it when the run is created (trigger form, REST API, CLI), so a
    misspelled or frozen field is refused before any task starts. Every level forbids unknown fields where the
    spec model does. Overrides are deep-merged, so a mapping may give any subset of its fields (``required`` is
    dropped there); a list replaces the file's list whole, so its items keep their required fields. Rules
    that span fields (the model validators) are checked when the task loads the merged spec, as before.
    """
    from mlpublish.spec.document import Spec

    schema = Spec.model_json_schema(mode="validation", by_alias=True)
    definitions = schema.pop("$defs", {})
    tree = _inline(schema, definitions, partial=True, depth=0)
    tree["properties"] = {k: v for k, v in tree["properties"].items() if k not in FROZEN_FIELDS}
    for dotted in TRIGGER_FROZEN_PATHS:
        _drop_field(tree, dotted.split("."))
    tree["additionalProperties"] = False
    # Airflow checks the schema itself at every validation of the param (jsonschema.validate, at each DAG's
    # parse): against the Draft 7 meta-schema it costs a fifth of the 2020-12 default, the keywords used here
    # (properties, items, anyOf, enum, bounds) mean the same in both.
    tree["$schema"] = "http://json-schema.org/draft-07/schema#"
    tree["description"] = (
        "Spec fields to override for this run, e.g. "
        '{"validation": {"gates": [{"metric": "roc_auc", "min": 0.8}]}}; fixed by the spec file: '
        + ", ".join(FROZEN_FIELDS + TRIGGER_FROZEN_PATHS)
    )
    return tree


def _drop_field(node: Any, path: list[str]) -> None:
    """Remove the field at ``path`` from an inlined schema (through optional sections' ``anyOf``), so the
    trigger form refuses it like an unknown field."""
    if not isinstance(node, dict):
        return
    for alternative in node.get("anyOf", []):
        _drop_field(alternative, path)
    properties = node.get("properties")
    if not isinstance(properties, dict) or path[0] not in properties:
        return
    if len(path) == 1:
        del properties[path[0]]
    else:
        _drop_field(properties[path[0]], path[1:])


def _inline(node: Any, definitions: dict[str, Any], *, partial: bool, depth: int) -> Any:
    """``node`` with every ``$ref`` replaced by its definition (Airflow's trigger form reads plain trees).
    ``partial``: a mapping merged into the file's (no field required); list items are whole (required kept)."""
    if depth > 32:  # the spec models are not recursive: this only stops a future cycle from hanging the parser
        raise ValueError("spec JSON schema nests deeper than 32 levels")
    if isinstance(node, list):
        return [_inline(v, definitions, partial=partial, depth=depth + 1) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        rest = {k: v for k, v in node.items() if k not in ("$ref", "default")}
        return _inline({**target, **rest}, definitions, partial=partial, depth=depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "default") or (key == "required" and partial):
            continue  # titles repeat the field name; defaults are the file's business, not the override's
        if key == "properties":
            out[key] = {
                name: _inline(sub, definitions, partial=partial, depth=depth + 1) for name, sub in value.items()
            }
        elif key == "items":
            out[key] = _inline(value, definitions, partial=False, depth=depth + 1)
        else:
            out[key] = _inline(value, definitions, partial=partial, depth=depth + 1)
    return out
