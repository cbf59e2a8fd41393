"""The provider registration: Airflow finds ``get_provider_info`` through the ``apache_airflow_provider``
entry point (pyproject.toml) and lists mlpublish in ``airflow providers list`` with its connection types,
hooks, operators and extra links.

The connection forms are declared here (``conn-fields``, ``ui-field-behaviour``), as Airflow >= 3.2 reads
them without importing the hooks; the hooks hold the one definition and answer the older form methods too.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Airflow calls get_provider_info while it initialises, in the middle of whatever import started it (our own
# modules import airflow.sdk): nothing here may import Airflow or a module that does
from mlpublish_airflow.connection_types import ALL as CONNECTION_TYPES

PACKAGE_NAME = "mlpublish"
INTEGRATION = "mlpublish"
OPERATOR_MODULES = ["mlpublish_airflow.publish", "mlpublish_airflow.batch"]
EXTRA_LINKS = [
    "mlpublish_airflow.links.MlflowRunLink",
    "mlpublish_airflow.links.ModelVersionLink",
    "mlpublish_airflow.links.CatalogEntityLink",
]


def _version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:  # run from a source tree without an install
        return "0+unknown"


def get_provider_info() -> dict[str, Any]:
    """The provider info dict Airflow validates against its ``provider_info.schema.json``."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "mlpublish",
        "description": "Gated publish chain for ML models on MLflow (train, evaluate, validate, register, "
        "promote, score, monitor) with catalog metadata in the OpenMetadata standard.",
        "versions": [_version()],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "tags": ["software"],
            }
        ],
        "operators": [{"integration-name": INTEGRATION, "python-modules": OPERATOR_MODULES}],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["mlpublish_airflow.hooks"]}],
        "connection-types": [c.provider_entry() for c in CONNECTION_TYPES],
        "extra-links": EXTRA_LINKS,
    }
