"""The specs a code location serves: one YAML file per model in ``MLPUBLISH_SPECS_DIR``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from dagster import AssetKey

from mlpublish.errors import SpecError
from mlpublish.spec import Spec, load_spec
from mlpublish.spec.document import parse_spec
from mlpublish.spec.environments import FILE_NAME as ENVIRONMENTS_FILE
from mlpublish.spec.environments import select_environment

SPECS_DIR_VAR = "MLPUBLISH_SPECS_DIR"


def specs_dir() -> Path:
    """``MLPUBLISH_SPECS_DIR``, else the project's ``specs/`` (a source checkout), else ``./specs``."""
    env = os.environ.get(SPECS_DIR_VAR, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    project = Path(__file__).resolve().parent.parent / "specs"
    return project if project.is_dir() else (Path.cwd() / "specs").resolve()


def dagster_name(model_name: str) -> str:
    """A model name as a Dagster name (asset key part, group, job): letters, digits and ``_`` only."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", model_name.strip()).lower()
    return out if out and not out[0].isdigit() else f"m_{out}"


@dataclass(frozen=True)
class Placement:
    """Where one spec's definitions sit in a Dagster project (the translator decides it, translator.py): asset
    keys, group, owners, the upstream asset its feature table is, and the prefix of the resource keys it uses."""

    keys: tuple[tuple[str, AssetKey], ...] = ()  # (noun, key); a noun not listed is <model>/<noun>
    group: str | None = None  # None: the model's Dagster name
    owners: tuple[str, ...] = ()
    upstream_feature_table: bool = False  # True: keys["feature_table"] is another integration's asset
    resource_prefix: str = ""


@dataclass(frozen=True)
class SpecRef:
    """Where a spec lives and the names Dagster knows it by. Steps re-read the file (or the inline text) when
    they run, in the environment the code location loaded it in."""

    path: Path
    name: str  # the registered model name
    key: str  # asset key prefix, group, job and schedule stem
    schedule: str | None
    description: str | None
    training_table: str
    gates: tuple[str, ...]  # each gate is an asset check: their list is fixed when the code location loads
    scoring_schedule: str | None = None
    monitoring_schedule: str | None = None
    fairness: tuple[str, ...] = ()  # each validation.fairness entry is an asset check too
    owners: tuple[str, ...] = ()  # the spec's owners (user:..., team:..., or a bare team name)
    shadow: bool = False  # promotion.mode: shadow: the monitoring job decides on live labels (live_promotion)
    approval: bool = False  # promotion.approval: required: a promote-approved job and its sensor (approval.py)
    environment: str | None = None  # None: MLPUBLISH_ENV, else the environments file's default
    text: str | None = None  # an inline spec (a component's defs.yaml): path then names that file
    placement: Placement = Placement()

    def read(self) -> Spec:
        """The spec as it is now (``load`` also checks it still matches what the code location serves)."""
        if self.text is None:
            return load_spec(self.path, environment=self.environment)
        env = select_environment(self.path.parent, self.environment)
        return parse_spec(self.text, f"{self.path} (spec)", env, source_path=str(self.path))

    def load(self) -> Spec:
        spec = self.read()
        if spec.name != self.name or gate_names(spec) != self.gates or fairness_names(spec) != self.fairness:
            raise SpecError(
                str(self.path),
                [
                    (
                        "name, validation.gates, validation.fairness",
                        f"changed since this code location loaded ({self.name!r}, gates "
                        f"{list(self.gates + self.fairness)}): reload the code location",
                    )
                ],
            )
        return spec

    def asset_key(self, noun: str) -> AssetKey:
        """The key of one of this spec's assets: ``<model>/<noun>`` unless the translator placed it elsewhere."""
        for name, key in self.placement.keys:
            if name == noun:
                return key
        return AssetKey([self.key, noun])

    @property
    def group(self) -> str:
        return self.placement.group or self.key

    def resource_key(self, name: str) -> str:
        """A resource key as this code location binds it: ``mlflow`` -> ``<prefix>mlflow``."""
        return self.placement.resource_prefix + name


_KIND = {
    "min": "min",
    "max": "max",
    "maxDropVsChampion": "max_drop_vs_champion",
    "minGainVsChampion": "min_gain_vs_champion",
}


def _unique(bases: Iterable[str]) -> tuple[str, ...]:
    """The names in order, a repeated one suffixed ``_2``, ``_3``... (asset check names must differ)."""
    names: list[str] = []
    for base in bases:
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return tuple(names)


def gate_names(spec: Spec) -> tuple[str, ...]:
    """Asset check names of the spec's gates, in order: ``roc_auc_min``, ``roc_auc_max_drop_vs_champion``..."""
    return _unique(dagster_name(f"{gate.metric}_{_KIND[gate.kind]}") for gate in spec.validation.gates)


def fairness_names(spec: Spec) -> tuple[str, ...]:
    """Asset check names of the spec's fairness bounds: ``fairness_true_positive_rate_difference_gender``..."""
    return _unique(
        dagster_name(f"fairness_{f.metric}_{f.measure}_{f.sensitiveColumn}") for f in spec.validation.fairness
    )


@dataclass(frozen=True)
class InvalidSpec:
    """A spec file the code location could not serve, and why: shown as its own asset (invalid_specs.py)."""

    path: Path
    error: SpecError


def discover(folder: Path | None = None, environment: str | None = None) -> list[SpecRef]:
    """Every spec in ``folder``, validated; the first bad spec fails loudly, naming its file (``survey``, which the
    code location uses, keeps the good specs and reports each bad one instead)."""
    refs, invalid = survey(folder, environment)
    if invalid:
        raise invalid[0].error
    return refs


def survey(folder: Path | None = None, environment: str | None = None) -> tuple[list[SpecRef], list[InvalidSpec]]:
    """Every ``*.yaml``/``*.yml`` in ``folder``: the valid specs' refs, and each invalid spec with its error."""
    folder = folder or specs_dir()
    if not folder.is_dir():
        raise SpecError(str(folder), [(SPECS_DIR_VAR, "not a folder of model specs")])
    # environments.yaml beside the specs is the environments file (mlpublish/spec/environments.py), not a spec.
    # Not only regular files: load_spec refuses a FIFO, a device or a symlink out of the folder by its name,
    # without reading (or blocking on) it.
    paths = sorted(
        p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.is_dir() and p.name != ENVIRONMENTS_FILE
    )
    return collect(paths, lambda path: spec_ref(path, environment))


def collect(sources: Iterable[Path], read: Callable[[Path], SpecRef]) -> tuple[list[SpecRef], list[InvalidSpec]]:
    """The refs ``read`` makes of ``sources``; a spec that fails, or whose Dagster name another already has,
    becomes an :class:`InvalidSpec`."""
    refs: list[SpecRef] = []
    invalid: list[InvalidSpec] = []
    by_key: dict[str, SpecRef] = {}
    for path in sources:
        try:
            ref = read(path)
        except SpecError as exc:
            invalid.append(InvalidSpec(path, exc))
            continue
        if ref.key in by_key:
            other = by_key[ref.key]
            problem = f"model {ref.name!r} maps to the Dagster name {ref.key!r}, already used by {other.name!r} in {other.path}"
            invalid.append(InvalidSpec(path, SpecError(str(path), [("name", problem)])))
            continue
        by_key[ref.key] = ref
        refs.append(ref)
    return refs, invalid


def spec_ref(path: Path, environment: str | None = None, text: str | None = None) -> SpecRef:
    """The names Dagster knows one spec by. Reads the file (or ``text``, an inline spec standing for ``path``)
    and validates it as ``mlpublish check --no-warehouse`` does (estimator, parameters, gate and selection
    metrics): ``SpecError`` when invalid, so that a gate on a metric the task does not compute is refused when the
    code location loads, not when the run reaches the gate."""
    from mlpublish.deployment.preflight import preflight

    # read by the name it was given: a symlink out of the folder is refused by that name, before it is resolved
    unread = SpecRef(path, "", "", None, None, "", (), environment=environment, text=text)
    spec = unread.read()
    preflight(spec, check_warehouse=False)
    return replace(
        unread,
        path=path.resolve(),
        name=spec.name,
        key=dagster_name(spec.name),
        schedule=spec.schedule,
        description=(spec.description or "").strip() or None,
        training_table=spec.data.trainingTable,
        gates=gate_names(spec),
        fairness=fairness_names(spec),
        scoring_schedule=spec.scoring.schedule,
        monitoring_schedule=spec.monitoring.schedule,
        owners=tuple(spec.owners),
        shadow=spec.promotion.mode == "shadow",
        approval=spec.promotion.approval == "required",
    )
