"""The publish chain against the OpenMetadata emulator, through the real SDK over HTTP."""

from __future__ import annotations

import logging

import pytest

from mlpublish.catalog import open_catalog
from mlpublish.cli import main
from mlpublish.config import OpenMetadataSettings
from mlpublish.errors import CatalogUnavailable
from tests.openmetadata.scenarios import (
    EmulatorAdmin,
    Reader,
    fidelity_story,
    outage_during_middle_steps,
    publish,
    publish_story,
    spec_dict,
    weak_spec,
)
from tests.support.canary_secrets import WRONG_OPENMETADATA_JWT

SUFFIX = "t"


def test_first_publish_second_version_failed_gate_and_replay(workspace, om_settings):
    publish_story(workspace, om_settings, SUFFIX, exact_versions=True)


def test_the_publish_story_on_a_postgresql_store(workspace, om_settings, monkeypatch):
    """The same story, versions included, with the mirror and the outbox in PostgreSQL."""
    from tests.support.catalog_store import postgres_catalog_url

    with postgres_catalog_url("story") as url:
        monkeypatch.setenv("MLPUBLISH_CATALOG", url)
        publish_story(workspace, om_settings, SUFFIX, exact_versions=True)
        assert not workspace.catalog_path.exists()  # nothing went to the default file


def test_server_down_for_the_middle_steps_then_back(
    workspace, om_server, om_settings, tmp_path, caplog, monkeypatch, capsys
):
    def while_down(spec, counts):
        monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
        assert main(["-q", "status", spec.name]) == 0
        from mlpublish.catalog.address import catalog_key

        key = catalog_key(om_settings.host_port)
        assert f"OpenMetadata outbox {key}: {counts['pending']} pending, 0 failed" in capsys.readouterr().err

    with caplog.at_level(logging.WARNING, logger="mlpublish"):
        outage_during_middle_steps(workspace, om_server, om_settings, tmp_path, while_down=while_down)
    assert "queued" in caplog.text


def test_strict_mode_fails_the_step_and_catalog_sync_delivers(workspace, om_server, om_settings, monkeypatch, capsys):
    from mlpublish.catalog.entity import table_event

    strict = OpenMetadataSettings(host_port=om_settings.host_port, jwt_token=om_settings.jwt_token, strict=True)
    catalog = open_catalog(None, openmetadata=strict)
    event = table_event("wh.db.sch.items", {"id": "INTEGER", "name": "VARCHAR(20)"}, "items")
    om_server.emulator.down = True
    with pytest.raises(CatalogUnavailable, match="catalog sync"):
        catalog.publish([event])
    assert catalog.outbox.counts()["pending"] == 1
    assert catalog.get("wh.db.sch.items") is not None  # the local mirror has it already

    monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", om_settings.jwt_token)
    assert main(["-q", "catalog", "sync"]) == 2
    assert "OpenMetadata unavailable" in capsys.readouterr().err
    om_server.emulator.down = False
    assert main(["-q", "catalog", "sync"]) == 0
    assert "1 delivered, 0 failed" in capsys.readouterr().out
    table = Reader(om_settings).table("wh.db.sch.items")
    assert [(c["name"], c["dataType"], c.get("dataLength")) for c in table["columns"]] == [
        ("id", "INT", None),
        ("name", "VARCHAR", 20),
    ]


def test_missing_source_table_is_refused_then_registered_from_the_warehouse(
    workspace, om_server, om_settings, monkeypatch, capsys
):
    from mlpublish.catalog.entity import table_event
    from mlpublish.warehouse import Warehouse

    d = spec_dict(SUFFIX)
    wh = d["data"]["service"]
    warehouse = Warehouse(workspace.warehouse_url, wh)
    ingested = [
        table_event(f"{wh}.main.main.{t}", warehouse.columns(t), "ingested")
        for t in ("orders", "customers", "customer_features")
    ]
    open_catalog(str(workspace.root / "ingestion.db"), openmetadata=om_settings).publish(ingested)

    no_create = OpenMetadataSettings(
        host_port=om_settings.host_port,
        jwt_token=om_settings.jwt_token,
        create_missing_tables=False,
        deliver_in_step=True,
    )
    with pytest.raises(CatalogUnavailable) as err:
        publish(workspace.spec("s.yaml", replace=d), no_create)
    missing = f"{wh}.main.main.support_tickets"
    assert missing in str(err.value) and "MLPUBLISH_CATALOG_CREATE_TABLES" in str(err.value)
    assert "featureSources" in str(err.value)  # the model event names the field at fault

    monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", om_settings.jwt_token)
    assert main(["-q", "catalog", "sync"]) == 2
    assert f"upsert_table {missing}" in capsys.readouterr().err
    assert Reader(om_settings).table(missing) is None

    monkeypatch.setenv("MLPUBLISH_CATALOG_CREATE_TABLES", "true")
    assert main(["-q", "catalog", "sync", "--retry-failed"]) == 0
    reader = Reader(om_settings)
    created = reader.table(missing)
    assert {c["name"]: c["dataTypeDisplay"] for c in created["columns"]} == warehouse.columns("support_tickets")
    assert reader.table(f"{wh}.main.main.orders")["version"] == 0.1  # an ingested table is left alone
    m = reader.model(f"{d['serviceName']}.{d['name']}")
    sources = {s["dataSource"]["id"] for f in m["mlFeatures"] for s in f["featureSources"]}
    assert created["id"] in sources
    warehouse.dispose()


def test_wrong_token_is_a_clear_error_that_never_shows_the_token(workspace, om_server, om_settings, caplog, capsys):
    wrong = WRONG_OPENMETADATA_JWT
    bad = OpenMetadataSettings(host_port=om_settings.host_port, jwt_token=wrong, deliver_in_step=True)
    assert wrong not in repr(bad)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CatalogUnavailable, match="refused the JWT token") as err:
            publish(weak_spec(workspace, SUFFIX), bad)
    out = capsys.readouterr()
    for text in (str(err.value), caplog.text, out.out, out.err):
        assert wrong not in text and wrong[-20:] not in text
    catalog = open_catalog(None, openmetadata=om_settings)
    counts = catalog.outbox.counts()
    assert counts["failed"] == 0 and counts["pending"] > 0  # not the events' fault: they wait for a good token
    report = catalog.sync()
    assert report.delivered == counts["pending"] and not report.failed


def test_dashboard_owners_column_lineage_moved_source_and_typed_properties(workspace, om_server, om_settings, caplog):
    with caplog.at_level(logging.WARNING, logger="mlpublish"):
        fidelity_story(workspace, om_settings, SUFFIX, EmulatorAdmin(om_server.emulator))
    assert f"custom property note{SUFFIX} is declared on the server as integer" in caplog.text
    assert "dashboard nope.nothing is not in OpenMetadata" in caplog.text


def test_a_403_names_the_operation_and_keeps_the_events(om_server, om_settings, tmp_path):
    from mlpublish.catalog.entity import table_event

    om_server.emulator.forbidden[("PUT", "services/databaseServices")] = "Create"
    catalog = open_catalog(str(tmp_path / "c.db"), openmetadata=om_settings)
    with pytest.raises(CatalogUnavailable, match=r"lacks a permission.*operations \[Create\] not allowed"):
        catalog.publish([table_event("wh.db.sch.t", {"a": "INTEGER"})])
    assert catalog.outbox.counts() == {"pending": 1, "delivered": 0, "failed": 0}  # not the event's fault


def test_check_refuses_an_owner_team_that_is_not_a_group(workspace, om_server, om_settings, monkeypatch):
    from mlpublish.deployment.preflight import preflight
    from mlpublish.errors import SpecError
    from mlpublish.spec import load_spec

    om_server.emulator.add_team("sales", team_type="Department")
    om_server.emulator.add_team("data-science")
    monkeypatch.setenv("OPENMETADATA_HOST_PORT", om_settings.host_port)
    monkeypatch.setenv("OPENMETADATA_JWT_TOKEN", om_settings.jwt_token)
    spec = load_spec(workspace.spec("owned.yaml", replace=spec_dict(SUFFIX, owners=["team:sales", "data-science"])))
    with pytest.raises(SpecError) as err:
        preflight(spec, check_catalog=True)  # what `mlpublish check` asks; a step that only queues does not
    text = str(err.value)
    assert "owners[0]" in text and "'sales' is of type Department" in text and "data-science" not in text
