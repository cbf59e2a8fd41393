"""Every read of the OpenMetadata server, and the primitives the writes share.

The SDK is imported here and in ``writes``, and only on first delivery: its import costs seconds. A
``Client`` lives for one delivery: entity lookups are cached, so requests grow with distinct tables,
not features. ``known`` (services, classification, custom properties, owners) outlives it.
"""

from __future__ import annotations

import logging
from typing import Any

from mlpublish.catalog.address import api_url
from mlpublish.catalog.openmetadata.errors import Rejected, classify, classify_connect
from mlpublish.catalog.openmetadata.payloads import PIPELINE_DESCRIPTION, PIPELINE_SERVICE_DESCRIPTION
from mlpublish.config import OpenMetadataSettings

log = logging.getLogger("mlpublish.catalog.openmetadata")


def connect(settings: OpenMetadataSettings) -> Any:
    """An SDK client; no retries of its own (the outbox retries), bounded timeouts."""
    from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
        OpenMetadataConnection,
    )
    from metadata.generated.schema.security.client.openMetadataJWTClientConfig import OpenMetadataJWTClientConfig
    from metadata.ingestion.ometa.ometa_api import OpenMetadata

    conn = OpenMetadataConnection(
        hostPort=api_url(settings.host_port),  # "/api" appended when absent, as the outbox key has it
        authProvider="openmetadata",
        securityConfig=OpenMetadataJWTClientConfig(jwtToken=settings.jwt_token or ""),
    )
    try:
        return OpenMetadata(conn, additional_client_config_arguments={"retry": 0, "retry_wait": 0, "timeout": (5, 60)})
    except Exception as exc:
        raise classify_connect(exc, settings.host_port) from None


def team_type_of(team: Any) -> str | None:
    """A Team's teamType as text (the SDK gives an enum), None for a user."""
    kind = getattr(team, "teamType", None)
    return None if kind is None else str(getattr(kind, "value", kind))


def team_types(settings: OpenMetadataSettings, names: list[str]) -> dict[str, str | None]:
    """Each team's teamType on the server (None: no such team), for ``mlpublish check``."""
    from metadata.generated.schema.entity.teams.team import Team

    om = connect(settings)
    out = {}
    for name in names:
        try:
            team = om.get_by_name(Team, name)
        except Exception as exc:
            raise classify(exc, f"team {name}") from None
        out[name] = None if team is None else team_type_of(team)
    return out


class Client:
    """One delivery's view of the server: SDK calls whose failures are classified, cached lookups."""

    def __init__(self, om: Any, settings: OpenMetadataSettings, known: dict[str, Any]):
        self.om, self.settings, self.known = om, settings, known
        self.tables: dict[str, Any] = {}
        self.models: dict[str, Any] = {}
        self.pipelines: dict[str, Any] = {}
        self.containers: dict[str, Any] = {}

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc, what) from None

    # Lookups -----------------------------------------------------------------
    def table(self, fqn: str) -> Any:
        if fqn not in self.tables:
            from metadata.generated.schema.entity.data.table import Table

            self.tables[fqn] = self.call(f"table {fqn}", self.om.get_by_name, Table, fqn)
        return self.tables[fqn]

    def container(self, fqn: str) -> Any:
        if self.containers.get(fqn) is None:
            from metadata.generated.schema.entity.data.container import Container

            self.containers[fqn] = self.call(f"container {fqn}", self.om.get_by_name, Container, fqn)
        return self.containers[fqn]

    def table_id(self, fqn: str) -> str | None:
        table = self.table(fqn)
        return None if table is None else str(table.id.root)

    def model(self, fqn: str) -> Any:
        if self.models.get(fqn) is None:
            from metadata.generated.schema.entity.data.mlmodel import MlModel

            self.models[fqn] = self.call(
                f"mlmodel {fqn}", self.om.get_by_name, MlModel, fqn, fields=["tags", "extension", "owners"]
            )
        return self.models[fqn]

    def ensure(self, key: str, get: Any, create: Any) -> Any:
        if key not in self.known:
            found = self.call(key, get)
            self.known[key] = found if found is not None else self.call(key, create)
        return self.known[key]

    def lookup(self, kind: str, fqn: str) -> Any:
        key = f"{kind} {fqn}"
        if key not in self.known:
            from metadata.generated.schema.entity.data.dashboard import Dashboard
            from metadata.generated.schema.entity.teams.team import Team
            from metadata.generated.schema.entity.teams.user import User

            cls = {"dashboard": Dashboard, "team": Team, "user": User}[kind]
            self.known[key] = self.call(key, self.om.get_by_name, cls, fqn)
        return self.known[key]

    def owner(self, ref: dict[str, str]) -> dict[str, str] | None:
        kind = ref.get("type", "team")
        if kind not in ("team", "user"):
            return None
        found = self.lookup(kind, ref["name"])
        if found is None:
            log.warning("owner %s:%s is not in OpenMetadata; left out of the model's owners", kind, ref["name"])
            return None
        team_type = team_type_of(found)
        if kind == "team" and team_type != "Group":
            # EntityRepository.validateOwners refuses the whole model (400); `mlpublish check` names it first
            log.warning(
                "owner team %s is of type %s: only a team of type Group can own; left out of the model's owners",
                ref["name"],
                team_type,
            )
            return None
        return {"id": str(found.id.root), "type": kind}

    def ref(self, kind: str, fqn: str, what: str) -> dict[str, str]:
        lookup = {"table": self.table, "container": self.container}.get(kind, self.model)
        entity = lookup(fqn)
        if entity is None:
            raise Rejected(f"{what}: {kind} {fqn} is not in OpenMetadata")
        return {"id": str(entity.id.root), "type": kind}

    def pipeline(self, name: str, what: str) -> dict[str, str]:
        """Reference to the Pipeline entity ``<pipeline service>.<name>``, created when missing.

        Looked up once per delivery (like tables); the service is only needed, and then
        ensured once per process, when the pipeline itself is missing.
        """
        from metadata.generated.schema.api.data.createPipeline import CreatePipelineRequest
        from metadata.generated.schema.api.services.createPipelineService import CreatePipelineServiceRequest
        from metadata.generated.schema.entity.data.pipeline import Pipeline
        from metadata.generated.schema.entity.services.pipelineService import PipelineService
        from metadata.utils.fqn import quote_name

        service = self.settings.pipeline_service
        try:
            fqn = f"{quote_name(service)}.{quote_name(name)}"
        except ValueError:
            raise Rejected(
                f"{what}: [lineageDetails.pipeline] pipeline {name!r} (service {service!r}) is not a valid "
                "OpenMetadata name (a name may not contain a double quote)"
            ) from None
        if fqn not in self.pipelines:
            om = self.om
            found = self.call(f"pipeline {fqn}", om.get_by_name, Pipeline, fqn)
            if found is None:
                self.ensure(
                    f"pipelineService {service}",
                    lambda: om.get_by_name(PipelineService, quote_name(service)),
                    lambda: om.create_or_update(
                        CreatePipelineServiceRequest(
                            name=service, serviceType="CustomPipeline", description=PIPELINE_SERVICE_DESCRIPTION
                        )
                    ),
                )
                try:
                    request = CreatePipelineRequest.model_validate(
                        {"name": name, "service": quote_name(service), "description": PIPELINE_DESCRIPTION}
                    )
                except Exception as exc:
                    raise Rejected(f"{what}: [lineageDetails.pipeline] pipeline {name!r}: {exc}") from None
                found = self.call(f"create pipeline {fqn}", om.create_or_update, request)
            self.pipelines[fqn] = found
        return {"id": str(self.pipelines[fqn].id.root), "type": "pipeline"}

    # Model patches -----------------------------------------------------------
    def patch_model(self, fqn: str, change: Any, what: str) -> None:
        current = self.model(fqn)
        if current is None:
            raise Rejected(f"mlmodel {fqn}: not in OpenMetadata (its upsert failed or was dead-lettered)")
        from metadata.generated.schema.entity.data.mlmodel import MlModel

        dest = current.model_copy(deep=True)
        change(dest)
        if dest == current:
            return
        updated = self.call(f"mlmodel {fqn} {what}", self.om.patch, MlModel, current, dest, skip_on_failure=False)
        self.models[fqn] = updated if updated is not None else None
