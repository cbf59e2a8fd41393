"""The spec field reference, generated from the pydantic models: committed, and refreshed at every build.

docs/reference/spec.md holds the hand-written guide and a marked region with one table per model (YAML path,
fields, types, defaults, constraints, descriptions), walking the spec model and the environments file model in
document order. The region is committed, so the page reads on GitHub and in an editor: ``make spec-reference``
(this file run as a script) rewrites it, and a unit test (tests/unit/project/test_docs.py) fails when the
committed copy differs from what the code generates. As an MkDocs hook it also replaces the region at build
time. Generating it from ``model_fields`` is what keeps the reference from drifting from the code.
"""

from __future__ import annotations

import importlib
import re
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

PAGE = "reference/spec.md"
BEGIN = "<!-- spec-reference:begin -->"
END = "<!-- spec-reference:end -->"


@dataclass(frozen=True)
class Section:
    """One model, documented at the YAML path where it first appears."""

    path: str
    model: type[BaseModel]
    anchor: str
    is_root: bool = False


def root_models() -> list[tuple[str, type[BaseModel]]]:
    """(YAML path of the file's root, model): the spec, then the environments file.

    The spec module may name its own roots (``reference_models()``); otherwise the walk starts at ``Spec``.
    """
    spec = importlib.import_module("mlpublish.spec")
    environments = importlib.import_module("mlpublish.spec.environments")
    named = getattr(spec, "reference_models", None)
    roots = list(_as_roots(named())) if callable(named) else [("spec", spec.Spec)]
    if not any(model is environments.EnvironmentsFile for _, model in roots):
        roots.append(("environments", environments.EnvironmentsFile))
    return roots


def _as_roots(named: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    items: Iterable[Any] = named.items() if isinstance(named, dict) else named
    for item in items:
        title, model = item if isinstance(item, tuple) else (None, item)
        yield (title or _default_root_name(model)), model


def _default_root_name(model: type[BaseModel]) -> str:
    return "environments" if model.__name__.startswith("Environment") else "spec"


def sections(roots: list[tuple[str, type[BaseModel]]]) -> list[Section]:
    """Every model reachable from the roots, depth first in field order (the order of a YAML file)."""
    seen: dict[type[BaseModel], Section] = {}

    def visit(path: str, model: type[BaseModel], is_root: bool = False) -> None:
        if model in seen:
            return
        seen[model] = Section(path, model, "ref-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-"), is_root)
        for name, field in model.model_fields.items():
            key = field.alias or name
            for nested, suffix in _nested_models(field.annotation):
                visit(f"{key}{suffix}" if is_root else f"{path}.{key}{suffix}", nested)

    for root_path, model in roots:
        visit(root_path, model, is_root=True)
    return list(seen.values())


def _nested_models(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """Models inside a field's type, with how the YAML path continues: ``[]`` for a list, ``.<key>`` for a mapping."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset):
        for arg in args:
            yield from _nested_models(arg, suffix + "[]")
    elif origin is dict and len(args) == 2:
        yield from _nested_models(args[1], suffix + ".<name>")
    elif origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            yield from _nested_models(arg, suffix)


def type_text(annotation: Any, anchors: dict[type[BaseModel], str]) -> str:
    """A reader's name for a field type; nested models link to their section."""
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{anchors[annotation]})" if annotation in anchors else annotation.__name__
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0], anchors)
    if origin is typing.Literal:
        return " or ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_text(a, anchors) for a in args]
        return " or ".join(dict.fromkeys(names))
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_text(args[0], anchors)}" if args else "list"
    if origin is dict:
        return f"mapping of {type_text(args[0], anchors)} to {type_text(args[1], anchors)}" if args else "mapping"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        return "see below" if type(value).model_fields else "`{}`"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "" and isinstance(value, str):
        return '`""`'
    return f"`{value}`"


def constraints_text(field: FieldInfo) -> str:
    """Bounds, lengths and patterns pydantic enforces on the field."""
    out: list[str] = []
    if importlib.import_module("mlpublish.spec.field_rules").expands_variables(field):
        out.append("expands `${VAR}`")
    bounds = {
        annotated_types.Gt: (">", "gt"),
        annotated_types.Ge: (">=", "ge"),
        annotated_types.Lt: ("<", "lt"),
        annotated_types.Le: ("<=", "le"),
    }
    for meta in field.metadata:
        for kind, (symbol, attribute) in bounds.items():
            if isinstance(meta, kind):
                out.append(f"{symbol} {getattr(meta, attribute)}")
        if isinstance(meta, annotated_types.MinLen):
            out.append(f"at least {meta.min_length} item(s)" if meta.min_length != 1 else "not empty")
        if isinstance(meta, annotated_types.MaxLen):
            out.append(f"at most {meta.max_length}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            out.append(f"matches `{pattern}`")
    return ", ".join(out)


def cell(text: str) -> str:
    """Table cell markdown: one line, pipes escaped outside code spans (inside one, the table keeps them)."""
    parts = re.split(r"(`[^`]*`)", re.sub(r"\s+", " ", text).strip())
    return "".join(part if part.startswith("`") else part.replace("|", "\\|") for part in parts)


def prose(text: str) -> str:
    """Plain text from a docstring or description: ``<service>`` must not read as an HTML tag."""
    return cell(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def section_markdown(section: Section, anchors: dict[type[BaseModel], str]) -> str:
    model = section.model
    heading = "Top level" if section.is_root else f"`{section.path}`"
    lines = [f"### {heading} {{#{section.anchor}}}", ""]
    doc = model.__dict__.get("__doc__")
    if doc:
        lines += [prose(doc), ""]
    lines += [f"Model: `{model.__module__}.{model.__qualname__}`", ""]
    lines += ["| field | type | default | constraints | description |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        yaml_name = field.alias or name
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{yaml_name}`",
                    cell(type_text(field.annotation, anchors)),
                    cell(default_text(field)),
                    cell(constraints_text(field)),
                    prose(field.description or ""),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """The generated part of the spec page."""
    roots = root_models()
    found = sections(roots)
    anchors = {s.model: s.anchor for s in found}
    parts = [
        "Generated from the pydantic models (`make spec-reference`; a unit test fails when this copy is stale): "
        "every field with its type, default "
        "(**required** when it has none), the constraints pydantic enforces and its description. "
        "Sections follow the order of a YAML file; a model used in a list is shown at `path[]`.",
        "",
    ]
    root_titles = {"spec": "The spec file", "environments": "The environments file"}
    for s in found:
        if s.is_root:
            parts += [f"## {root_titles.get(s.path, s.path)}", ""]
        parts.append(section_markdown(s, anchors))
    return "\n".join(parts)


def replace_region(markdown: str, generated: str) -> str:
    start, end = markdown.find(BEGIN), markdown.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/{PAGE} has lost its generated-reference markers {BEGIN} ... {END}")
    return markdown[:start] + generated + markdown[end + len(END) :]


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return replace_region(markdown, region())


def region() -> str:
    """The marked region as committed: the markers around the generated reference."""
    return f"{BEGIN}\n{reference_markdown()}{END}"


if __name__ == "__main__":  # make spec-reference: rewrite the committed copy
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / PAGE
    page.write_text(replace_region(page.read_text(), region()))
    print(f"wrote the field reference into {page}")
