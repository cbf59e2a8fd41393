"""The YAML spec: parsed, environment-expanded and validated into typed models.

Field names follow the OpenMetadata ``ml_model.yaml`` of the OpenMetadata demo
(``serviceName``, ``mlFeatures``, ``featureSources``, ``dataSourceFqn``,
``mlHyperParameters``, ``mlStore`` ...) so such a file is accepted as it is; the
chain adds ``data``, ``training``, ``validation``, ``promotion`` and ``mlflow``.

Loading does no I/O beyond reading the file. Checks that need the estimator or
the warehouse live in :mod:`mlpublish.preflight`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlpublish import config
from mlpublish.errors import SpecError

MAX_SPEC_BYTES = 1 << 20
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 20
MAX_YAML_NODES = 100_000

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _\-]{0,127}$"
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# MLflow refuses param values past 6000 characters, and it would only say so after training started.
MAX_SCALAR_CHARS = 1000
Scalar = Annotated[str, StringConstraints(max_length=MAX_SCALAR_CHARS)] | int | float | bool | None
# One part of a table FQN (<service>.<database>.<schema>.<table>): no quotes, spaces, ';', '/' or control characters.
FQN_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}")
# Estimator paths: public, ASCII Python names (no _private, no __dunder__, no look-alike letters).
PUBLIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# OpenMetadata's FeatureSourceDataType and FeatureType enums.
FeatureSourceDataType = Literal[
    "integer", "number", "string", "array", "date", "timestamp", "object", "boolean"
]
FeatureType = Literal["numerical", "categorical"]


class _Model(BaseModel):
    # NaN and infinity are refused: every comparison with NaN is false, so a NaN gate would never fail
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)


class FeatureSource(_Model):
    name: str = Field(min_length=1, description="Source column name.")
    dataType: FeatureSourceDataType
    dataSourceFqn: str | None = Field(
        default=None, description="FQN of the source table: <service>.<database>.<schema>.<table>."
    )
    description: str | None = None

    @field_validator("dataSourceFqn")
    @classmethod
    def _four_parts(cls, v: str | None) -> str | None:
        if v is not None and (len(v.split(".")) != 4 or not all(v.split("."))):
            raise ValueError(f"expected <service>.<database>.<schema>.<table>, got {v!r}")
        if v is not None and not all(FQN_PART.fullmatch(part) for part in v.split(".")):
            raise ValueError("each part must be letters, digits, '_' or '-' (no quotes, spaces, ';' or '/')")
        return v


class MlFeature(_Model):
    name: str = Field(pattern=IDENT_PATTERN, description="Column of the training table.")
    dataType: FeatureType = "numerical"
    description: str | None = None
    featureAlgorithm: str | None = None
    featureSources: list[FeatureSource] = []


class HyperParameter(_Model):
    name: str = Field(pattern=IDENT_PATTERN)
    value: Scalar
    description: str | None = None


class MlStore(_Model):
    storage: str | None = None
    imageRepository: str | None = None


class DataSpec(_Model):
    connection: str = Field(default=config.DEFAULT_WAREHOUSE_URL, repr=False,
                            description="SQLAlchemy URL of the warehouse (may hold a password: kept out of reprs).")
    service: str = Field(default="warehouse", pattern=NAME_PATTERN, description="Catalog database service name.")
    database: str | None = Field(default=None, pattern=IDENT_PATTERN)
    schema_: str | None = Field(default=None, alias="schema", pattern=IDENT_PATTERN)
    trainingTable: str = Field(pattern=IDENT_PATTERN)
    keyColumns: list[str] = []
    predictionsTable: str | None = Field(default=None, pattern=IDENT_PATTERN)
    timeColumn: str | None = Field(default=None, pattern=IDENT_PATTERN,
                                   description="Date or timestamp column of the training table: the model card "
                                               "records the time range of the rows trained on.")

    @field_validator("keyColumns")
    @classmethod
    def _idents(cls, v: list[str]) -> list[str]:
        for col in v:
            if not re.fullmatch(IDENT_PATTERN[1:-1], col):  # fullmatch: '$' would accept a trailing newline
                raise ValueError(f"column name {col!r} must match {IDENT_PATTERN}")
        return v


class Split(_Model):
    testSize: float = Field(default=0.25, gt=0, lt=1)
    validationSize: float = Field(
        default=0.2, ge=0, lt=1,
        description="Share of the training part held out to choose among candidates (only with several).",
    )
    seed: int = 42
    stratify: bool = True


class Training(_Model):
    estimator: str = Field(
        description="Dotted path of an sklearn-API class (pkg.mod.Class) or a trainer function (pkg.mod:function)."
    )
    task: Literal["classification", "regression"] | None = None
    positiveLabel: str | int | None = Field(default=None, description="Positive class of a binary target (default 1 for 0/1 labels).")
    candidates: dict[str, list[Scalar]] = {}
    selectBy: str | None = None
    split: Split = Split()
    maxCandidates: int = Field(default=50, ge=1, le=1000)

    @field_validator("estimator")
    @classmethod
    def _dotted(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][\w.]*(:[A-Za-z_]\w*|\.[A-Za-z_]\w*)$", v):
            raise ValueError("expected a dotted path such as sklearn.ensemble.RandomForestClassifier or pkg.mod:train")
        # the import rules' syntax part, checked at load so DAG files and code locations refuse it too
        if not all(PUBLIC_NAME.fullmatch(part) for part in re.split(r"[.:]", v)):
            raise ValueError(f"{v!r}: every part must be a public Python name (no leading underscore)")
        return v

    @field_validator("positiveLabel", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("YAML read this as a boolean (yes/no/true/false are booleans): quote the label, "
                             "e.g. positiveLabel: \"yes\"")
        return v

    @field_validator("candidates")
    @classmethod
    def _grid(cls, v: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for key, values in v.items():
            if not re.fullmatch(IDENT_PATTERN[1:-1], key):
                raise ValueError(f"parameter name {key!r} must match {IDENT_PATTERN}")
            if not values:
                raise ValueError(f"candidates.{key} is empty: give at least one value")
        return v

    def grid(self) -> list[dict[str, Scalar]]:
        """Every combination of the candidate values, in spec order."""
        combos: list[dict[str, Scalar]] = [{}]
        for key, values in self.candidates.items():
            combos = [{**c, key: val} for c in combos for val in values]
        return combos


class Gate(_Model):
    metric: str
    min: float | None = None
    max: float | None = None
    maxDropVsChampion: float | None = Field(default=None, ge=0)
    minGainVsChampion: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_threshold(self) -> "Gate":
        set_ = [k for k in ("min", "max", "maxDropVsChampion", "minGainVsChampion") if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError(
                "a gate needs exactly one of min, max, maxDropVsChampion, minGainVsChampion"
                + (f" (got {', '.join(set_)})" if set_ else "")
            )
        return self

    @property
    def kind(self) -> str:
        for k in ("min", "max", "maxDropVsChampion", "minGainVsChampion"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated gate without threshold")

    @property
    def threshold(self) -> float:
        return float(getattr(self, self.kind))

    @property
    def relative(self) -> bool:
        return self.kind in ("maxDropVsChampion", "minGainVsChampion")

    def describe(self) -> str:
        return f"{self.metric} {self.kind} {self.threshold:g}"


class Validation(_Model):
    gates: list[Gate] = []
    allowFirstWithoutChampion: bool = Field(
        default=True, description="With no champion yet, relative gates are skipped and absolute gates decide."
    )
    registerFailed: bool = Field(default=False, description="Register FAILED candidates for audit (never aliased).")
    requireMetadata: bool = True
    smokeTestRows: int = Field(default=50, ge=1, le=10000)
    onFailure: Literal["fail", "skip"] = Field(
        default="fail", description="How an orchestrator ends a rejected candidate: a failed or a skipped task.")


class Promotion(_Model):
    mode: Literal["auto", "manual"] = "auto"


def check_location(v: str | None) -> str | None:
    """A store location or experiment name: no control characters, no '..' path segment."""
    if v is None:
        return v
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ValueError("contains a control character (newline, NUL...)")
    if ".." in re.split(r"[/\\]", v):
        raise ValueError("must not contain '..' path segments: give an absolute path or one below the working directory")
    return v


class MlflowSpec(_Model):
    trackingUri: str | None = None
    registryUri: str | None = Field(default=None, description="Default: MLFLOW_REGISTRY_URI, else the tracking URI.")
    experiment: str | None = None

    _location = field_validator("trackingUri", "registryUri", "experiment")(classmethod(lambda cls, v: check_location(v)))


class CatalogSpec(_Model):
    url: str | None = None
    pipelineService: str | None = Field(default=None, pattern=NAME_PATTERN,
                                        description="OpenMetadata PipelineService of lineage edges "
                                                    "(default: MLPUBLISH_CATALOG_PIPELINE_SERVICE).")

    _location = field_validator("url")(classmethod(lambda cls, v: check_location(v)))


def check_cron(v: str | None) -> str | None:
    if v is not None and not v.startswith("@") and len(v.split()) != 5:
        raise ValueError(f"expected a five-field cron expression or a preset like @daily, got {v!r}")
    return v


class ScoringSpec(_Model):
    """Where the score step reads the rows to score, and how much it holds at once."""

    schedule: str | None = Field(default=None, description="Batch scoring cron (five fields) for the orchestrators.")

    sourceTable: str | None = Field(default=None, pattern=IDENT_PATTERN,
                                    description="Table to score (default: data.trainingTable).")
    query: str | None = Field(default=None, min_length=1,
                              description="A SELECT returning the key and feature columns (instead of sourceTable).")
    chunkSize: int = Field(default=50_000, ge=1, le=1_000_000, description="Rows read, predicted and written at a time.")
    predictionsTable: str | None = Field(default=None, pattern=IDENT_PATTERN,
                                         description="Default: data.predictionsTable.")

    _cron = field_validator("schedule")(classmethod(lambda cls, v: check_cron(v)))

    @model_validator(mode="after")
    def _one_source(self) -> "ScoringSpec":
        if self.sourceTable and self.query:
            raise ValueError("give scoring.sourceTable or scoring.query, not both")
        return self


class MonitoringWindow(_Model):
    column: str | None = Field(default=None, pattern=IDENT_PATTERN,
                               description="Timestamp column: only rows of the last lookbackHours are compared. "
                                           "Default: each monitor run compares the whole source and is one window.")
    lookbackHours: float = Field(default=24.0, gt=0)


class MonitoringSpec(_Model):
    """Drift thresholds and the retraining rule (N of the last M windows, cooldown)."""

    schedule: str | None = Field(default=None, description="Monitoring cron (five fields) for the orchestrators.")
    psiThreshold: float = Field(default=0.2, gt=0, description="A feature drifts when its PSI reaches this.")
    ksPValue: float = Field(default=0.01, gt=0, lt=1, description="KS p-value below which a numeric feature drifts...")
    ksMinStatistic: float = Field(default=0.1, ge=0, le=1, description="...if its KS statistic is at least this (effect size).")
    minDriftedFeatures: int = Field(default=1, ge=1, description="Drifted features that make a window drifted.")
    maxMetricDrop: float | None = Field(default=None, ge=0,
                                        description="Where labels arrived: a drop of the champion's selectBy metric "
                                                    "beyond this (vs its test value) makes the window drifted.")
    windowN: int = Field(default=2, ge=1)
    windowM: int = Field(default=3, ge=1)
    cooldownHours: float = Field(default=24.0, ge=0, description="No retraining request this soon after a training run.")
    inFlightHours: float = Field(default=6.0, gt=0, description="A RUNNING training run younger than this is in flight.")
    bins: int = Field(default=10, ge=2, le=100)
    sampleRows: int = Field(default=200_000, ge=100, description="Rows kept for the KS test and the performance check.")
    window: MonitoringWindow = MonitoringWindow()

    _cron = field_validator("schedule")(classmethod(lambda cls, v: check_cron(v)))

    @model_validator(mode="after")
    def _n_of_m(self) -> "MonitoringSpec":
        if self.windowN > self.windowM:
            raise ValueError(f"windowN ({self.windowN}) cannot exceed windowM ({self.windowM})")
        return self


class Spec(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    serviceName: str = Field(default="mlpublish", pattern=NAME_PATTERN)
    displayName: str | None = None
    description: str | None = None
    algorithm: str = Field(min_length=1)
    target: str = Field(pattern=IDENT_PATTERN)
    owners: list[str] = []
    server: str | None = None
    dashboard: str | None = None
    schedule: str | None = Field(default=None, description="Retraining cron (five fields) for the orchestrators.")
    limitations: list[str] = []
    mlStore: MlStore | None = None
    mlFeatures: list[MlFeature] = Field(min_length=1)
    mlHyperParameters: list[HyperParameter] = []
    data: DataSpec
    training: Training
    validation: Validation = Validation()
    promotion: Promotion = Promotion()
    mlflow: MlflowSpec = MlflowSpec()
    catalog: CatalogSpec = CatalogSpec()
    scoring: ScoringSpec = ScoringSpec()
    monitoring: MonitoringSpec = MonitoringSpec()

    # Where the spec came from and the environment overlaid on it (mlpublish/environments.py); not YAML fields.
    _source_path: str = PrivateAttr(default="<memory>")
    _environment: Any = PrivateAttr(default=None)

    @property
    def source_path(self) -> str:
        return self._source_path

    @property
    def environment(self) -> Any:
        """The :class:`mlpublish.environments.Environment` this spec was loaded in, or None."""
        return self._environment

    @property
    def environment_name(self) -> str | None:
        return self._environment.name if self._environment is not None else None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return check_cron(v)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "Spec":
        # parse_spec reports these itself, with field paths and lines
        if not (info.context or {}).get("defer_consistency"):
            problems = self.consistency_problems()
            if problems:
                raise ValueError("; ".join(f"{_fmt_path(loc)}: {msg}" for loc, msg in problems))
        return self

    def consistency_problems(self) -> list[tuple[tuple, str]]:
        """Rules that span fields, as (field path, message)."""
        out: list[tuple[tuple, str]] = []
        names = [f.name for f in self.mlFeatures]
        for i, n in enumerate(names):
            if n in names[:i]:
                out.append((("mlFeatures", i, "name"), f"duplicate feature name {n!r} (first at mlFeatures[{names.index(n)}])"))
        if self.target in names:
            out.append((("target",), f"target {self.target!r} is also listed in mlFeatures"))
        for i, col in enumerate(self.data.keyColumns):
            if col in names or col == self.target:
                out.append((("data", "keyColumns", i), f"key column {col!r} is also a feature or the target"))
        if self.data.timeColumn and self.data.timeColumn == self.target:
            out.append((("data", "timeColumn"), f"time column {self.data.timeColumn!r} is the target"))
        for i, h in enumerate(self.mlHyperParameters):
            if h.name in self.training.candidates:
                out.append((("mlHyperParameters", i, "name"),
                            f"{h.name!r} is set both here and in training.candidates: choose one"))
        return out

    # Derived names -------------------------------------------------------
    @property
    def fqn(self) -> str:
        """The MlModel FQN in the catalog: <serviceName>.<name>."""
        return f"{self.serviceName}.{self.name}"

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"mlpublish/{self.name}"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.mlFeatures]

    @property
    def categorical_features(self) -> list[str]:
        return [f.name for f in self.mlFeatures if f.dataType == "categorical"]

    @property
    def fixed_params(self) -> dict[str, Scalar]:
        return {h.name: h.value for h in self.mlHyperParameters}


# --------------------------------------------------------------------------
# Loading


_ENV_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str, where: str, problems: list[tuple[str, str]]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; ``$$`` is a literal ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var, default = m.group(1), m.group(2)
        val = os.environ.get(var)
        if val is None or (val == "" and default is not None):
            if default is None:
                problems.append((where, f"environment variable {var} is not set and has no default (${{{var}:-...}})"))
                return ""
            return default
        return val

    return _ENV_RE.sub(sub, value)


def _walk_expand(obj: Any, path: tuple, problems: list[tuple[str, str]]) -> Any:
    if isinstance(obj, dict):
        return {k: _walk_expand(v, path + (k,), problems) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk_expand(v, path + (i,), problems) for i, v in enumerate(obj)]
    if isinstance(obj, str) and "$" in obj:
        return expand_env(obj, _fmt_path(path), problems)
    return obj


def _fmt_path(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def _line_index(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
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


def _duplicate_keys(node: yaml.Node, path: tuple = ()) -> list[tuple[str, str]]:
    """PyYAML keeps the last of two equal keys without a word: a silent override, so it is refused."""
    out: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, val in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else None
            if k is not None and k != "<<":
                line = key.start_mark.line + 1
                if k in first:
                    out.append((f"{_fmt_path(path + (k,))} (line {line})",
                                f"duplicate key {k!r} (first at line {first[k]}): YAML would silently keep the last"))
                else:
                    first[k] = line
            if len(path) < MAX_YAML_DEPTH:
                out += _duplicate_keys(val, path + ((k,) if k is not None else ()))
    elif isinstance(node, yaml.SequenceNode) and len(path) < MAX_YAML_DEPTH:
        for i, val in enumerate(node.value):
            out += _duplicate_keys(val, path + (i,))
    return out


def _field_at(node: yaml.Node, mark: Any, path: tuple = ()) -> str:
    """The field whose value starts at ``mark`` (to name the field of a YAML error), or ''."""
    if (node.start_mark.line, node.start_mark.column) == (mark.line, mark.column) and path:
        return _fmt_path(path) + " "
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


def _guard_yaml(text: str, where: str) -> None:
    """Refuse alias bombs and absurd nesting before anything is constructed."""
    aliases = depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise SpecError(where, [("<root>", f"more than {MAX_YAML_ALIASES} YAML aliases: refused")])
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise SpecError(where, [("<root>", f"nesting deeper than {MAX_YAML_DEPTH} levels: refused")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<root>"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(where, [(loc, f"YAML syntax error: {problem}")]) from None


def _expanded_size(node: yaml.Node, where: str) -> int:
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
            raise SpecError(where, [("<root>", "recursive YAML anchor (an alias inside its own anchor): refused")])
        visiting.add(key)
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        visiting.discard(key)
        if total > MAX_YAML_NODES:
            raise SpecError(where, [("<root>", f"the YAML expands to more than {MAX_YAML_NODES} values (alias bomb?): refused")])
        sizes[key] = total
        return total

    return size(node)


def _allowed_fields(loc: tuple, root: type[BaseModel] | None = None) -> list[str]:
    """The field names allowed at the parent of ``loc`` (for 'unknown field' messages)."""
    model: Any = root or Spec
    key_next = False  # the previous field was a dict of models: this part is a key, not a field
    for part in loc[:-1]:
        if isinstance(part, int) or key_next:
            key_next = False
            continue
        fields = getattr(model, "model_fields", {})
        info = next((f for n, f in fields.items() if n == part or f.alias == part), None)
        if info is None:
            return []
        ann = info.annotation
        key_next = getattr(ann, "__origin__", None) is dict
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
                break
            inner = getattr(cand, "__args__", ())
            sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if sub:
                model = sub
                break
        else:
            return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _located(loc: tuple, lines: dict[tuple, int]) -> str:
    """``a.b[2].c (line N)``: the path, with the line of its closest ancestor present in the file."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return f"{_fmt_path(loc)} (line {lines[loc[:cut]]})"
    return _fmt_path(loc)


def _problems_from(exc: ValidationError, lines: dict[tuple, int],
                   root: type[BaseModel] | None = None) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = _located(loc, lines)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc, root)
            msg = f"unknown field {loc[-1]!r}" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if ("input" in err and err["type"] != "model_type" and not isinstance(err["input"], (dict, list))
                    and repr(err["input"]) not in msg):
                msg += f" (got {err['input']!r})"
        problems.append((where, msg))
    return problems


def read_yaml_mapping(text: str, source: str, empty_hint: str,
                      expand: bool = True) -> tuple[dict[str, Any], dict[tuple, int]]:
    """Safely read a YAML mapping (size, alias and nesting limits; ``${VAR}`` expanded unless ``expand`` is False).

    Returns the mapping and each field path's line; raises SpecError naming ``source``.
    """
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise SpecError(source, [("<root>", f"spec larger than {MAX_SPEC_BYTES} bytes: refused")])
    _guard_yaml(text, source)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        raise SpecError(source, [("<root>", f"the file is empty; expected {empty_hint}")])
    _expanded_size(node, source)
    lines = _line_index(node)
    duplicates = _duplicate_keys(node)
    if duplicates:
        raise SpecError(source, duplicates)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # unsafe tags (!!python/...), unhashable keys, bad !!binary
        mark = getattr(exc, "problem_mark", None)
        loc = f"{_field_at(node, mark)}(line {mark.line + 1}, column {mark.column + 1})" if mark else "<root>"
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in problem:
            problem += " (only plain YAML values are allowed: no !!python or other custom tags)"
        raise SpecError(source, [(loc, problem)]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an impossible date such as 2024-13-45
        raise SpecError(source, [("<root>", f"a value cannot be read: {exc}")]) from None
    if not isinstance(raw, dict):
        raise SpecError(source, [("<root> (line 1)", f"expected a mapping of fields, got {type(raw).__name__}")])
    bad_keys = [k for k in raw if not isinstance(k, str)]
    if bad_keys:
        raise SpecError(source, [("<root>", f"field names must be strings, got {bad_keys!r}")])
    problems: list[tuple[str, str]] = []
    expanded = _walk_expand(raw, (), problems) if expand else raw
    if problems:
        raise SpecError(source, problems)
    return expanded, lines


def parse_spec(text: str, source: str = "<memory>", environment: Any = None) -> Spec:
    """Parse spec text, with ``environment`` (an :class:`mlpublish.environments.Environment`) overlaid.

    Raises :class:`SpecError` listing every problem found.
    """
    expanded, lines = read_yaml_mapping(text, source, "a mapping with at least name, algorithm, target")
    if environment is not None:
        expanded = environment.overlay(expanded)
    try:
        spec = Spec.model_validate(expanded, context={"defer_consistency": True})
    except ValidationError as exc:
        raise SpecError(source, _problems_from(exc, lines)) from None
    cross = spec.consistency_problems()
    if cross:
        raise SpecError(source, [(_located(loc, lines), msg) for loc, msg in cross])
    spec._source_path = source
    spec._environment = environment
    return spec


def load_spec(path: str | os.PathLike[str], env: str | None = None) -> Spec:
    """Read and parse a spec file, in environment ``env`` (default ``MLPUBLISH_ENV``; none: the file as it is).

    Every adapter loads specs through this function, so the CLI, Airflow and Dagster all get the environment.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(str(p), [("<root>", f"spec larger than {MAX_SPEC_BYTES} bytes ({size}): refused")])
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(p), [("<file>", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError(str(p), [("<file>", "is a directory, expected a YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(p), [("<file>", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise SpecError(str(p), [("<file>", f"cannot read: {exc.strerror or exc}")]) from None
    from mlpublish.environments import select_environment

    return parse_spec(text, str(p), select_environment(p.parent, env))
