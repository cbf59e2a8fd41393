"""The ``mlpublish`` command line: one module per command group.

* :mod:`~mlpublish.cli.commands`: the parser, ``check``, ``run``, the registry commands, exit codes;
* :mod:`~mlpublish.cli.score`: ``score``, ``monitor`` and ``demo-drift``;
* :mod:`~mlpublish.cli.catalog`: ``catalog sync`` and ``catalog relay``;
* :mod:`~mlpublish.cli.common`: exit codes and helpers the groups share.

The demo (``mlpublish demo``) is its own package, :mod:`mlpublish.demo`.
"""

from mlpublish.cli.commands import main
from mlpublish.cli.common import EXIT_CRASH, EXIT_ERROR, EXIT_OK, EXIT_REJECTED

__all__ = ["EXIT_CRASH", "EXIT_ERROR", "EXIT_OK", "EXIT_REJECTED", "main"]
