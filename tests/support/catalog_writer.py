"""Write catalog events into a shared store as fast as possible (the store ordering suite).

    python -m tests.support.catalog_writer URL WRITER COUNT [TARGET]

Publishes COUNT one-event transactions, each an UpsertTable of its own table whose description says
"WRITER:i", and queues each in the outbox for TARGET (an OpenMetadata address; default "ordering"); prints
the wall time of each commit.
"""

from __future__ import annotations

import sys
import time


def main(url: str, writer: str, count: str, target: str = "ordering") -> None:
    from mlpublish.catalog.events import Column, UpsertTable
    from mlpublish.catalog.local import LocalCatalog

    catalog = LocalCatalog(url)
    for i in range(int(count)):
        event = UpsertTable(
            fqn=f"warehouse.main.main.{writer}",
            columns=[Column(name="c", dataType="INTEGER")],
            description=f"{writer}:{i}",
        )
        catalog.publish([event], enqueue_for=target)
        print(time.time(), flush=True)  # the commit's wall time (the relay wake-up suite measures from it)
    catalog.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
