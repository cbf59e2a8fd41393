"""Concurrency: whole chains in parallel processes against one real ``mlflow server`` (PostgreSQL backend)
and one local catalog file.

* 8 chains publish the SAME model, each trained on different rows but held out on the same keys, so their
  test metrics are comparable: the champion at the end is the best candidate (the spec's rule
  ``roc_auc maxDropVsChampion: 0``: a candidate replaces the champion only if it is at least as good),
  the champion history is one unbroken chain, the catalog recorded every move, no lock is left.
* 20 different models published at the same time (5 processes x 4 chains): all succeed.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from tests.conftest import ROOT, churn_dict, write_spec
from tests.support.services import registry_rows, shared_server
from tests.support.workers import run_together

pytestmark = pytest.mark.integration
SUITE = "concurrency"
RULE = {"gates": [{"metric": "roc_auc", "min": 0.6}, {"metric": "roc_auc", "maxDropVsChampion": 0}]}
SMALL = [
    {"name": "n_estimators", "value": 12},
    {"name": "min_samples_leaf", "value": 5},
    {"name": "random_state", "value": 0},
    {"name": "n_jobs", "value": 1},
]


@pytest.fixture
def server(request, tmp_path_factory):
    return shared_server(request.config, tmp_path_factory.getbasetemp() / "reliability-mlflow")


@pytest.fixture
def shared(tmp_path, warehouse_template, server, monkeypatch):
    """One warehouse file, one catalog file and one registry server for every process (and the test's reads)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # left in os.environ by an earlier in-process chain
    shutil.copy(warehouse_template, tmp_path / "warehouse.db")
    return SimpleNamespace(
        root=tmp_path,
        warehouse=f"sqlite:///{tmp_path / 'warehouse.db'}",
        catalog=tmp_path / "catalog.db",
        server=server,
    )


def run_workers(shared, jobs: list[list[str]]) -> list[dict]:
    """One chain_worker process per job (a list of spec paths), all started together; their result lines."""
    import os

    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": shared.server.url,
        "MLPUBLISH_CATALOG": str(shared.catalog),
        "WAREHOUSE_URL": shared.warehouse,
    }
    outputs = run_together(
        [
            lambda start, specs=specs: [sys.executable, "-m", "tests.support.chain_worker", str(start), *specs]
            for specs in jobs
        ],
        lead=8.0,
        timeout=600,
        cwd=ROOT,
        env=env,
    )
    return [json.loads(line) for stdout in outputs for line in stdout.splitlines() if line.startswith("{")]


def held_out_keys(frame) -> set:
    """The keys the chain holds out (train's keyed split, spec's testSize and seed)."""
    from mlpublish.steps.train import split_rows

    ctx = SimpleNamespace(
        spec=SimpleNamespace(data=SimpleNamespace(keyColumns=["customer_id"])),
        preflight=SimpleNamespace(training_fqn="customer_features"),
    )
    split = churn_dict()["training"]["split"]
    _, X_test, _, _ = split_rows(ctx, frame, frame, frame["churned"], split["testSize"], split["seed"])
    return set(frame.loc[X_test.index, "customer_id"])


def history(name: str) -> list[dict]:
    return json.loads(MlflowClient().get_registered_model(name).tags.get("mlpublish.champion_history", "[]"))


def test_eight_chains_for_one_model(shared, reliability_tally):
    import pandas as pd

    name = f"conc_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(shared.warehouse)
    frame = pd.read_sql_table("customer_features", engine)
    test_keys = held_out_keys(frame)
    trainable = frame[~frame["customer_id"].isin(test_keys)]
    specs = []
    for i, fraction in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)):
        # different training rows, the same held-out rows
        rows = pd.concat([frame[frame["customer_id"].isin(test_keys)], trainable.sample(frac=fraction, random_state=i)])
        rows.to_sql(f"customer_features_{i}", engine, index=False)
        specs.append(
            str(
                write_spec(
                    shared.root / f"spec{i}.yaml",
                    churn_dict(
                        name=name,
                        data={"trainingTable": f"customer_features_{i}"},
                        validation=RULE,
                        mlHyperParameters=SMALL,
                    ),
                )
            )
        )
    engine.dispose()

    results = run_workers(shared, [[s] for s in specs])
    assert len(results) == 8

    client = MlflowClient()
    runs = {res["run_id"]: client.get_run(res["run_id"]) for res in results}
    # the same held-out rows in every run, so the logged test metrics compare candidates fairly
    holdouts = [pd.read_parquet(client.download_artifacts(rid, "data/holdout.parquet")) for rid in runs]
    assert all(len(h) == len(test_keys) and h.equals(holdouts[0]) for h in holdouts)
    scores = {rid: r.data.metrics["test_roc_auc"] for rid, r in runs.items()}
    assert len(set(scores.values())) > 1, "the training rows should make the candidates differ"

    state = registry_rows(shared.server.db(), name)
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
    champion = state["aliases"]["champion"]
    assert scores[versions[champion].run_id] == max(scores.values()), "the champion is the best candidate"
    assert state["locks"] == [], "no lock left behind"
    assert state["aliases"].get("challenger") != champion
    # one version per PASSED run, none for a FAILED one
    passed = {res["run_id"] for res in results if res["status"] == "PASSED"}
    assert sorted(v.run_id for v in versions.values()) == sorted(passed)
    # history: every move starts where the previous ended, each one made by exactly one promote
    moves = history(name)
    assert moves[0]["from"] is None and moves[-1]["to"] == champion
    assert all(b["from"] == a["to"] for a, b in zip(moves, moves[1:], strict=False)), moves
    promoted = sorted(res["version"] for res in results if res["promoted"])
    assert sorted(m["to"] for m in moves) == promoted
    assert {v for v, mv in versions.items() if "mlpublish.champion_since" in mv.tags} == set(promoted)
    # every move reached the catalog
    catalog_moves = [
        (m["version"], m["previous"], m["at"])
        for m in _catalog(shared).alias_history(f"mlflow-local.{name}")
        if m["alias"] == "champion"
    ]
    lost = len([m for m in moves if (m["to"], m["from"], m["at"]) not in catalog_moves])
    assert lost == 0 and len(catalog_moves) == len(moves)
    assert _catalog(shared).find_model(name)["extension"]["championVersion"] == champion
    refused = [res for res in results if res["status"] == "PASSED" and not res["promoted"]]
    assert all("no longer beats" in res["reason"] for res in refused), refused
    print(
        f"8 chains: {len(passed)} PASSED, {len(moves)} champion moves, {len(refused)} refused at promote, "
        f"champion v{champion} roc_auc={max(scores.values()):.4f}"
    )
    reliability_tally.add(SUITE, concurrent_runs=8, events_lost=lost)


def test_twenty_models_at_once(shared, reliability_tally):
    names = [f"conc20_{uuid.uuid4().hex[:6]}_{i}" for i in range(20)]
    specs = [
        str(write_spec(shared.root / f"{n}.yaml", churn_dict(name=n, validation=RULE, mlHyperParameters=SMALL)))
        for n in names
    ]
    results = run_workers(shared, [specs[i::5] for i in range(5)])
    assert sorted(r["model"] for r in results) == sorted(names)
    assert all(r["status"] == "PASSED" and r["promoted"] and r["version"] == "1" for r in results), results
    # the chains really overlapped: how many were running at the busiest moment
    peak = max(sum(r["start"] <= t < r["end"] for r in results) for t in (r["start"] for r in results))
    assert peak >= 3, f"at most {peak} chains overlapped"

    db, catalog, lost = shared.server.db(), _catalog(shared), 0
    for name in names:
        assert registry_rows(db, name) == {"versions": [1], "aliases": {"champion": "1"}, "locks": []}
        assert catalog.find_model(name)["extension"]["championVersion"] == "1"
        moves = [m for m in catalog.alias_history(f"mlflow-local.{name}") if m["alias"] == "champion"]
        lost += len(history(name)) - len(moves)
    assert lost == 0
    print(f"20 models: all published, peak overlap {peak} chains")
    reliability_tally.add(SUITE, concurrent_runs=20, events_lost=lost)


def _catalog(shared):
    from mlpublish.catalog.local import LocalCatalog

    return LocalCatalog(shared.catalog)
