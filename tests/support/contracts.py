"""A data contract put into a published champion's training run by hand, for the enforcement tests.

Train logs a learned contract (contracts.learn); these tests replace it with one built by hand from the training
rows (types, nullability, min/max, category sets: what a learned contract holds, with the exact bounds the tests
cross) at CONTRACT_ARTIFACT in the champion's run; :func:`champion_contract` puts the learned one back
afterwards, since the published champion's artifacts are shared by the tests of a module (copies of the
registry point at the same artifact folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from mlpublish.contracts.model import CONTRACT_ARTIFACT, ColumnContract, DataContract


def contract_of(frame, features: list[str], categorical: list[str], *, model: str, table: str) -> DataContract:
    """The contract of ``frame``'s ``features``: numbers with their observed range, categories with their set."""
    columns = []
    for name in features:
        s = frame[name]
        nullable = bool(s.isna().any())
        if name in categorical:
            columns.append(
                ColumnContract(
                    name=name,
                    type="string",
                    kind="categorical",
                    nullable=nullable,
                    categories=sorted({str(v) for v in s.dropna()}),
                )
            )
        else:
            values = s.astype("float64")
            columns.append(
                ColumnContract(
                    name=name,
                    type="number",
                    kind="numerical",
                    nullable=nullable,
                    minimum=float(values.min()),
                    maximum=float(values.max()),
                )
            )
    return DataContract(
        model=model, table=table, rows=len(frame), learnedAt="2026-01-01T00:00:00+00:00", columns=columns
    )


@contextmanager
def champion_contract(contract: DataContract, name: str = "customer_churn_predictor") -> Iterator[str]:
    """Log ``contract`` in the champion's training run (MLFLOW_TRACKING_URI); yields the run id; the learned
    contract is back after."""
    from mlflow import MlflowClient

    uri = os.environ["MLFLOW_TRACKING_URI"]
    client = MlflowClient(tracking_uri=uri, registry_uri=os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    run_id = client.get_model_version_by_alias(name, "champion").run_id
    uri = client.get_run(run_id).info.artifact_uri
    path = Path(urlparse(uri).path if uri.startswith("file:") else uri) / CONTRACT_ARTIFACT
    learned = path.read_bytes() if path.is_file() else None
    client.log_dict(run_id, contract.to_json(), CONTRACT_ARTIFACT)
    assert path.is_file(), path  # a local artifact store: the learned contract is put back afterwards
    try:
        yield run_id
    finally:
        if learned is None:
            path.unlink()
        else:
            path.write_bytes(learned)
