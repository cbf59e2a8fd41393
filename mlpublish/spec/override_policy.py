"""Which spec sections an environment lets a trigger-time override change (the environments file's ``overrides``).

Whoever may trigger a DAG may pass overrides; a platform team decides, per environment, what they may
touch: ``allowed`` lists the only sections that may be overridden (unset: every section but the
adapter's frozen ones), ``frozen`` lists sections that may not be, on top of those. A section is a
dotted path of spec fields (``validation``, ``validation.gates``, ``promotion.mode``): naming one
covers everything below it. The adapters apply overrides; they ask :func:`override_problems` first.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SECTION_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class OverridePolicy(BaseModel):
    """What trigger-time overrides (Airflow DAG params / conf) may change in this environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: list[str] | None = Field(
        default=None,
        description="The only spec sections an override may change, e.g. [training, validation.gates]; "
        "[] refuses every override. Unset: every section but name, serviceName, mlflow, catalog and data.",
    )
    frozen: list[str] = Field(
        default=[],
        description="Spec sections no override may change here, e.g. [validation, promotion] "
        "(a section covers the fields below it).",
    )

    @field_validator("allowed", "frozen")
    @classmethod
    def _sections(cls, v: list[str] | None) -> list[str] | None:
        for section in v or []:
            if not re.match(SECTION_PATTERN, section):
                raise ValueError(f"{section!r} is not a dotted path of spec fields such as validation.gates")
        return v


def unknown_sections(policy: OverridePolicy, root: type[BaseModel]) -> list[tuple[str, str]]:
    """(``overrides.allowed[i]``, why) for each section that is no field path of ``root`` (the spec).

    A typo in ``frozen`` would freeze nothing without a word: it is refused when a spec is loaded.
    """
    out: list[tuple[str, str]] = []
    for kind in ("allowed", "frozen"):
        for i, section in enumerate(getattr(policy, kind) or []):
            model: Any = root
            for part in section.split("."):
                fields = getattr(model, "model_fields", None)
                info = next((f for n, f in (fields or {}).items() if part in (n, f.alias)), None)
                if info is None:
                    out.append((f"overrides.{kind}[{i}]", f"{section!r} is not a field of the spec"))
                    break
                model = next(
                    (a for a in (info.annotation, *getattr(info.annotation, "__args__", ())) if _is_model(a)), None
                )
    return out


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def touched_sections(overrides: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The field paths an override replaces: mappings are merged key by key, anything else replaces the field."""
    out: list[tuple[str, ...]] = []
    for key, value in overrides.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            out += touched_sections(value, path)
        else:
            out.append(path)
    return out


def _overlaps(path: tuple[str, ...], section: tuple[str, ...]) -> bool:
    """``path`` is inside ``section``, or replaces a value that holds it."""
    n = min(len(path), len(section))
    return path[:n] == section[:n]


def _within(path: tuple[str, ...], section: tuple[str, ...]) -> bool:
    return path[: len(section)] == section


def override_problems(
    overrides: dict[str, Any], policy: OverridePolicy | None, *, always_frozen: tuple[str, ...], where: str
) -> list[tuple[str, str]]:
    """(``overrides.<field>``, why) for each field the overrides may not change (empty: all allowed).

    ``always_frozen`` are the adapter's sections no environment can open; ``where`` names the policy
    (the environment and its file) in the messages.
    """
    problems: list[tuple[str, str]] = []
    policy = policy or OverridePolicy()
    for path in touched_sections(overrides):
        name = "overrides." + ".".join(path)
        fixed = next((s for s in always_frozen if _overlaps(path, tuple(s.split(".")))), None)
        frozen = next((s for s in policy.frozen if _overlaps(path, tuple(s.split(".")))), None)
        if fixed is not None:
            problems.append(
                (name, f"cannot be overridden at trigger time (fixed by the spec file: {', '.join(always_frozen)})")
            )
        elif frozen is not None:
            problems.append((name, f"cannot be overridden at trigger time: {where} freezes {frozen}"))
        elif policy.allowed is not None and not any(_within(path, tuple(s.split("."))) for s in policy.allowed):
            allowed = ", ".join(policy.allowed) or "nothing"
            problems.append((name, f"cannot be overridden at trigger time: {where} allows only {allowed}"))
    return problems
