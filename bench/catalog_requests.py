"""HTTP requests and wall time per OpenMetadata publish: mlpublish's sink vs the demo CICD script pattern.

Both publish the same MlModel (N features whose sources sit in 3 tables) and its
table -> model lineage through the official SDK to the strict emulator of
tests/openmetadata, served over HTTP on loopback; the emulator counts requests.

* baseline: the OpenMetadata demo CICD script (mlmodel_cicd.py, from the seeds'
            article): one table lookup per feature source, create_or_update of
            the model, then add_mlmodel_lineage (per-source lineage).
* ours:     OpenMetadataCatalog.publish of the catalog events for the same model
            (UpsertTable of the 3 sources, UpsertMlModel, one AddLineage per
            distinct table), through the outbox; lookups cached per publish.

Target: requests grow with the number of distinct tables, not features.

    python bench/catalog_requests.py [--features 6 60] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import Figure, add_json_option, parse_args, write_json  # noqa: E402

TABLES = [f"wh.shop.public.{t}" for t in ("orders", "customers", "tickets")]
SERVICE = "models"


def spec_entity(n_features: int) -> dict:
    features = []
    for i in range(n_features):
        table = TABLES[i % len(TABLES)]
        features.append(
            {
                "name": f"f{i}",
                "dataType": "numerical",
                "featureSources": [
                    {
                        "name": f"c{i}",
                        "dataType": "number",
                        "dataSource": {"type": "table", "fullyQualifiedName": table},
                    }
                ],
            }
        )
    return {
        "name": "churn",
        "algorithm": "RandomForestClassifier",
        "target": "churned",
        "service": SERVICE,
        "description": "bench model",
        "mlFeatures": features,
        "mlHyperParameters": [{"name": "n_estimators", "value": "100"}],
    }


def columns_of(table: str, n_features: int) -> dict[str, str]:
    return {f"c{i}": "FLOAT" for i in range(n_features) if TABLES[i % len(TABLES)] == table}


def settings(server):
    """Delivered by the publishing call itself (``deliver_in_step``): by default a step only queues its events for
    the relay, and neither the seed nor the requests of a publish would reach the server in the timed call."""
    from mlpublish.config import OpenMetadataSettings

    return OpenMetadataSettings(server.host_port, server.token, deliver_in_step=True)


def seed(server, n_features: int, tmp: Path) -> None:
    """The warehouse tables and the model service exist already (ingested): not counted."""
    from mlpublish.catalog.entity import table_event
    from mlpublish.catalog.events import UpsertMlModel
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog

    sink = OpenMetadataCatalog(settings(server), LocalCatalog(tmp / "seed.db"))
    entity = {**spec_entity(1), "name": "seed", "mlFeatures": []}
    sink.publish(
        [
            *(table_event(t, columns_of(t, n_features)) for t in TABLES),
            UpsertMlModel(fqn=f"{SERVICE}.seed", entity=entity),
        ]
    )


def baseline(server, n_features: int, tmp: Path) -> None:
    """The demo CICD script's pattern, through the same SDK client settings as ours."""
    from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
    from metadata.generated.schema.api.services.createMlModelService import CreateMlModelServiceRequest
    from metadata.generated.schema.entity.data.table import Table
    from metadata.generated.schema.entity.services.mlmodelService import MlModelService

    from mlpublish.catalog.openmetadata import connect
    from mlpublish.config import OpenMetadataSettings

    om = connect(OpenMetadataSettings(server.host_port, server.token))
    entity = spec_entity(n_features)
    if om.get_by_name(MlModelService, SERVICE) is None:
        om.create_or_update(CreateMlModelServiceRequest(name=SERVICE, serviceType="Mlflow"))
    for f in entity["mlFeatures"]:
        for s in f["featureSources"]:
            table = om.get_by_name(Table, s["dataSource"]["fullyQualifiedName"])
            s["dataSource"] = {"id": str(table.id.root), "type": "table"}
    model = om.create_or_update(CreateMlModelRequest.model_validate(entity))
    om.add_mlmodel_lineage(model)


def ours(server, n_features: int, tmp: Path) -> None:
    from mlpublish.catalog.entity import table_event
    from mlpublish.catalog.events import AddLineage, UpsertMlModel
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.openmetadata import OpenMetadataCatalog

    sink = OpenMetadataCatalog(settings(server), LocalCatalog(tmp / "ours.db"))
    fqn = f"{SERVICE}.churn"
    sink.publish(
        [
            *(table_event(t, columns_of(t, n_features)) for t in TABLES),
            UpsertMlModel(fqn=fqn, entity=spec_entity(n_features)),
            *(
                AddLineage(
                    from_fqn=t, from_type="table", to_fqn=fqn, to_type="mlmodel", description="features of churn"
                )
                for t in TABLES
            ),
        ]
    )
    assert sink.outbox.counts()["pending"] == 0 and not sink.outbox.failed()


def measure(kind, n_features: int) -> tuple[int, float, list]:
    from tests.support.openmetadata_server import serve_emulator

    with tempfile.TemporaryDirectory() as d, serve_emulator() as server:
        seed(server, n_features, Path(d))
        start = len(server.emulator.requests)
        t0 = time.perf_counter()
        kind(server, n_features, Path(d))
        wall = time.perf_counter() - t0
        reqs = server.emulator.requests[start:]
        model = server.emulator.find("mlmodel", f"{SERVICE}.churn")
        assert model is not None and len(model["mlFeatures"]) == n_features
        edges = {(a, b) for a, b, _ in server.emulator.edge_list() if b == f"{SERVICE}.churn"}
        assert edges == {(t, f"{SERVICE}.churn") for t in TABLES}, edges
        assert not server.emulator.unknown_routes, server.emulator.unknown_routes
        return len(reqs), wall, reqs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, nargs="+", default=[6, 60])
    parser.add_argument("--repeat", type=int, default=3)
    add_json_option(parser)
    args = parse_args(parser, features=[6, 12], repeat=1)
    logging.disable(logging.WARNING)
    t = time.perf_counter()
    import metadata.ingestion.ometa.ometa_api  # noqa: F401  (the SDK's import cost is paid once, outside the timings)

    print(
        f"# catalog_requests: python {platform.python_version()}, SDK import {time.perf_counter() - t:.1f}s, "
        f"{len(TABLES)} source tables, median of {args.repeat}"
    )
    print(
        f"{'features':>8} {'baseline req':>12} {'ours req':>8} {'req ratio':>9} {'baseline s':>10} {'ours s':>7} {'time ratio':>10}"
    )
    figures, ours_requests = [], {}
    for n in args.features:
        b = [measure(baseline, n) for _ in range(args.repeat)]
        o = [measure(ours, n) for _ in range(args.repeat)]
        b_req, o_req = b[0][0], o[0][0]
        b_s, o_s = statistics.median(x[1] for x in b), statistics.median(x[1] for x in o)
        print(f"{n:>8} {b_req:>12} {o_req:>8} {o_req / b_req:>9.2f} {b_s:>10.3f} {o_s:>7.3f} {o_s / b_s:>10.2f}")
        ours_requests[n] = o_req
        figures += [
            Figure(f"HTTP requests per publish, {n} features", o_req, "demo CICD script pattern", b_req),
            Figure(f"wall time per publish, {n} features", o_s, "demo CICD script pattern", b_s, "s"),
        ]
    low, high = min(args.features), max(args.features)
    if high > low:  # the target: requests grow with the distinct tables (3 here), not with the features
        figures.append(
            Figure(
                f"our requests at {high} features",
                ours_requests[high],
                f"ours at {low} features",
                ours_requests[low],
                target="<= 1",
            )
        )
    write_json(args.json, "catalog_requests", figures, {"features": args.features, "repeat": args.repeat})
    return 0


if __name__ == "__main__":
    sys.exit(main())
