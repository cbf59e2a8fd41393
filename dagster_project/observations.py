"""What the publish run reads besides the steps' results: the training table's observation, the plot's PNG."""

import logging
import tempfile
from pathlib import Path
from typing import Any

from dagster import AssetObservation, MetadataValue

from mlpublish.errors import MlpublishError
from mlpublish.redact import scrub
from mlpublish.results import EvaluateResult
from mlpublish_dagster.resources import WarehouseResource
from mlpublish_dagster.runtime import as_failure
from mlpublish_dagster.specs import SpecRef

log = logging.getLogger("mlpublish.dagster")

# The tag Dagster stores an observation's data version under and reads back as ``AssetObservation.data_version``
# (what an observable source asset's ``ObserveResult(data_version=...)`` becomes). Dagster does not export
# the name: it is part of its stored event format; tests/unit/dagster/test_observations.py pins it.
DATA_VERSION_TAG = "dagster/data_version"


def read_plot(ctx: Any, result: EvaluateResult, plot: str) -> bytes | None:
    """The plot's PNG, to show it inline; a missing picture never fails the evaluation."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return Path(ctx.registry.download_artifacts(result.run_id, plot, tmp)).read_bytes()
        except (MlpublishError, OSError) as exc:
            log.warning("%s: plot %s of run %s not shown: %s", result.model_name, plot, result.run_id, scrub(str(exc)))
            return None


def observe_table(ref: SpecRef, warehouse: WarehouseResource) -> tuple[str, dict[str, Any]]:
    """The training table's data version (its row count) and what the asset page shows of it."""
    from mlpublish.deployment import for_spec

    try:
        spec = warehouse.apply(ref.load())
        wh = for_spec(spec).open_warehouse()
        try:
            table = spec.data.trainingTable
            rows, columns, fqn = wh.row_count(table), wh.columns(table), wh.table_fqn(table)
        finally:
            wh.dispose()
    except MlpublishError as exc:
        raise as_failure(exc) from exc
    meta = {
        "table_fqn": MetadataValue.text(fqn),
        "row_count": MetadataValue.int(rows),
        "columns": MetadataValue.json(columns),
    }
    return str(rows), meta


def table_observation(ref: SpecRef, warehouse: WarehouseResource) -> AssetObservation:
    """The training table's observation as an event, for an asset that reads the table to log."""
    version, meta = observe_table(ref, warehouse)
    return AssetObservation(asset_key=ref.asset_key("feature_table"), metadata=meta, tags={DATA_VERSION_TAG: version})
