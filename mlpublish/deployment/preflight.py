"""Checks that need more than the YAML: the estimator, the metrics, the warehouse.

Everything here only reads. ``mlpublish check`` runs exactly this; ``run`` runs
it before its first write, so a bad spec never leaves anything behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mlpublish.catalog.entity import owner_refs
from mlpublish.catalog.openmetadata import team_types
from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import SpecError, WarehouseError
from mlpublish.evaluation.metrics import default_select_by, metrics_for
from mlpublish.modelling import EstimatorRef, existing_model_ref, resolve_estimator
from mlpublish.redact import scrub
from mlpublish.spec import Spec
from mlpublish.warehouse import Warehouse

log = logging.getLogger("mlpublish.preflight")


@dataclass(frozen=True)
class Preflight:
    spec: Spec
    estimator: EstimatorRef
    warehouse: Warehouse
    training_fqn: str
    training_columns: dict[str, str]

    @property
    def task(self) -> str:
        return self.estimator.task

    @property
    def select_by(self) -> str:
        return self.spec.training.selectBy or default_select_by(self.task)


def preflight(spec: Spec, *, check_warehouse: bool = True, check_catalog: bool | None = None) -> Preflight:
    """Validate ``spec`` against the estimator and the warehouse; raise SpecError listing every problem.

    ``check_catalog``: ask the OpenMetadata server about the owners (``mlpublish check``); None: only when
    the steps deliver to it themselves (strict). A step that only queues its events never imports the SDK
    nor waits on the server; a refused owner is then dead-lettered by the relay, naming the field."""
    src = spec.source_path
    problems: list[tuple[str, str]] = []

    if spec.training.existingModel is not None:
        ref = existing_model_ref(spec.training.existingModel, spec.training.task or "classification")
    else:
        ref = resolve_estimator(spec.training.estimator or "", spec.training.task, src)
    known = metrics_for(ref.task)
    for i, gate in enumerate(spec.validation.gates):
        if gate.metric not in known:
            problems.append(
                (
                    f"validation.gates[{i}].metric",
                    f"{gate.metric!r} is not computed for {ref.task}; expected one of: {', '.join(known)}",
                )
            )
    if spec.validation.fairness and ref.task != "classification":
        problems.append(("validation.fairness", f"disparities are measured for classification, not {ref.task}"))
    if spec.training.selectBy and spec.training.selectBy not in known:
        problems.append(
            (
                "training.selectBy",
                f"{spec.training.selectBy!r} is not computed for {ref.task}; expected one of: {', '.join(known)}",
            )
        )

    accepted = ref.param_names()
    if accepted is not None:
        valid = f" (its parameters: {', '.join(sorted(accepted))})" if accepted else " (it takes no parameters)"
        for i, hp in enumerate(spec.mlHyperParameters):
            if hp.name not in accepted:
                problems.append((f"mlHyperParameters[{i}].name", f"{ref.path} has no parameter {hp.name!r}{valid}"))
        for name in spec.training.candidates:
            if name not in accepted:
                problems.append((f"training.candidates.{name}", f"{ref.path} has no parameter {name!r}{valid}"))
    n = len(spec.training.grid())
    if n > 1 and spec.training.split.validationSize <= 0:
        problems.append(("training.split.validationSize", f"must be > 0 to choose among the {n} candidates"))
    if n > spec.training.maxCandidates:
        problems.append(
            ("training.candidates", f"{n} combinations exceed training.maxCandidates={spec.training.maxCandidates}")
        )

    if spec.catalog.url:
        from mlpublish.catalog import check_catalog_url

        problem = check_catalog_url(spec.catalog.url)
        if problem:
            problems.append(("catalog.url", problem))

    wh = Warehouse.from_spec(spec.data)
    columns: dict[str, str] = {}
    reachable = False
    if check_warehouse:
        try:
            wh.ping()
            reachable = True
        except WarehouseError as exc:
            problems.append(("data.connection", str(exc)))
    if reachable:
        try:
            columns = wh.columns(spec.data.trainingTable)
        except WarehouseError as exc:
            problems.append(("data.trainingTable", str(exc)))
        if columns:
            for i, f in enumerate(spec.mlFeatures):
                if f.name not in columns:
                    problems.append(
                        (
                            f"mlFeatures[{i}].name",
                            f"column {f.name!r} not found in {wh.table_fqn(spec.data.trainingTable)}",
                        )
                    )
            if spec.target not in columns:
                problems.append(
                    ("target", f"column {spec.target!r} not found in {wh.table_fqn(spec.data.trainingTable)}")
                )
            for col in spec.data.keyColumns:
                if col not in columns:
                    problems.append(
                        ("data.keyColumns", f"column {col!r} not found in {wh.table_fqn(spec.data.trainingTable)}")
                    )
            if spec.data.timeColumn and spec.data.timeColumn not in columns:
                problems.append(
                    (
                        "data.timeColumn",
                        f"column {spec.data.timeColumn!r} not found in {wh.table_fqn(spec.data.trainingTable)}",
                    )
                )
            problems += _check_group_columns(spec, columns, wh.table_fqn(spec.data.trainingTable))
        problems += _check_sources(spec, wh)
    if check_warehouse:  # the online checks: the catalog server too, when one is configured
        problems += _check_owner_teams(spec, check_catalog)
    if problems:
        raise SpecError(src, problems)
    return Preflight(spec, ref, wh, wh.table_fqn(spec.data.trainingTable), columns)


def _check_owner_teams(spec: Spec, check_catalog: bool | None) -> list[tuple[str, str]]:
    """OpenMetadata lets only a team of type Group own an entity (EntityRepository.validateOwners): a spec
    naming another kind of team would have every model upsert refused, so say so now. Unreachable: not checked."""
    teams = {i: r["name"] for i, r in enumerate(owner_refs(spec.owners)) if r["type"] == "team"}
    settings = OpenMetadataSettings.from_env()
    if not teams or settings is None:
        return []
    if not (settings.strict or settings.deliver_in_step if check_catalog is None else check_catalog):
        return []
    try:
        found = team_types(settings, sorted(set(teams.values())))
    except Exception as exc:
        log.warning("owners not checked against OpenMetadata (%s)", scrub(str(exc)))
        return []
    return [
        (
            f"owners[{i}]",
            f"team {name!r} is of type {found[name]} in OpenMetadata: only a team of type Group can own a model",
        )
        for i, name in teams.items()
        if found.get(name) not in (None, "Group")
    ]


def _check_group_columns(spec: Spec, columns: dict[str, str], table: str) -> list[tuple[str, str]]:
    """Slice and sensitive columns must exist in the training table: a gate on a missing slice would never apply."""
    problems = [
        (f"validation.slices[{i}].column", f"column {s.column!r} not found in {table}")
        for i, s in enumerate(spec.validation.slices)
        if s.column not in columns
    ]
    problems += [
        (f"validation.fairness[{i}].sensitiveColumn", f"column {f.sensitiveColumn!r} not found in {table}")
        for i, f in enumerate(spec.validation.fairness)
        if f.sensitiveColumn not in columns
    ]
    return problems


def _check_sources(spec: Spec, wh: Warehouse) -> list[tuple[str, str]]:
    """Feature sources in this warehouse must exist, column included. Others are the catalog's business."""
    problems: list[tuple[str, str]] = []
    cache: dict[tuple[str, str], dict[str, str] | str] = {}
    for i, f in enumerate(spec.mlFeatures):
        for j, src in enumerate(f.featureSources):
            if not src.dataSourceFqn:
                continue
            if not wh.owns(src.dataSourceFqn):
                if src.dataSourceFqn.split(".")[0] == wh.service:  # same service, another database: likely a typo
                    log.warning(
                        "mlFeatures[%d].featureSources[%d].dataSourceFqn %s is not checked: this warehouse "
                        "connection is %s.%s",
                        i,
                        j,
                        src.dataSourceFqn,
                        wh.service,
                        wh.db_name,
                    )
                continue
            _, _, schema, table = src.dataSourceFqn.split(".")
            key = (schema, table)
            if key not in cache:
                try:
                    cache[key] = wh.columns(table, schema=schema)
                except WarehouseError as exc:
                    cache[key] = str(exc)
            cols = cache[key]
            where = f"mlFeatures[{i}].featureSources[{j}]"
            if isinstance(cols, str):
                problems.append((where + ".dataSourceFqn", cols))
            elif src.name not in cols:
                problems.append((where + ".name", f"column {src.name!r} not found in {src.dataSourceFqn}"))
    return problems
