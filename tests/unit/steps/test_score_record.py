"""The catalog entity of predictions the Spark engine wrote outside the warehouse (mlpublish.steps.score_record)."""

from __future__ import annotations

from types import SimpleNamespace

from mlpublish.steps.score_record import files_entity

SPEC = SimpleNamespace(name="churn", scoring=SimpleNamespace(shadow=False))
COLUMNS = {"customer_id": "bigint", "prediction": "bigint", "scoring_run_id": "string"}


def written(**where):
    return SimpleNamespace(columns=COLUMNS, **{"parquet": None, "spark_table": None, **where})


def test_a_parquet_dataset_is_a_partitioned_container_named_by_its_path():
    target = files_entity(SPEC, written(parquet="s3a://lake/churn/predictions"))
    assert target.type == "container" and target.fqn == "mlpublish_files.s3a://lake/churn/predictions"
    assert target.event.kind == "upsert_container" and target.event.partitionColumns == ["scoring_run_id"]
    assert [c.name for c in target.event.columns] == list(COLUMNS)
    assert "churn" in target.event.description


def test_a_spark_table_is_a_table_of_the_spark_service():
    target = files_entity(SPEC, written(spark_table=("spark_catalog", "analytics", "preds")))
    assert (target.type, target.fqn) == ("table", "spark.spark_catalog.analytics.preds")
    assert target.event.kind == "upsert_table" and target.event.fqn == target.fqn
