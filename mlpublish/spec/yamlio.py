"""The safe YAML reader of specs and environments files, and error locating.

Reading refuses what a hostile or careless file could do to the process (huge
files, alias bombs, deep nesting, duplicate keys, Python tags) before anything
is constructed, and every refusal names the file, the field and its line. ``${VAR}`` is
expanded afterwards, field by field (:mod:`mlpublish.spec.variables`).
Locating turns pydantic's validation errors into the same (field (line N),
message) problems, so a model defined anywhere reports like the spec does.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlpublish.errors import SpecError

MAX_YAML_BYTES = 1 << 20
# libyaml's parser when PyYAML was built with it (its wheels are): the same documents, values and marks,
# 20x faster than the pure-Python one; a DAG processor reads every spec each time it parses the DAG file.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 20
MAX_YAML_NODES = 100_000

Problems = list[tuple[str, str]]
FieldPath = tuple  # of field names (str) and list indexes (int)
LineIndex = dict[FieldPath, int]

# --------------------------------------------------------------------------
# Field paths and lines


def format_path(path: FieldPath) -> str:
    """``("a", "b", 2, "c")`` -> ``a.b[2].c``; the empty path is ``<root>``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def locate(loc: FieldPath, lines: LineIndex) -> str:
    """``a.b[2].c (line N)``: the path, with the line of its closest ancestor present in the file."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return f"{format_path(loc)} (line {lines[loc[:cut]]})"
    return format_path(loc)


def _line_index(node: yaml.Node, path: FieldPath = (), out: LineIndex | None = None) -> LineIndex:
    """Map each field path to its 1-based line in the YAML file."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, val in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            out[path + (k,)] = key.start_mark.line + 1
            if len(path) < MAX_YAML_DEPTH:
                _line_index(val, path + (k,), out)
    elif isinstance(node, yaml.SequenceNode) and len(path) < MAX_YAML_DEPTH:
        for i, val in enumerate(node.value):
            _line_index(val, path + (i,), out)
    return out


def _field_at(node: yaml.Node, mark: Any, path: FieldPath = ()) -> str:
    """The field whose value starts at ``mark`` (to name the field of a YAML error), or ''."""
    if (node.start_mark.line, node.start_mark.column) == (mark.line, mark.column) and path:
        return format_path(path) + " "
    children: list[tuple[Any, yaml.Node]] = []
    if isinstance(node, yaml.MappingNode):
        children = [(k.value if isinstance(k, yaml.ScalarNode) else "?", v) for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = list(enumerate(node.value))
    if len(path) < MAX_YAML_DEPTH:
        for key, child in children:
            found = _field_at(child, mark, path + (key,))
            if found:
                return found
    return ""


# --------------------------------------------------------------------------
# Pydantic errors as problems


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, or inside ``X | None``, ``list[X]``, ``dict[str, X]`` (None: a plain value)."""
    for cand in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
        inner = getattr(cand, "__args__", ())
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub:
            return sub
    return None


def reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model its fields hold, depth first in field order (the order a reader meets them)."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for info in model.model_fields.values():
            sub = nested_model(info.annotation)
            if sub is not None:
                visit(sub)

    visit(root)
    return seen


def allowed_fields(loc: FieldPath, root: type[BaseModel]) -> list[str]:
    """The field names allowed at the parent of ``loc`` under ``root`` (for 'unknown field' messages)."""
    model: Any = root
    key_next = False  # the previous field was a dict of models: this part is a key, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or key_next:
            key_next = False
            continue
        fields = getattr(model, "model_fields", {})
        info = next((f for n, f in fields.items() if n == part or f.alias == part), None)
        if info is None:
            return []
        key_next = getattr(info.annotation, "__origin__", None) is dict
        model = nested_model(info.annotation)
        if model is None:
            return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def problems_from(exc: ValidationError, lines: LineIndex, root: type[BaseModel]) -> Problems:
    """Each error of validating ``root`` as (field path (line N), message), in our words."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = locate(loc, lines)
        if err["type"] == "extra_forbidden":
            allowed = allowed_fields(loc, root)
            msg = f"unknown field {loc[-1]!r}" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if (
                "input" in err
                and err["type"] != "model_type"
                and not isinstance(err["input"], (dict, list))
                and repr(err["input"]) not in msg
            ):
                msg += f" (got {err['input']!r})"
        problems.append((where, msg))
    return problems


# --------------------------------------------------------------------------
# Reading


def _duplicate_keys(node: yaml.Node, path: FieldPath = ()) -> Problems:
    """PyYAML keeps the last of two equal keys without a word: a silent override, so it is refused."""
    out: Problems = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, val in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else None
            if k is not None and k != "<<":
                line = key.start_mark.line + 1
                if k in first:
                    out.append(
                        (
                            f"{format_path(path + (k,))} (line {line})",
                            f"duplicate key {k!r} (first at line {first[k]}): YAML would silently keep the last",
                        )
                    )
                else:
                    first[k] = line
            if len(path) < MAX_YAML_DEPTH:
                out += _duplicate_keys(val, path + ((k,) if k is not None else ()))
    elif isinstance(node, yaml.SequenceNode) and len(path) < MAX_YAML_DEPTH:
        for i, val in enumerate(node.value):
            out += _duplicate_keys(val, path + (i,))
    return out


def _pure_python_error(text: str, exc: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's error for ``text`` (libyaml words its syntax errors otherwise): one wording."""
    if _LOADER is yaml.SafeLoader:
        return exc
    try:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.YAMLError as slow:
        return slow
    return exc


def _guard_events(text: str, source: str, what: str) -> None:
    """Refuse alias bombs and absurd nesting before anything is constructed."""
    aliases = depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise SpecError(source, [("<root>", f"more than {MAX_YAML_ALIASES} YAML aliases: refused")], what)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise SpecError(source, [("<root>", f"nesting deeper than {MAX_YAML_DEPTH} levels: refused")], what)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as fast:
        exc = _pure_python_error(text, fast)
        mark = getattr(exc, "problem_mark", None)
        loc = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<root>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [(loc, f"YAML syntax error: {problem}")], what) from None


def _expanded_size(node: yaml.Node, source: str, what: str) -> int:
    """Number of nodes once aliases are expanded; refuses cycles and anything past MAX_YAML_NODES.

    Aliases share nodes, so this costs one visit per distinct node (memoised),
    however large the expansion would be.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise SpecError(
                source, [("<root>", "recursive YAML anchor (an alias inside its own anchor): refused")], what
            )
        visiting.add(key)
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        visiting.discard(key)
        if total > MAX_YAML_NODES:
            raise SpecError(
                source,
                [("<root>", f"the YAML expands to more than {MAX_YAML_NODES} values (alias bomb?): refused")],
                what,
            )
        sizes[key] = total
        return total

    return size(node)


def read_yaml_mapping(
    text: str, source: str, empty_hint: str, *, what: str = "spec"
) -> tuple[dict[str, Any], LineIndex]:
    """Safely read a YAML mapping (size, alias and nesting limits); ``${VAR}`` is left as written.

    Returns the mapping and each field path's line; raises SpecError naming ``source`` as a ``what``.
    Expanding ``${VAR}`` needs the model (which fields expand): :func:`mlpublish.spec.variables.expand_tree`.
    """
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise SpecError(source, [("<root>", f"spec larger than {MAX_YAML_BYTES} bytes: refused")], what)
    _guard_events(text, source, what)
    node = yaml.compose(text, Loader=_LOADER)
    if node is None:
        raise SpecError(source, [("<root>", f"the file is empty; expected {empty_hint}")], what)
    _expanded_size(node, source, what)
    lines = _line_index(node)
    duplicates = _duplicate_keys(node)
    if duplicates:
        raise SpecError(source, duplicates, what)
    try:
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:  # unsafe tags (!!python/...), unhashable keys, bad !!binary
        mark = getattr(exc, "problem_mark", None)
        loc = f"{_field_at(node, mark)}(line {mark.line + 1}, column {mark.column + 1})" if mark else "<root>"
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in problem:
            problem += " (only plain YAML values are allowed: no !!python or other custom tags)"
        raise SpecError(source, [(loc, problem)], what) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an impossible date such as 2024-13-45
        raise SpecError(source, [("<root>", f"a value cannot be read: {exc}")], what) from None
    if not isinstance(raw, dict):
        raise SpecError(source, [("<root> (line 1)", f"expected a mapping of fields, got {type(raw).__name__}")], what)
    bad_keys = [k for k in raw if not isinstance(k, str)]
    if bad_keys:
        raise SpecError(source, [("<root>", f"field names must be strings, got {bad_keys!r}")], what)
    return raw, lines
