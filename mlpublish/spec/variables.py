"""``${VAR}`` in specs and environments files: only in deployment fields, only allowed variables, never echoed.

A spec comes from a team; the worker that reads it holds the platform's credentials. ``${VAR}``
expands only in the fields marked :data:`mlpublish.spec.field_rules.EXPANDS` (deployment values:
connections, URIs, database and schema names), only with a name of the allow-list
(:data:`mlpublish.config.DEFAULT_SPEC_VARIABLES` and ``MLPUBLISH_SPEC_VARIABLES``), and never with a
name that looks like a credential unless the operator lists it by its exact name. Elsewhere ``${VAR}``
is an error naming the field, so nothing is copied silently into the catalog, MLflow or the model
card; and no error shows an expanded value (:func:`hide_values` puts the variable's name instead).
"""

from __future__ import annotations

import functools
import os
import re
import types
from fnmatch import fnmatchcase
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from mlpublish import config
from mlpublish.spec.field_rules import expands_variables
from mlpublish.spec.yamlio import FieldPath, LineIndex, Problems, format_path, locate

Variables = dict[FieldPath, list[tuple[str, str]]]  # per field path: (variable, value) expanded there

SPEC_VARIABLES_VAR = "MLPUBLISH_SPEC_VARIABLES"
CREDENTIAL_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY", "CREDENTIAL")

_ENV_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def variable_refusal(var: str) -> str | None:
    """Why ``${var}`` may not be expanded (None: it may)."""
    listed = config.spec_variables()
    word = next((w for w in CREDENTIAL_WORDS if w in var.upper()), None)
    if word is not None:
        if var in listed:
            return None
        return (
            f"${{{var}}} looks like a credential (its name holds {word}) and is not expanded: "
            f"{SPEC_VARIABLES_VAR} must list it by its exact name"
        )
    if any(fnmatchcase(var, pattern) for pattern in (*config.DEFAULT_SPEC_VARIABLES, *listed)):
        return None
    return (
        f"${{{var}}} is not an allowed variable (the operator adds names to {SPEC_VARIABLES_VAR}; "
        "see the spec reference)"
    )


def expand_env(
    value: str, where: str, problems: Problems, *, expands: bool = True, used: list[tuple[str, str]] | None = None
) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` (``$$`` is a literal ``$``) in a field that ``expands``.

    Problems are appended to ``problems`` (at ``where``), not raised, so that one error lists them all:
    ``${VAR}`` in a field that does not expand, a variable outside the allow-list, an unset variable
    without a default. Each (variable, value) expanded is appended to ``used``.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var, default = m.group(1), m.group(2)
        if not expands:
            problems.append(
                (
                    where,
                    f"${{{var}}}: this field does not expand variables (only deployment fields do: connections, "
                    "URIs, database and schema names); write $${ for a literal ${",
                )
            )
            return m.group(0)
        refusal = variable_refusal(var)
        if refusal is not None:
            problems.append((where, refusal))
            return ""
        val = os.environ.get(var)
        if val is None or (val == "" and default is not None):
            if default is None:
                problems.append((where, f"environment variable {var} is not set and has no default (${{{var}:-...}})"))
                return ""
            return default
        if used is not None:
            used.append((var, val))
        return val

    return _ENV_RE.sub(sub, value)


@functools.cache
def _fields_of(model: type[BaseModel]) -> dict[str, tuple[Any, bool]]:
    """Each field of ``model`` by name and by alias: its annotation and whether it expands variables (once per model:
    a spec file is read at every parse of the DAG file, every field of it looked up here)."""
    out: dict[str, tuple[Any, bool]] = {}
    for name, info in reversed(list(model.model_fields.items())):  # the first field wins a name, as before
        entry = (info.annotation, expands_variables(info))
        if info.alias:
            out[info.alias] = entry
        out[name] = entry
    return out


def _members(annotation: Any) -> list[Any]:
    """``annotation``, or the members of a union (``X | None``) and the type of an ``Annotated``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def expand_tree(
    obj: Any,
    path: FieldPath,
    problems: Problems,
    annotation: Any = None,
    *,
    expands: bool = False,
    used: Variables | None = None,
    lines: LineIndex | None = None,
) -> Any:
    """``obj`` (read from YAML at field ``path``, of type ``annotation``) with ``${VAR}`` expanded where allowed.

    A field expands when its pydantic field is marked :data:`EXPANDS` (lists and mappings of it too);
    fields the model does not know are left to its validation (an unknown field is refused there).
    ``used`` collects, per field path, the variables expanded and their values (to keep them out of errors);
    ``lines`` (the file's line index) puts the line in each problem.
    """
    more = {"used": used, "lines": lines}
    members = _members(annotation)
    if isinstance(obj, dict):
        model = next((m for m in members if isinstance(m, type) and issubclass(m, BaseModel)), None)
        if model is not None:
            fields, out = _fields_of(model), {}
            for key, val in obj.items():
                field = fields.get(key) if isinstance(key, str) else None
                out[key] = (
                    val
                    if field is None
                    else expand_tree(val, path + (key,), problems, field[0], expands=field[1], **more)
                )
            return out
        mapping = next((m for m in members if get_origin(m) is dict), None)
        inner = get_args(mapping)[1] if mapping is not None and len(get_args(mapping)) == 2 else None
        return {k: expand_tree(v, path + (k,), problems, inner, expands=expands, **more) for k, v in obj.items()}
    if isinstance(obj, list):
        sequence = next((m for m in members if get_origin(m) is list), None)
        inner = get_args(sequence)[0] if sequence is not None and get_args(sequence) else None
        return [expand_tree(v, path + (i,), problems, inner, expands=expands, **more) for i, v in enumerate(obj)]
    if isinstance(obj, str) and "$" in obj:
        found: list[tuple[str, str]] = []
        where = locate(path, lines) if lines is not None else format_path(path)
        value = expand_env(obj, where, problems, expands=expands, used=found)
        if found and used is not None:
            used[path] = found
        return value
    return obj


def hide_values(problems: Problems, used: Variables) -> Problems:
    """``problems`` with every expanded value replaced by the name of its variable.

    A validation message may quote the value it refused; for a field that expanded a
    variable, that value may be a credential, and an error is shown in logs and the
    Airflow UI. A value shorter than 4 characters is replaced only where it is quoted
    (``'abc'``): no secret is that short, and replacing it anywhere would garble the
    numbers and words of the messages.
    """
    values = sorted({(val, var) for found in used.values() for var, val in found if val}, key=lambda vv: -len(vv[0]))
    if not values:
        return problems
    out = []
    for where, msg in problems:
        for val, var in values:
            name = f"<the value of ${{{var}}}>"
            msg = msg.replace(repr(val), name)
            if len(val) >= 4:
                msg = msg.replace(val, name)
        out.append((where, msg))
    return out
