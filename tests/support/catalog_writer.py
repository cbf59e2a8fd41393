"""Write catalog events into a shared store as fast as possible (the store ordering suite).

    python -m tests.support.catalog_writer URL WRITER COUNT

Publishes COUNT one-event transactions, each an UpsertTable of its own table whose description says
"WRITER:i", and queues each in the outbox for target "ordering".
"""

from __future__ import annotations

import sys


def main(url: str, writer: str, count: str) -> None:
    from mlpublish.catalog.events import Column, UpsertTable
    from mlpublish.catalog.local import LocalCatalog

    catalog = LocalCatalog(url)
    for i in range(int(count)):
        event = UpsertTable(
            fqn=f"warehouse.main.main.{writer}",
            columns=[Column(name="c", dataType="INTEGER")],
            description=f"{writer}:{i}",
        )
        catalog.publish([event], enqueue_for="ordering")
    catalog.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
