"""The embedded local catalog: versions, idempotent replay, tags, properties, lineage, lookup."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mlpublish.catalog.events import (
    AddLineage,
    Column,
    ColumnLineage,
    RecordAliasChange,
    SetModelProperties,
    SetValidationTag,
    UpsertMlModel,
    UpsertTable,
    parse_events,
)
from mlpublish.catalog.local import LocalCatalog
from mlpublish.errors import NotFound

FQN = "mlflow-local.churn"
SOURCE = "warehouse.main.main.orders"
TRAINING = "warehouse.main.main.customer_features"


def entity(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "churn",
        "displayName": "churn",
        "description": "Predicts churn.",
        "algorithm": "RandomForestClassifier",
        "target": "churned",
        "service": "mlflow-local",
        "mlFeatures": [{"name": "recency_days", "dataType": "numerical", "featureSources": []}],
        "mlHyperParameters": [{"name": "n_estimators", "value": "100"}],
    }
    return {**base, **changes}


def upsert(fqn: str = FQN, **changes: Any) -> UpsertMlModel:
    return UpsertMlModel(fqn=fqn, entity=entity(**changes))


def table(fqn: str, *cols: str) -> UpsertTable:
    return UpsertTable(fqn=fqn, columns=[Column(name=c, dataType="INTEGER") for c in cols])


def lineage_edges() -> list[AddLineage]:
    return [
        AddLineage(
            from_fqn=SOURCE,
            from_type="table",
            to_fqn=TRAINING,
            to_type="table",
            columns=[ColumnLineage(fromColumns=[f"{SOURCE}.order_date"], toColumn=f"{TRAINING}.recency_days")],
            pipeline={"name": "mlpublish"},
            description="feature engineering for churn",
        ),
        AddLineage(
            from_fqn=TRAINING,
            from_type="table",
            to_fqn=FQN,
            to_type="mlmodel",
            columns=[ColumnLineage(fromColumns=[f"{TRAINING}.recency_days"], toColumn=f"{FQN}.recency_days")],
            description="training data of churn",
        ),
    ]


def first_promotion() -> RecordAliasChange:
    """The first champion has no previous one."""
    return RecordAliasChange(
        fqn=FQN, alias="champion", version="1", previous=None, action="promote", at="2024-05-01T10:00:00+00:00"
    )


def alias_moves() -> list[RecordAliasChange]:
    return [
        RecordAliasChange(
            fqn=FQN, alias="champion", version="2", previous="1", action="promote", at="2024-05-02T10:00:00+00:00"
        ),
        RecordAliasChange(
            fqn=FQN, alias="champion", version="1", previous="2", action="rollback", at="2024-05-03T10:00:00+00:00"
        ),
    ]


def validation_tags(body: dict[str, Any]) -> list[str]:
    return [t["tagFQN"] for t in body.get("tags", []) if t["tagFQN"].startswith("ModelValidation.")]


def row_count(cat: LocalCatalog, table_name: str) -> int:
    return cat._conn.execute(f"SELECT COUNT(*) FROM {table_name}").fetchone()[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The catalog's store: SQLite in memory (the embedded default's engine) or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield ":memory:"
        return
    from tests.support.catalog_store import postgres_catalog_url

    with postgres_catalog_url() as url:
        yield url


@pytest.fixture
def cat(store_url: str) -> Iterator[LocalCatalog]:
    c = LocalCatalog(store_url)
    yield c
    c.close()


# --------------------------------------------------------------------------
# Versions


def test_first_upsert_is_version_0_1(cat: LocalCatalog) -> None:
    cat.publish([upsert()])
    body = cat.get(FQN)
    assert body is not None
    assert body["version"] == 0.1
    assert body["fullyQualifiedName"] == FQN
    assert body["algorithm"] == "RandomForestClassifier"
    assert body["id"]
    assert [v["version"] for v in cat.versions(FQN)] == [0.1]


@pytest.fixture
def unconsolidated(store_url: str) -> Iterator[LocalCatalog]:
    """Every change its own version: the server with a session timeout of 0 (EntityUpdater.setSessionTimeout)."""
    c = LocalCatalog(store_url, session_timeout=timedelta(0))
    yield c
    c.close()


def test_description_change_is_a_minor_bump(unconsolidated: LocalCatalog) -> None:
    cat = unconsolidated
    cat.publish([upsert()])
    cat.publish([upsert(description="Predicts churn within 30 days.")])
    assert cat.get(FQN)["version"] == 0.2
    cat.publish([upsert(description="Third wording.")])
    assert cat.get(FQN)["version"] == 0.3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("algorithm", "GradientBoostingClassifier"),
        ("server", "http://models.internal:8080"),
        ("target", "churned_90d"),
    ],
)
def test_major_field_change_adds_one(cat: LocalCatalog, field: str, value: str) -> None:
    cat.publish([upsert()])
    cat.publish([upsert(description="second")])
    cat.publish([upsert(description="second", **{field: value})])
    body = cat.get(FQN)
    assert body["version"] == 1.2
    assert body[field] == value
    assert [v["version"] for v in cat.versions(FQN)] == [0.1, 0.2, 1.2]


def test_the_entity_id_is_stable_across_versions(cat: LocalCatalog) -> None:
    cat.publish([upsert()])
    first = cat.get(FQN)["id"]
    cat.publish([upsert(algorithm="LogisticRegression")])
    assert cat.get(FQN)["id"] == first


def test_table_changes_are_minor(cat: LocalCatalog) -> None:
    cat.publish([table(TRAINING, "customer_id")])
    cat.publish([table(TRAINING, "customer_id", "recency_days")])
    assert cat.get(TRAINING)["version"] == 0.2


def test_versions_list_change_descriptions(cat: LocalCatalog) -> None:
    cat.publish([upsert()])
    cat.publish([upsert(description="Predicts churn within 30 days.")])
    cat.publish([upsert(description="Predicts churn within 30 days.", algorithm="XGBoost", server="http://srv")])
    versions = cat.versions(FQN)
    assert [v["version"] for v in versions] == [0.1, 0.2, 1.2]
    created = versions[0]["changeDescription"]
    assert {"name", "algorithm", "description", "fullyQualifiedName"} <= set(created["fieldsAdded"])
    assert created["previousVersion"] == 0.0
    assert versions[1]["changeDescription"] == {
        "fieldsAdded": [],
        "fieldsUpdated": [
            {"name": "description", "oldValue": "Predicts churn.", "newValue": "Predicts churn within 30 days."}
        ],
        "fieldsDeleted": [],
        "previousVersion": 0.1,
    }
    third = versions[2]["changeDescription"]
    assert third["fieldsUpdated"] == [
        {"name": "algorithm", "oldValue": "RandomForestClassifier", "newValue": "XGBoost"}
    ]
    assert third["fieldsAdded"] == ["server"]
    assert third["previousVersion"] == 0.2
    assert cat.get(FQN)["changeDescription"] == third
    cat.publish([upsert(description="Predicts churn within 30 days.", algorithm="XGBoost")])
    assert cat.versions(FQN)[-1]["changeDescription"]["fieldsDeleted"] == ["server"]


# --------------------------------------------------------------------------
# Idempotent replay


def full_publish() -> list[Any]:
    return [
        table(SOURCE, "order_id", "order_date"),
        table(TRAINING, "customer_id", "recency_days"),
        upsert(),
        SetValidationTag(fqn=FQN, status="PENDING"),
        *lineage_edges(),
        *alias_moves(),
        SetModelProperties(fqn=FQN, properties={"championVersion": "2"}),
    ]


def snapshot(cat: LocalCatalog) -> dict[str, Any]:
    return {
        "model": cat.get(FQN),
        "tables": (cat.get(SOURCE), cat.get(TRAINING)),
        "versions": {f: [v["version"] for v in cat.versions(f)] for f in (FQN, SOURCE, TRAINING)},
        "rows": {t: row_count(cat, t) for t in ("entities", "entity_versions", "lineage", "alias_history")},
    }


def test_replaying_identical_events_changes_nothing(cat: LocalCatalog) -> None:
    cat.publish(full_publish())
    before = snapshot(cat)
    # created (PUT, 0.1), then tagged (PATCH: the first update is never consolidated, 0.2), then the properties
    # patch folds into 0.2 (EntityUpdater.consolidateChanges)
    assert before["model"]["version"] == 0.2
    assert before["rows"] == {"entities": 3, "entity_versions": 4, "lineage": 2, "alias_history": 2}
    cat.publish(full_publish())
    cat.publish(full_publish())
    assert snapshot(cat) == before


def test_replaying_entity_events_one_by_one_changes_nothing(cat: LocalCatalog) -> None:
    cat.publish(
        [upsert(), SetValidationTag(fqn=FQN, status="PASSED"), SetModelProperties(fqn=FQN, properties={"a": 1})]
    )
    before = cat.get(FQN)
    for ev in (upsert(), SetValidationTag(fqn=FQN, status="PASSED"), SetModelProperties(fqn=FQN, properties={"a": 1})):
        cat.publish([ev])
    assert cat.get(FQN) == before


def test_replaying_lineage_keeps_one_row_per_edge(cat: LocalCatalog) -> None:
    cat.publish(lineage_edges())
    cat.publish(lineage_edges())
    assert row_count(cat, "lineage") == 2
    assert len(cat.edges()) == 2


def test_replaying_alias_changes_keeps_one_row_per_move(cat: LocalCatalog) -> None:
    cat.publish(alias_moves())
    cat.publish(alias_moves())
    history = cat.alias_history(FQN)
    assert [(h["version"], h["previous"], h["action"]) for h in history] == [
        ("2", "1", "promote"),
        ("1", "2", "rollback"),
    ]
    assert history[0] == {
        "alias": "champion",
        "version": "2",
        "previous": "1",
        "action": "promote",
        "at": "2024-05-02T10:00:00+00:00",
    }


def test_replaying_the_first_promotion_keeps_one_row(cat: LocalCatalog) -> None:
    events = [first_promotion(), *alias_moves()]
    cat.publish(events)
    cat.publish(events)
    assert [(h["version"], h["previous"]) for h in cat.alias_history(FQN)] == [("1", None), ("2", "1"), ("1", "2")]


def test_replay_after_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "catalog.db"
    first = LocalCatalog(path)
    first.publish([upsert(), SetValidationTag(fqn=FQN, status="PASSED"), *lineage_edges()])
    before = first.get(FQN)
    first.close()
    again = LocalCatalog(path)
    try:
        again.publish([upsert(), SetValidationTag(fqn=FQN, status="PASSED"), *lineage_edges()])
        assert again.get(FQN) == before
        assert len(again.edges()) == 2
    finally:
        again.close()


def test_events_survive_their_json_form(cat: LocalCatalog) -> None:
    events = full_publish()
    replayed = parse_events([e.model_dump() for e in events])
    assert replayed == events
    cat.publish(events)
    before = snapshot(cat)
    cat.publish(replayed)
    assert snapshot(cat) == before


# --------------------------------------------------------------------------
# One publish, one version


def test_several_events_for_one_entity_in_one_publish_make_one_version(cat: LocalCatalog) -> None:
    cat.publish([upsert()])
    cat.publish(
        [
            upsert(description="new words"),
            SetValidationTag(fqn=FQN, status="PENDING"),
            SetModelProperties(fqn=FQN, properties={"runId": "abc"}),
            SetValidationTag(fqn=FQN, status="PASSED"),
        ]
    )
    body = cat.get(FQN)
    assert body["version"] == 0.2
    assert [v["version"] for v in cat.versions(FQN)] == [0.1, 0.2]
    assert body["description"] == "new words"
    assert validation_tags(body) == ["ModelValidation.PASSED"]
    assert body["extension"] == {"runId": "abc"}


def test_create_then_tag_in_one_publish_is_version_0_2_as_on_the_server(cat: LocalCatalog) -> None:
    """EntityUpdater.consolidateChanges needs original.version > 0.1: the first patch after creation is a
    version of its own; the patches after it, by the same user within the session, fold into it."""
    cat.publish(
        [upsert(), SetValidationTag(fqn=FQN, status="PENDING"), SetModelProperties(fqn=FQN, properties={"x": 1})]
    )
    assert cat.get(FQN)["version"] == 0.2
    assert [v["version"] for v in cat.versions(FQN)] == [0.1, 0.2]


def test_a_patch_that_undoes_the_session_change_goes_back_to_the_version_before(cat: LocalCatalog) -> None:
    """EntityUpdater.revert / storeUpdate: v0 -> v1 -> v0 within a session is v0, and v1's history is removed."""
    cat.publish([upsert()])
    first = cat.get(FQN)["description"]
    cat.publish([upsert(description="other words")])  # PUT keeps the bot's description, the PATCH makes 0.2
    assert cat.get(FQN)["version"] == 0.2
    cat.publish([upsert(description=first)])  # the PATCH undoes 0.2's change
    assert (cat.get(FQN)["version"], cat.get(FQN)["description"]) == (0.1, first)
    assert [v["version"] for v in cat.versions(FQN)] == [0.1]


def test_a_put_is_never_consolidated_and_a_major_change_moves_from_the_version_before(cat: LocalCatalog) -> None:
    cat.publish([upsert(), SetValidationTag(fqn=FQN, status="PENDING")])  # 0.1, 0.2
    cat.publish([upsert(algorithm="XGBoost")])  # a PUT: 1.2
    cat.publish([SetValidationTag(fqn=FQN, status="PASSED")])  # folded into 1.2, measured from 0.2: still major
    assert [v["version"] for v in cat.versions(FQN)] == [0.1, 0.2, 1.2]


def test_owners_the_spec_names_replace_and_none_named_keeps_them(cat: LocalCatalog) -> None:
    cat.publish([upsert(owners=[{"type": "team", "name": "ds"}])])
    cat.publish([upsert(owners=[])])
    assert cat.get(FQN)["owners"] == [{"type": "team", "name": "ds"}]
    cat.publish([upsert(owners=[{"type": "user", "name": "alice"}])])
    assert cat.get(FQN)["owners"] == [{"type": "user", "name": "alice"}]


# --------------------------------------------------------------------------
# Tags and properties


def test_validation_tag_swap_leaves_exactly_one(cat: LocalCatalog) -> None:
    cat.publish([upsert(), SetValidationTag(fqn=FQN, status="PENDING")])
    assert validation_tags(cat.get(FQN)) == ["ModelValidation.PENDING"]
    cat.publish([SetValidationTag(fqn=FQN, status="PASSED")])
    body = cat.get(FQN)
    assert validation_tags(body) == ["ModelValidation.PASSED"]
    assert body["version"] == 0.2
    [tag] = body["tags"]
    assert tag == {
        "tagFQN": "ModelValidation.PASSED",
        "source": "Classification",
        "labelType": "Automated",
        "state": "Confirmed",
    }


def test_validation_tag_keeps_other_tags(cat: LocalCatalog) -> None:
    other = {"tagFQN": "Tier.Tier1", "source": "Classification", "labelType": "Manual", "state": "Confirmed"}
    cat.publish([upsert()])
    tagged = {**cat.get(FQN), "tags": [other]}  # a tag put on by a person in the catalog
    cat._conn.execute("UPDATE entities SET body=? WHERE fqn=?", (json.dumps(tagged, sort_keys=True), FQN))
    cat.publish([SetValidationTag(fqn=FQN, status="FAILED")])
    assert [t["tagFQN"] for t in cat.get(FQN)["tags"]] == ["Tier.Tier1", "ModelValidation.FAILED"]


def test_upsert_keeps_tags_and_extension(cat: LocalCatalog) -> None:
    cat.publish(
        [
            upsert(),
            SetValidationTag(fqn=FQN, status="PASSED"),
            SetModelProperties(fqn=FQN, properties={"championVersion": "3"}),
        ]
    )
    cat.publish([upsert(description="reworded")])
    body = cat.get(FQN)
    assert validation_tags(body) == ["ModelValidation.PASSED"]
    assert body["extension"] == {"championVersion": "3"}


def test_model_properties_merge_into_extension(cat: LocalCatalog) -> None:
    cat.publish([upsert(), SetModelProperties(fqn=FQN, properties={"championVersion": "1", "runId": "r1"})])
    cat.publish([SetModelProperties(fqn=FQN, properties={"championVersion": "2", "previousChampionVersion": "1"})])
    body = cat.get(FQN)
    assert body["extension"] == {"championVersion": "2", "runId": "r1", "previousChampionVersion": "1"}
    assert body["version"] == 0.2
    # both patches fold into 0.2 (one session), so 0.2's change is measured from 0.1, which had no extension
    change = cat.versions(FQN)[-1]["changeDescription"]
    assert change["fieldsAdded"] == ["extension"] and change["previousVersion"] == 0.1


# --------------------------------------------------------------------------
# All or nothing


@pytest.mark.parametrize(
    "event",
    [
        SetValidationTag(fqn="mlflow-local.ghost", status="PASSED"),
        SetModelProperties(fqn="mlflow-local.ghost", properties={"a": 1}),
    ],
)
def test_event_for_a_missing_model_raises_and_rolls_back_the_whole_call(cat: LocalCatalog, event: Any) -> None:
    cat.publish([upsert()])
    before = snapshot(cat)
    with pytest.raises(NotFound) as info:
        cat.publish(
            [
                table("warehouse.main.main.new_table", "a"),
                upsert(description="changed in the failed call"),
                *lineage_edges(),
                *alias_moves(),
                event,
            ]
        )
    assert "mlflow-local.ghost" in str(info.value)
    assert cat.get("warehouse.main.main.new_table") is None
    assert snapshot(cat) == before
    # the connection is usable afterwards (the transaction was closed)
    cat.publish([table("warehouse.main.main.new_table", "a")])
    assert cat.get("warehouse.main.main.new_table")["version"] == 0.1


def test_failed_publish_leaves_nothing_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    cat = LocalCatalog(path)
    try:
        with pytest.raises(NotFound):
            cat.publish([table(TRAINING, "a"), *lineage_edges(), SetValidationTag(fqn=FQN, status="PASSED")])
    finally:
        cat.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM entities").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM lineage").fetchone() == (0,)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Lineage


def _hops(edges: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["fromEntity"]["fqn"], e["toEntity"]["fqn"]) for e in edges)


def test_lineage_follows_two_hops_upstream_and_downstream(cat: LocalCatalog) -> None:
    cat.publish([table(SOURCE, "order_date"), table(TRAINING, "recency_days"), upsert(), *lineage_edges()])
    both = sorted([(SOURCE, TRAINING), (TRAINING, FQN)])

    model = cat.lineage(FQN)
    assert model["entity"] == FQN
    assert _hops(model["upstreamEdges"]) == both
    assert model["downstreamEdges"] == []

    source = cat.lineage(SOURCE)
    assert source["upstreamEdges"] == []
    assert _hops(source["downstreamEdges"]) == both

    middle = cat.lineage(TRAINING)
    assert _hops(middle["upstreamEdges"]) == [(SOURCE, TRAINING)]
    assert _hops(middle["downstreamEdges"]) == [(TRAINING, FQN)]

    assert _hops(cat.lineage(FQN, depth=1)["upstreamEdges"]) == [(TRAINING, FQN)]


def test_lineage_edge_details(cat: LocalCatalog) -> None:
    cat.publish(lineage_edges())
    [first] = [e for e in cat.edges() if e["fromEntity"]["fqn"] == SOURCE]
    assert first["fromEntity"] == {"fqn": SOURCE, "type": "table"}
    assert first["toEntity"] == {"fqn": TRAINING, "type": "table"}
    assert first["lineageDetails"] == {
        "columnsLineage": [{"fromColumns": [f"{SOURCE}.order_date"], "toColumn": f"{TRAINING}.recency_days"}],
        "source": "mlpublish",
        "pipeline": {"name": "mlpublish"},
        "description": "feature engineering for churn",
    }


def test_lineage_of_an_unknown_entity_is_empty(cat: LocalCatalog) -> None:
    cat.publish(lineage_edges())
    assert cat.lineage("nowhere.x") == {"entity": "nowhere.x", "upstreamEdges": [], "downstreamEdges": []}


# --------------------------------------------------------------------------
# find_model


def test_find_model_by_name_and_by_fqn(cat: LocalCatalog) -> None:
    cat.publish([upsert(), table(TRAINING, "a")])
    assert cat.find_model("churn")["fullyQualifiedName"] == FQN
    assert cat.find_model(FQN)["fullyQualifiedName"] == FQN
    with pytest.raises(NotFound, match="no model 'customer_features'"):
        cat.find_model("customer_features")  # a table is not a model


def test_find_model_ambiguous_name_names_both_fqns(cat: LocalCatalog) -> None:
    cat.publish([upsert("prod.churn"), upsert("staging.churn")])
    with pytest.raises(NotFound) as info:
        cat.find_model("churn")
    msg = str(info.value)
    assert "ambiguous" in msg
    assert "prod.churn" in msg and "staging.churn" in msg
    # the FQN still resolves
    assert cat.find_model("staging.churn")["fullyQualifiedName"] == "staging.churn"


def test_find_model_missing(cat: LocalCatalog) -> None:
    with pytest.raises(NotFound, match="no model 'ghost' in the catalog ") as info:
        cat.find_model("ghost")
    assert str(info.value).endswith(cat.store.display)  # the store it looked in


def test_edges_into_a_shared_table_keep_every_models_columns():
    from mlpublish.catalog.events import AddLineage, ColumnLineage

    cat = LocalCatalog(":memory:")
    a = AddLineage(
        from_fqn="w.d.s.orders",
        from_type="table",
        to_fqn="w.d.s.features",
        to_type="table",
        columns=[ColumnLineage(fromColumns=["w.d.s.orders.amount"], toColumn="w.d.s.features.monetary")],
    )
    b = AddLineage(
        from_fqn="w.d.s.orders",
        from_type="table",
        to_fqn="w.d.s.features",
        to_type="table",
        columns=[ColumnLineage(fromColumns=["w.d.s.orders.order_date"], toColumn="w.d.s.features.recency")],
    )
    cat.publish([a])
    cat.publish([b])
    cat.publish([a])
    (edge,) = cat.edges()
    assert edge["lineageDetails"]["columnsLineage"] == [
        {"fromColumns": ["w.d.s.orders.amount"], "toColumn": "w.d.s.features.monetary"},
        {"fromColumns": ["w.d.s.orders.order_date"], "toColumn": "w.d.s.features.recency"},
    ]


# --------------------------------------------------------------------------
# Scoring targets outside the warehouse: a Parquet dataset (Container), a Spark table (Table)

PREDICTION_COLUMNS = {"customer_id": "bigint", "prediction": "bigint", "probability": "double"}


def scored_into(fqn: str, to_type: str) -> AddLineage:
    return AddLineage(
        from_fqn=FQN,
        from_type="mlmodel",
        to_fqn=fqn,
        to_type=to_type,
        columns=[ColumnLineage(fromColumns=[f"{FQN}.recency_days"], toColumn=f"{fqn}.prediction")],
        description="batch scoring by churn",
    )


def test_a_parquet_dataset_is_a_container_with_model_lineage_and_replays_change_nothing(cat: LocalCatalog) -> None:
    from mlpublish.catalog.entity import STORAGE_SERVICE, container_event

    dataset = container_event("s3a://lake/preds.parquet/", PREDICTION_COLUMNS, ["scoring_run_id"], "batch predictions")
    assert dataset.fqn == f'{STORAGE_SERVICE}."s3a://lake/preds.parquet"'  # a dot in the name: quoted
    events = [upsert(), dataset, scored_into(dataset.fqn, "container")]
    cat.publish(events)
    cat.publish(events)
    body = cat.get(dataset.fqn)
    assert body["version"] == 0.1 and body["fullPath"] == "s3a://lake/preds.parquet"
    assert body["service"] == STORAGE_SERVICE and body["fileFormats"] == ["parquet"]
    assert body["dataModel"]["isPartitioned"] is True
    assert [c["name"] for c in body["dataModel"]["columns"]] == list(PREDICTION_COLUMNS)
    (edge,) = cat.lineage(FQN)["downstreamEdges"]
    assert edge["toEntity"] == {"fqn": dataset.fqn, "type": "container"}
    assert edge["lineageDetails"]["columnsLineage"] == [
        {"fromColumns": [f"{FQN}.recency_days"], "toColumn": f"{dataset.fqn}.prediction"}
    ]
    wider = container_event(
        "s3a://lake/preds.parquet", {**PREDICTION_COLUMNS, "scored_at": "timestamp"}, ["scoring_run_id"], "x"
    )
    cat.publish([wider])
    assert cat.get(dataset.fqn)["version"] == 0.2  # a new column (and description) is a change


def test_a_local_parquet_path_names_its_container_by_the_absolute_path(tmp_path: Path, monkeypatch) -> None:
    from mlpublish.catalog.entity import container_event

    monkeypatch.chdir(tmp_path)
    ev = container_event("out/preds", PREDICTION_COLUMNS, [], "d")
    assert ev.fullPath == str(tmp_path / "out" / "preds") and ev.name == ev.fullPath


def test_a_spark_table_is_a_table_of_the_spark_service_downstream_of_the_model(cat: LocalCatalog) -> None:
    from mlpublish.catalog.entity import spark_table_fqn, table_event

    fqn = spark_table_fqn("spark_catalog", "default", "churn_preds")
    assert fqn == "spark.spark_catalog.default.churn_preds"
    cat.publish([upsert(), table_event(fqn, PREDICTION_COLUMNS, "batch predictions"), scored_into(fqn, "table")])
    assert cat.get(fqn)["columns"][1] == {"name": "prediction", "dataType": "bigint"}
    (edge,) = cat.lineage(fqn)["upstreamEdges"]
    assert edge["fromEntity"] == {"fqn": FQN, "type": "mlmodel"} and edge["toEntity"]["type"] == "table"
