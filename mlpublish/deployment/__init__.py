"""Where a step runs: the outside systems of an environment, opened in one place.

* :mod:`~mlpublish.deployment.systems`: :class:`Deployment`, the registry, catalog and warehouse of an environment;
* :mod:`~mlpublish.deployment.context`: :class:`PublishContext`, what a step works with;
* :mod:`~mlpublish.deployment.preflight`: the read-only checks run before the first write.
"""

from mlpublish.deployment.systems import Deployment, for_environment, for_spec

__all__ = ["Deployment", "for_environment", "for_spec"]
