"""Everything a step needs besides its inputs: spec, registry, catalog, pipeline identity."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mlpublish import config
from mlpublish.catalog import open_catalog, publish
from mlpublish.preflight import Preflight, preflight
from mlpublish.registry import Registry
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
    def create(cls, spec: Spec, *, pipeline: dict[str, str] | None = None, catalog: Any = None,
               check_warehouse: bool = True) -> "PublishContext":
        """Validate the spec (no writes) and connect to the registry and catalog.

        Every step writes (runs, versions, aliases, predictions, catalog): a spec loaded in a
        readOnly environment is refused here, before anything is written.
        """
        if spec.environment is not None:
            spec.environment.require_writable(f"run {spec.name} from {spec.source_path}")
        pf = preflight(spec, check_warehouse=check_warehouse)
        uri = config.tracking_uri(spec.mlflow.trackingUri)
        registry = spec.mlflow.registryUri or config.registry_uri(uri)
        config.activate(uri, registry)
        return cls(spec, pf, Registry(uri, registry),
                   catalog if catalog is not None else open_catalog(spec.catalog.url,
                                                                    pipeline_service=spec.catalog.pipelineService),
                   pipeline)

    @property
    def name(self) -> str:
        return self.spec.name

    def emit(self, *events: Any) -> None:
        """Send catalog events. A catalog failure is reported, never half-applied (the sink is transactional)."""
        publish(self.catalog, list(events), self.spec.fqn)
