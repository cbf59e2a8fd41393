"""Outbox order on a shared PostgreSQL store: a row never appears behind one a reader has already seen.

Four processes write one-event transactions as fast as they can (each to its own table, so no row lock
orders them) while the test reads the outbox over and over, as a relay does. A PostgreSQL sequence hands
out numbers in the order transactions ask, not in the order they commit: without the store's write lock a
row with a smaller seq could become visible after a larger one, and a relay would already have passed it.
Here every seq a read finds for the first time must be larger than every seq an earlier read found; and
each writer's rows are in its own order.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.catalog_store import postgres_catalog_url, wait_until

pytestmark = pytest.mark.integration
WRITERS, EACH = 4, 60


def test_outbox_rows_become_visible_in_seq_order(reliability_tally):
    import psycopg2

    with postgres_catalog_url("ordering") as url:
        from mlpublish.catalog.local import LocalCatalog

        LocalCatalog(url).get("nothing")  # create the tables before the race
        writers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.catalog_writer", url, f"w{n}", str(EACH)],
                cwd=ROOT,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(WRITERS)
        ]
        reader = psycopg2.connect(url)
        reader.autocommit = True
        seen: set[int] = set()
        highest, reads, late = 0, 0, []
        while True:
            running = any(w.poll() is None for w in writers)
            cur = reader.cursor()
            cur.execute("SELECT seq FROM outbox ORDER BY seq")
            found = [r[0] for r in cur.fetchall()]
            reads += 1
            late += [s for s in found if s not in seen and s < highest]
            seen.update(found)
            highest = max(seen, default=0)
            if not running:
                break
        for w in writers:
            assert w.wait() == 0, w.stderr.read()
        cur = reader.cursor()
        cur.execute("SELECT event FROM outbox ORDER BY seq")
        order = [json.loads(r[0])["description"] for r in cur.fetchall()]
        reader.close()
    assert late == [], f"rows appeared behind rows already read: {late[:10]}"
    assert len(order) == WRITERS * EACH
    for n in range(WRITERS):
        mine = [int(d.split(":")[1]) for d in order if d.startswith(f"w{n}:")]
        assert mine == list(range(EACH))
    reliability_tally.add("catalog-store", outbox_rows=len(order), reads=reads, rows_behind=0)


def test_the_postgresql_lease_has_one_holder_and_dies_with_its_connection():
    from mlpublish.catalog.local import LocalCatalog
    from mlpublish.catalog.outbox import Outbox

    with postgres_catalog_url("lease") as url:
        first, second = Outbox(LocalCatalog(url), "om"), Outbox(LocalCatalog(url), "om")
        other_target = Outbox(LocalCatalog(url), "another-server")
        assert first.acquire() and first.acquire()  # renewing is holding (taken once, not stacked)
        assert not second.acquire()
        assert other_target.acquire()  # one lease per OpenMetadata server
        first.release()
        assert second.acquire()
        assert not first.acquire()
        second.local.close()  # the holder's connection ends (a killed relay): the server frees the lease
        wait_until("the server to free the lease of the closed connection", first.acquire, timeout=60)
        for outbox in (first, second, other_target):
            outbox.local.close()
