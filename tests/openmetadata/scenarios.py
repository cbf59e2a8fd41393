"""The OpenMetadata scenarios, shared by the emulated run and the live run.

Every check reads OpenMetadata back through the SDK (never the emulator's
internals), so the same assertions hold against a real server.
"""

from __future__ import annotations

import json
from typing import Any

from mlpublish.catalog import open_catalog
from mlpublish.config import OpenMetadataSettings
from mlpublish.spec import load_spec
from mlpublish.workflows.chain import run_chain
from tests.conftest import churn_dict
from tests.support.helpers import GATES

SOURCE_TABLES = ("orders", "customers", "support_tickets")


def names(suffix: str) -> dict[str, str]:
    """Unique service names per run, so a live server's earlier runs never collide."""
    return {"service": f"mlp_om_models_{suffix}", "warehouse": f"mlp_om_wh_{suffix}"}


def spec_dict(suffix: str, **overrides: Any) -> dict[str, Any]:
    n = names(suffix)
    base = churn_dict(**overrides)
    base["serviceName"] = n["service"]
    base["data"]["service"] = n["warehouse"]
    for f in base["mlFeatures"]:
        for s in f["featureSources"]:
            s["dataSourceFqn"] = s["dataSourceFqn"].replace("warehouse.", f"{n['warehouse']}.", 1)
    return base


def weak_spec(ws: Any, suffix: str) -> Any:
    """A deliberately weak first champion (2 stumps): the next candidate beats it."""
    d = spec_dict(
        suffix,
        validation=GATES,
        training={"candidates": {"max_depth": [1]}},
        mlHyperParameters=[{"name": "n_estimators", "value": 2}, {"name": "random_state", "value": 0}],
    )
    return ws.spec("weak.yaml", replace=d)


def extra_trees_spec(ws: Any, suffix: str) -> Any:
    """A second version with another algorithm: a major entity version."""
    d = spec_dict(
        suffix,
        validation=GATES,
        algorithm="ExtraTreesClassifier",
        training={"estimator": "sklearn.ensemble.ExtraTreesClassifier", "candidates": {"max_depth": [8]}},
    )
    return ws.spec("extra.yaml", replace=d)


def failing_spec(ws: Any, suffix: str, **overrides: Any) -> Any:
    d = spec_dict(suffix, validation={"gates": [{"metric": "roc_auc", "min": 0.99}]}, **overrides)
    return ws.spec("failing.yaml", replace=d)


def publish(spec_path: Any, settings: OpenMetadataSettings, **kw: Any) -> tuple[Any, Any]:
    spec = load_spec(spec_path)
    catalog = open_catalog(None, openmetadata=settings)
    return spec, run_chain(spec, catalog=catalog, **kw)


class Reader:
    """Reads OpenMetadata through the SDK."""

    def __init__(self, settings: OpenMetadataSettings):
        from mlpublish.catalog.openmetadata import connect

        self.settings = settings
        self.om = connect(settings)

    def model(self, fqn: str) -> dict[str, Any]:
        from metadata.generated.schema.entity.data.mlmodel import MlModel

        m = self.om.get_by_name(MlModel, fqn, fields=["tags", "extension", "owners"])
        assert m is not None, f"no mlmodel {fqn}"
        return json.loads(m.model_dump_json(exclude_none=True))

    def table(self, fqn: str) -> dict[str, Any] | None:
        from metadata.generated.schema.entity.data.table import Table

        t = self.om.get_by_name(Table, fqn)
        return json.loads(t.model_dump_json(exclude_none=True)) if t is not None else None

    def pipeline(self, name: str) -> dict[str, Any] | None:
        """The Pipeline entity ``name`` under the configured pipeline service."""
        from metadata.generated.schema.entity.data.pipeline import Pipeline
        from metadata.utils.fqn import quote_name

        p = self.om.get_by_name(Pipeline, f"{quote_name(self.settings.pipeline_service)}.{quote_name(name)}")
        return json.loads(p.model_dump_json(exclude_none=True)) if p is not None else None

    def pipeline_service(self, name: str) -> dict[str, Any] | None:
        from metadata.generated.schema.entity.services.pipelineService import PipelineService

        s = self.om.get_by_name(PipelineService, name)
        return json.loads(s.model_dump_json(exclude_none=True)) if s is not None else None

    def versions(self, fqn: str) -> list[float]:
        from metadata.generated.schema.entity.data.mlmodel import MlModel

        m = self.model(fqn)
        history = self.om.get_list_entity_versions(m["id"], MlModel)
        out = [json.loads(v) if isinstance(v, str) else v for v in history.versions]
        return sorted(float(v["version"]) for v in out)

    def upstream(self, entity_type: str, fqn: str) -> dict[str, dict[str, Any]]:
        """Upstream neighbour FQN -> lineageDetails of the edge."""
        res = self.om.get_lineage_by_name(entity_type, fqn, up_depth=1, down_depth=0) or {}
        nodes = {n["id"]: n["fullyQualifiedName"] for n in res.get("nodes", [])}
        me = res["entity"]["id"]
        return {
            nodes[e["fromEntity"]]: e.get("lineageDetails", {})
            for e in res.get("upstreamEdges", [])
            if e["toEntity"] == me
        }

    def validation_tags(self, fqn: str) -> list[str]:
        return [t["tagFQN"] for t in self.model(fqn).get("tags", []) if t["tagFQN"].startswith("ModelValidation.")]

    def state(self, fqn: str) -> dict[str, Any]:
        """What a replay must not change: the entity with its version, tags, properties and lineage."""
        m = self.model(fqn)
        m.pop("updatedAt", None)
        m.pop("changeDescription", None)
        m.pop("incrementalChangeDescription", None)
        tables = {t for t in self.upstream("mlmodel", fqn)}
        pipelines = {d["pipeline"]["name"] for d in self.upstream("mlmodel", fqn).values() if d.get("pipeline")}
        return {
            "model": m,
            "versions": self.versions(fqn),
            "upstream": self.upstream("mlmodel", fqn),
            "tables": {t: (self.table(t) or {}).get("version") for t in sorted(tables)},
            "table_upstream": {t: self.upstream("table", t) for t in sorted(tables)},
            "pipelines": {p: self.pipeline(p) for p in sorted(pipelines)},
        }


def check_pipeline_edges(reader: Reader, spec: Any, pipeline: dict[str, str]) -> dict[str, Any]:
    """The chain's own edges (sources -> training table -> model) name the Pipeline entity and the run.
    Returns the Pipeline entity."""
    wh = spec.data.service
    p = reader.pipeline(pipeline["name"])
    assert p is not None, f"no pipeline {pipeline['name']} under {reader.settings.pipeline_service}"
    assert p["service"]["name"] == reader.settings.pipeline_service
    training = f"{wh}.main.main.customer_features"
    edges = [
        reader.upstream("mlmodel", spec.fqn)[training],
        *(reader.upstream("table", training)[f"{wh}.main.main.{t}"] for t in SOURCE_TABLES),
    ]
    for details in edges:
        assert details["pipeline"]["id"] == p["id"] and details["pipeline"]["type"] == "pipeline", details
        assert f"pipeline {pipeline['name']} run {pipeline['runId']}" in details["description"], details
    return p


def check_first_publish(reader: Reader, spec: Any, result: Any, created_tables: bool = True) -> None:
    """The entity, tag, properties, tables and lineage after a first PASSED, promoted publish."""
    fqn, wh = spec.fqn, spec.data.service
    m = reader.model(fqn)
    assert m["algorithm"] == spec.algorithm and m["target"] == spec.target
    assert {h["name"]: h["value"] for h in m["mlHyperParameters"]} == {
        k: str(v) for k, v in result.training.params.items()
    }
    assert m["mlStore"]["storage"]
    features = {f["name"]: f for f in m["mlFeatures"]}
    assert set(features) == {f.name for f in spec.mlFeatures}
    src = features["recency_days"]["featureSources"][0]
    assert src["dataSource"]["type"] == "table"
    assert reader.table(f"{wh}.main.main.orders")["id"] == src["dataSource"]["id"]
    assert reader.validation_tags(fqn) == ["ModelValidation.PASSED"]
    ext = m["extension"]
    assert ext["championVersion"] == result.promotion.version == ext["latestVersion"]
    assert ext["latestRunId"] == result.training.run_id == ext["championRunId"]
    assert json.loads(ext["aliases"]) == {"champion": result.promotion.version}
    assert "roc_auc" in json.loads(ext["latestMetrics"])
    assert ext["validationSummary"].startswith("PASSED") and ext["lastPublishedAt"]
    training = f"{wh}.main.main.customer_features"
    table = reader.table(training)
    assert table is not None and {c["name"] for c in table["columns"]} >= {f.name for f in spec.mlFeatures}
    up = reader.upstream("mlmodel", fqn)
    # our training table -> model edge, and the server's own edges from the feature sources
    assert set(up) == {training, *(f"{wh}.main.main.{t}" for t in SOURCE_TABLES)}
    assert "training data of" in up[training]["description"]
    feed = reader.upstream("table", training)
    orders = feed[f"{wh}.main.main.orders"]["columnsLineage"]
    assert {"fromColumns": [f"{wh}.main.main.orders.amount"], "toColumn": f"{training}.monetary"} in orders


def publish_story(workspace: Any, om_settings: OpenMetadataSettings, suffix: str, exact_versions: bool = False) -> None:
    """First publish, a second version promoted (major), a FAILED gate, then the outbox replayed twice."""
    reader = Reader(om_settings)
    run1 = {"name": f"mlp_om_publish_{suffix}", "runId": f"manual__{suffix}_1"}
    spec, first = publish(weak_spec(workspace, suffix), om_settings, pipeline=run1)
    assert first.status == "PASSED" and first.promotion.promoted
    check_first_publish(reader, spec, first)
    # the description is the champion's model card (a bot's PUT cannot set it: the sink patches it)
    card = reader.model(spec.fqn)["description"]
    assert card.startswith(f"# Model card: {spec.name} v1\n") and first.training.run_id in card
    assert all(f"| {c.name} |" in card for c in first.validation.checks)
    pipeline = check_pipeline_edges(reader, spec, run1)
    ws = spec.data.service
    assert reader.table(f"{ws}.main.main.orders")["version"] == 0.1  # registered from the warehouse schema
    v1_versions = reader.versions(spec.fqn)

    run2 = {**run1, "runId": f"manual__{suffix}_2"}
    spec2, second = publish(extra_trees_spec(workspace, suffix), om_settings, pipeline=run2)
    assert second.promotion.promoted and second.promotion.version == "2"
    again = check_pipeline_edges(reader, spec, run2)  # same Pipeline entity, the new run in the edges
    assert (again["id"], again["version"]) == (pipeline["id"], pipeline["version"])
    m = reader.model(spec.fqn)
    assert m["algorithm"] == "ExtraTreesClassifier"
    assert m["extension"]["championVersion"] == "2" and m["extension"]["previousChampionVersion"] == "1"
    versions = reader.versions(spec.fqn)
    assert int(versions[-1]) >= int(v1_versions[-1]) + 1, f"the algorithm change is a major version: {versions}"
    if exact_versions:  # a real server may consolidate one bot's changes within a session into fewer versions
        assert versions[: len(v1_versions)] == v1_versions
        steps = [round(b - a, 1) for a, b in zip(versions, versions[1:])]
        assert steps.count(1.0) == 1 and set(steps) == {0.1, 1.0}, versions
    assert reader.validation_tags(spec.fqn) == ["ModelValidation.PASSED"]
    card = m["description"]
    assert card.startswith(f"# Model card: {spec.name} v2\n") and card.endswith("It restores v1.\n")

    spec3, third = publish(failing_spec(workspace, suffix), om_settings)
    assert third.status == "FAILED"
    m = reader.model(spec.fqn)
    assert reader.validation_tags(spec.fqn) == ["ModelValidation.FAILED"]
    assert m["extension"]["championVersion"] == "2"
    assert (
        m["extension"]["validationSummary"].startswith("FAILED")
        and "roc_auc min 0.99" in m["extension"]["validationSummary"]
    )
    assert m["algorithm"] == "ExtraTreesClassifier"  # a rejected candidate never rewrites the champion entity
    assert m["description"] == card  # nor the champion's card

    catalog = open_catalog(None, openmetadata=om_settings)
    assert catalog.outbox.counts()["pending"] == 0 and catalog.outbox.counts()["failed"] == 0
    before = reader.state(spec.fqn)
    assert list(before["pipelines"]) == [run1["name"]]  # so the replay below is checked not to touch it
    for _ in range(2):
        report = catalog.replay()
        assert report.delivered > 0 and not report.failed and not report.outage
        assert reader.state(spec.fqn) == before
    # the mirror (mlpublish catalog show) agrees with the server
    mirror = catalog.find_model(spec.name)
    assert mirror["description"] == card
    assert {k: v if isinstance(v, str) else json.dumps(v) for k, v in mirror["extension"].items()} == m["extension"]
    assert [t["tagFQN"] for t in mirror["tags"]] == reader.validation_tags(spec.fqn)


def outage_during_middle_steps(
    workspace: Any, server: Any, settings: OpenMetadataSettings, tmp_path: Any, while_down: Any = None
) -> dict[str, int]:
    """The server answers 503 from evaluate to register; the chain completes, the outbox delivers on promote,
    and the final state equals an uninterrupted run of the same events on a fresh server (versions included).

    ``while_down(spec, outbox counts)`` runs while the server is down. Returns the event counts
    (queued during the outage, emitted, delivered, still pending or failed)."""
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog
    from mlpublish.deployment.context import PublishContext
    from mlpublish.steps import evaluate_model, promote_challenger, register_version, train_model, validate_candidate
    from tests.support.openmetadata_server import serve_emulator

    spec = load_spec(weak_spec(workspace, "t"))
    catalog = open_catalog(None, openmetadata=settings)
    ctx = PublishContext.create(spec, catalog=catalog)
    try:
        train = train_model(ctx)
        server.emulator.down = True
        evaluation = evaluate_model(ctx, train)
        validation = validate_candidate(ctx, train, evaluation)
        registration = register_version(ctx, train, evaluation, validation)
        counts = catalog.outbox.counts()
        assert counts["pending"] >= 4 and counts["failed"] == 0
        head = catalog.outbox.pending()[0]
        assert head.attempts >= 1 and "503" in head.last_error
        if while_down is not None:
            while_down(spec, counts)
        server.emulator.down = False
        promotion = promote_challenger(ctx, evaluation, validation, registration)
    finally:
        ctx.preflight.warehouse.dispose()
    assert promotion.promoted
    after = catalog.outbox.counts()
    assert after["pending"] == 0 and after["failed"] == 0
    Reader(settings).model(spec.fqn)

    events = [row.event for row in catalog.outbox.all()]
    with serve_emulator() as fresh:
        other = OpenMetadataCatalog(
            OpenMetadataSettings(host_port=fresh.host_port, jwt_token=fresh.token, deliver_in_step=True),
            LocalCatalog(tmp_path / "uninterrupted.db"),
        )
        other.publish(events)
        assert fresh.emulator.snapshot() == server.emulator.snapshot()
    return {
        "queued": counts["pending"],
        "emitted": len(events),
        "delivered": after["delivered"],
        "pending": after["pending"],
        "failed": after["failed"],
    }


class EmulatorAdmin:
    """What an admin or another ingestion did on the server before mlpublish ran: on the emulator."""

    def __init__(self, emulator: Any):
        self.emulator = emulator

    def team(self, name: str, team_type: str = "Group") -> None:
        self.emulator.add_team(name, team_type)

    def dashboard(self, fqn: str) -> None:
        self.emulator.add_dashboard(fqn)

    def integer_property(self, name: str) -> None:
        self.emulator.declare_property("mlmodel", name, "integer")


class LiveAdmin:
    """The same through the SDK, on a real server (the bot needs the rights to create these)."""

    def __init__(self, settings: OpenMetadataSettings):
        from mlpublish.catalog.openmetadata import connect

        self.om = connect(settings)

    def team(self, name: str, team_type: str = "Group") -> None:
        from metadata.generated.schema.api.teams.createTeam import CreateTeamRequest

        self.om.create_or_update(CreateTeamRequest(name=name, teamType=team_type))

    def dashboard(self, fqn: str) -> None:
        from metadata.generated.schema.api.data.createDashboard import CreateDashboardRequest
        from metadata.generated.schema.api.services.createDashboardService import CreateDashboardServiceRequest

        service, name = fqn.split(".", 1)
        self.om.create_or_update(CreateDashboardServiceRequest(name=service, serviceType="CustomDashboard"))
        self.om.create_or_update(CreateDashboardRequest(name=name, service=service))

    def integer_property(self, name: str) -> None:
        from metadata.generated.schema.api.data.createCustomProperty import CreateCustomPropertyRequest
        from metadata.generated.schema.entity.data.mlmodel import MlModel
        from metadata.ingestion.models.custom_properties import CustomPropertyDataTypes, OMetaCustomProperties

        ref = self.om.get_property_type_ref(CustomPropertyDataTypes.INTEGER)
        self.om.create_or_update_custom_property(
            OMetaCustomProperties(
                entity_type=MlModel,
                createCustomPropertyRequest=CreateCustomPropertyRequest(
                    name=name, description="declared before mlpublish ran", propertyType=ref
                ),
            )
        )


def fidelity_events(spec: Any, moved_to: str | None = None) -> list[Any]:
    """What a champion publish sends for ``spec`` (tables, the model, lineage), built without a chain run."""
    from mlpublish.catalog.entity import lineage_events, model_event, table_event

    columns: dict[str, dict[str, str]] = {}
    for f in spec.mlFeatures:
        for s in f.featureSources:
            columns.setdefault(s.dataSourceFqn, {})[s.name] = "INTEGER"
    training = f"{spec.data.service}.main.main.{spec.data.trainingTable}"
    columns[training] = {**{f.name: "INTEGER" for f in spec.mlFeatures}, spec.target: "INTEGER"}
    tables = [table_event(t, c) for t, c in sorted(columns.items())]
    return [*tables, model_event(spec, {"max_depth": 6}, "s3://models/churn"), *lineage_events(spec, training, None)]


def fidelity_story(workspace: Any, settings: OpenMetadataSettings, suffix: str, admin: Any) -> None:
    """A dashboard by name, owners set in the UI between two publishes, column lineage table -> model features,
    a feature moved to another source table, custom properties pre-declared with another type."""
    from metadata.generated.schema.entity.data.mlmodel import MlModel
    from metadata.generated.schema.entity.teams.team import Team
    from metadata.generated.schema.type.entityReference import EntityReference
    from metadata.generated.schema.type.entityReferenceList import EntityReferenceList

    from mlpublish.catalog.events import SetModelProperties

    reader = Reader(settings)
    team, other, dashboard = f"ds_{suffix}", f"ml_{suffix}", f"mlp_dash_{suffix}.churn"
    admin.team(team)
    admin.team(other)
    admin.dashboard(dashboard)
    d = spec_dict(suffix, owners=[f"team:{team}"], dashboard=dashboard)
    spec = load_spec(workspace.spec(f"fidelity_{suffix}.yaml", replace=d))
    catalog = open_catalog(str(workspace.root / f"fidelity_{suffix}.db"), openmetadata=settings)
    catalog.publish(fidelity_events(spec))
    m = reader.om.get_by_name(MlModel, spec.fqn, fields=["owners", "dashboard"])
    assert m.dashboard is not None and m.dashboard.fullyQualifiedName == dashboard  # by name, not refused
    assert [o.name for o in m.owners.root] == [team]
    training = f"{spec.data.service}.main.main.{spec.data.trainingTable}"
    into_model = reader.upstream("mlmodel", spec.fqn)[training]["columnsLineage"]
    assert {"fromColumns": [f"{training}.plan"], "toColumn": f"{spec.fqn}.plan"} in into_model

    # owners changed in the UI: the spec names owners, so it is the source of truth on the next publish
    ui = reader.om.get_by_name(MlModel, spec.fqn, fields=["owners"])
    dest = ui.model_copy(deep=True)
    other_team = reader.om.get_by_name(Team, other)
    dest.owners = EntityReferenceList(root=[EntityReference(id=other_team.id, type="team")])
    reader.om.patch(MlModel, ui, dest)
    assert [o["name"] for o in reader.model(spec.fqn)["owners"]] == [other]
    catalog.publish(fidelity_events(spec))
    assert [o["name"] for o in reader.model(spec.fqn)["owners"]] == [team]
    no_owners = load_spec(workspace.spec(f"fidelity_{suffix}_2.yaml", replace={**d, "owners": []}))
    reader.om.patch(MlModel, reader.om.get_by_name(MlModel, spec.fqn, fields=["owners"]), dest)
    catalog.publish(fidelity_events(no_owners))
    assert [o["name"] for o in reader.model(spec.fqn)["owners"]] == [other]  # a spec naming none keeps the UI's

    # a feature moves to another source table: the server's creation-time edge goes, the new table's comes
    wh = spec.data.service
    moved = {**d, "owners": [f"team:{team}"]}
    moved["mlFeatures"] = [
        {**f, "featureSources": [{**s, "dataSourceFqn": f"{wh}.main.main.tickets_v2"} for s in f["featureSources"]]}
        if f["name"] == "support_tickets"
        else f
        for f in d["mlFeatures"]
    ]
    moved_spec = load_spec(workspace.spec(f"fidelity_{suffix}_3.yaml", replace=moved))
    catalog.publish(fidelity_events(moved_spec))
    up = set(reader.upstream("mlmodel", spec.fqn))
    assert f"{wh}.main.main.tickets_v2" in up and f"{wh}.main.main.support_tickets" not in up
    assert {f"{wh}.main.main.orders", f"{wh}.main.main.customers", training} <= up

    # properties someone declared as integers: a number arrives as one, text that is no number is left out
    rows, note = f"rows{suffix}", f"note{suffix}"
    admin.integer_property(rows)
    admin.integer_property(note)
    catalog.publish([SetModelProperties(fqn=spec.fqn, properties={rows: 1500, note: "abc", "championVersion": "1"})])
    ext = reader.model(spec.fqn)["extension"]
    assert ext[rows] == 1500 and note not in ext and ext["championVersion"] == "1"
    assert catalog.outbox.counts()["failed"] == 0

    # an unknown dashboard: left out with a warning, the model still published
    unknown = load_spec(workspace.spec(f"fidelity_{suffix}_4.yaml", replace={**moved, "dashboard": "nope.nothing"}))
    catalog.publish(fidelity_events(unknown))
    assert catalog.outbox.counts()["failed"] == 0
    assert reader.om.get_by_name(MlModel, spec.fqn, fields=["dashboard"]).dashboard is None
