"""The catalog port: steps emit events, a sink applies them.

``open_catalog`` builds the sink from a URL (``MLPUBLISH_CATALOG`` or the
spec's ``catalog.url``): a file path or ``sqlite:///path`` is the embedded local
catalog, a ``postgresql://`` URL the same catalog in a database every worker shares
(``store``); with OpenMetadata settings it is the OpenMetadata sink (``catalog/openmetadata/``)
with that store as its mirror and outbox.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from mlpublish import config
from mlpublish.catalog.local import LocalCatalog
from mlpublish.catalog.openmetadata import OpenMetadataCatalog, drain_queued
from mlpublish.errors import CatalogUnavailable, MlpublishError
from mlpublish.redact import scrub

__all__ = ["CatalogSink", "check_catalog_url", "drain_queued", "open_catalog", "publish"]


@runtime_checkable
class CatalogSink(Protocol):
    kind: str

    def publish(self, events: Iterable[Any]) -> None:
        """Apply the events in order. Re-applying the same events changes nothing."""

    def get(self, fqn: str) -> dict[str, Any] | None:
        """The entity with this FQN, or None."""


def publish(catalog: Any, events: list[Any], what: str) -> None:
    """Send events; any sink failure becomes CatalogUnavailable naming ``what`` (the sink is transactional)."""
    try:
        catalog.publish(events)
    except MlpublishError:
        raise
    except Exception as exc:
        raise CatalogUnavailable(
            scrub(f"catalog {catalog!r} refused an update for {what}: {exc.__class__.__name__}: {exc}")
        ) from exc


def open_catalog(
    url: str | None = None,
    *,
    openmetadata: config.OpenMetadataSettings | None = None,
    pipeline_service: str | None = None,
) -> Any:
    """The sink for this URL. With OpenMetadata settings (argument, else ``OPENMETADATA_HOST_PORT``)
    the sink is the OpenMetadata server, with the local catalog file at ``url`` as its durable outbox.
    ``pipeline_service`` (a spec's or environment's ``catalog.pipelineService``) names lineage pipelines' service."""
    settings = openmetadata or config.OpenMetadataSettings.from_env()
    local = _local_catalog(url)
    if settings is None:
        return local
    if pipeline_service:
        settings = dataclasses.replace(settings, pipeline_service=pipeline_service)
    if local.path == ":memory:":
        raise CatalogUnavailable("the OpenMetadata sink needs a catalog file for its outbox, not sqlite:// in memory")
    return OpenMetadataCatalog(settings, local)


def check_catalog_url(url: str) -> str | None:
    """Why ``url`` cannot be a catalog, or None (opens nothing: preflight refuses a bad URL before any write)."""
    try:
        _local_catalog(url)
    except CatalogUnavailable as exc:
        return str(exc)
    return None


def _local_catalog(url: str | None) -> LocalCatalog:
    """The mirror (and outbox) at ``url``: a file path, sqlite:///path, sqlite:// or a PostgreSQL URL."""
    return LocalCatalog(config.catalog_url(url))
