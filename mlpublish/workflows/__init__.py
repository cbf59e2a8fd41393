"""What runs several steps or reads across environments: built on the steps, called by the adapters.

* :mod:`~mlpublish.workflows.chain`: the chain train -> evaluate -> validate -> register -> promote;
* :mod:`~mlpublish.workflows.audit`: register a rejected candidate for audit;
* :mod:`~mlpublish.workflows.copy_version`: copy a PASSED version into another environment;
* :mod:`~mlpublish.workflows.compare`: another environment's champion on this one's rows, read-only;
* :mod:`~mlpublish.workflows.report`: status and chain summaries.
"""
