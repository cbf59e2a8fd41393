"""Where an environment's outside systems are, and the one place that opens them.

A :class:`Deployment` is a value: the MLflow tracking and registry URIs, the catalog
location (and OpenMetadata settings), the warehouse and the MLflow credentials of one
environment, resolved once. Every caller opens the registry, the catalog and the
warehouse through it: the CLI, :class:`mlpublish.deployment.context.PublishContext`, copy and
compare, the Airflow hooks and the Dagster resources.

The URIs follow two precedences, both kept from before this module existed:

* a spec (:func:`for_spec`, the environment already overlaid on it): ``mlflow.trackingUri``,
  else ``MLFLOW_TRACKING_URI``, else ``./mlflow.db``; ``mlflow.registryUri``, else
  ``MLFLOW_REGISTRY_URI``, else the tracking URI;
* an environment without a spec (:func:`for_environment`, commands given a model name):
  the environment's ``mlflow`` settings (an environment with its own tracking server keeps
  its registry there), else the same defaults as above.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlpublish import config
from mlpublish.catalog import open_catalog
from mlpublish.errors import WarehouseError
from mlpublish.registry import Registry
from mlpublish.registry.session import MlflowCredentials, mlflow_session
from mlpublish.spec import Spec
from mlpublish.warehouse import Warehouse

if TYPE_CHECKING:
    from mlpublish.spec import DataSpec
    from mlpublish.spec.environments import Environment


@dataclass(frozen=True)
class Deployment:
    """The resolved locations of one environment's registry, catalog and warehouse; nothing is opened yet."""

    tracking_uri: str = field(repr=False)  # URIs and URLs may hold passwords: kept out of reprs
    registry_uri: str = field(repr=False)
    catalog_url: str | None = None  # None: MLPUBLISH_CATALOG, else ./mlpublish-catalog.db
    pipeline_service: str | None = None
    openmetadata: config.OpenMetadataSettings | None = None  # None: OPENMETADATA_HOST_PORT, if set
    data: DataSpec | None = field(default=None, repr=False)  # the warehouse, when a spec names it
    credentials: MlflowCredentials | None = None  # None: the process's own MLFLOW_TRACKING_* variables

    def open_registry(self) -> Registry:
        return Registry(self.tracking_uri, self.registry_uri)

    def open_catalog(self) -> Any:
        return open_catalog(self.catalog_url, openmetadata=self.openmetadata, pipeline_service=self.pipeline_service)

    def open_warehouse(self) -> Warehouse:
        if self.data is None:
            raise WarehouseError("no warehouse: it is named by a spec's data section, and no spec was given")
        return Warehouse.from_spec(self.data)

    def mlflow_session(self) -> AbstractContextManager[None]:
        """MLflow pointed at this deployment, with its credentials, for the duration of one step."""
        return mlflow_session(self.tracking_uri, self.registry_uri, self.credentials)


def for_spec(
    spec: Spec,
    *,
    openmetadata: config.OpenMetadataSettings | None = None,
    catalog_url: str | None = None,
    credentials: MlflowCredentials | None = None,
) -> Deployment:
    """The deployment a spec runs in. ``catalog_url`` is the deployment's catalog file, used when the
    spec names none (a Dagster resource's ``path``); ``openmetadata`` an adapter's server settings."""
    tracking = config.tracking_uri(spec.mlflow.trackingUri)
    return Deployment(
        tracking_uri=tracking,
        registry_uri=spec.mlflow.registryUri or config.registry_uri(tracking),
        catalog_url=spec.catalog.url or catalog_url,
        pipeline_service=spec.catalog.pipelineService,
        openmetadata=openmetadata,
        data=spec.data,
        credentials=credentials,
    )


def for_environment(env: Environment | None, *, credentials: MlflowCredentials | None = None) -> Deployment:
    """The deployment of an environment (None: no environment, the process's defaults), for commands without a spec."""
    if env is None:
        tracking = config.tracking_uri()
        return Deployment(tracking, config.registry_uri(tracking), credentials=credentials)
    return Deployment(
        env.tracking_uri(),
        env.registry_uri(),
        catalog_url=env.settings.catalog.url,
        pipeline_service=env.settings.catalog.pipelineService,
        credentials=credentials,
    )
