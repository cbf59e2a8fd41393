"""Everything a step needs besides its inputs: spec, registry, catalog, pipeline identity."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mlpublish.catalog import publish
from mlpublish.deployment import for_spec
from mlpublish.deployment.preflight import Preflight, preflight
from mlpublish.registry import Registry
from mlpublish.registry.session import point_mlflow_at
from mlpublish.spec import Spec

log = logging.getLogger("mlpublish")


def pipeline_tags(pipeline: dict[str, str] | None) -> dict[str, str]:
    """MLflow run tags naming the orchestrator run (DAG or Dagster job, and its run id)."""
    return {f"mlpublish.pipeline.{k}": v for k, v in (pipeline or {}).items()}


@dataclass
class PublishContext:
    spec: Spec
    preflight: Preflight
    registry: Registry
    catalog: Any
    pipeline: dict[str, str] | None = None
    # In-process shortcuts (held-out rows, fitted model) so a chain run in one
    # process does not re-download what it just produced. Steps run in separate
    # processes (Airflow tasks) read the same things back from MLflow instead.
    cache: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls, spec: Spec, *, pipeline: dict[str, str] | None = None, catalog: Any = None, check_warehouse: bool = True
    ) -> PublishContext:
        """Validate the spec (no writes) and connect to the registry and catalog.

        Every step writes (runs, versions, aliases, predictions, catalog): a spec loaded in a
        readOnly environment is refused here, before anything is written.
        """
        if spec.environment is not None:
            spec.environment.require_writable(f"run {spec.name} from {spec.source_path}")
        pf = preflight(spec, check_warehouse=check_warehouse)
        deployment = for_spec(spec)
        # the steps' fluent MLflow calls (start_run, log_model, models:/ URIs) go to the spec's stores; an
        # adapter running many steps in one process scopes this with Deployment.mlflow_session
        point_mlflow_at(deployment.tracking_uri, deployment.registry_uri)
        return cls(
            spec,
            pf,
            deployment.open_registry(),
            catalog if catalog is not None else deployment.open_catalog(),
            pipeline,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    def emit(self, *events: Any) -> None:
        """Send catalog events. A catalog failure is reported, never half-applied (the sink is transactional)."""
        publish(self.catalog, list(events), self.spec.fqn)
