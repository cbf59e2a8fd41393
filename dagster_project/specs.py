"""The specs a code location serves: one YAML file per model in ``MLPUBLISH_SPECS_DIR``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey

from mlpublish.errors import SpecError
from mlpublish.spec import Spec, load_spec
from mlpublish.spec.environments import FILE_NAME as ENVIRONMENTS_FILE

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
class SpecRef:
    """Where a spec lives and the names Dagster knows it by. Steps re-read the file when they run."""

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

    def load(self) -> Spec:
        spec = load_spec(self.path)
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
        """The key of one of this spec's assets: ``<model>/<noun>``."""
        return AssetKey([self.key, noun])


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


def discover(folder: Path | None = None) -> list[SpecRef]:
    """Every spec in ``folder``, validated; the first bad spec fails loudly, naming its file (``survey``, which the
    code location uses, keeps the good specs and reports each bad one instead)."""
    refs, invalid = survey(folder)
    if invalid:
        raise invalid[0].error
    return refs


def survey(folder: Path | None = None) -> tuple[list[SpecRef], list[InvalidSpec]]:
    """Every ``*.yaml``/``*.yml`` in ``folder``: the valid specs' refs, and each invalid spec with its error."""
    folder = folder or specs_dir()
    if not folder.is_dir():
        raise SpecError(str(folder), [(SPECS_DIR_VAR, "not a folder of model specs")])
    refs: list[SpecRef] = []
    invalid: list[InvalidSpec] = []
    by_key: dict[str, SpecRef] = {}
    # environments.yaml beside the specs is the environments file (mlpublish/spec/environments.py), not a spec.
    # Not only regular files: load_spec refuses a FIFO, a device or a symlink out of the folder by its name,
    # without reading (or blocking on) it.
    for path in sorted(
        p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.is_dir() and p.name != ENVIRONMENTS_FILE
    ):
        try:
            ref = spec_ref(path)
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


def spec_ref(path: Path) -> SpecRef:
    """The names Dagster knows one spec file by (reads and validates it: ``SpecError`` when invalid)."""
    spec = load_spec(path)
    return SpecRef(
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
    )
