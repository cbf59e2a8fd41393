"""The provider registration: Airflow finds ``get_provider_info`` through the ``apache_airflow_provider``
entry point (pyproject.toml) and lists mlpublish in ``airflow providers list`` with its connection types,
hooks, operators and extra links.

The connection forms are declared here (``conn-fields``, ``ui-field-behaviour``), as Airflow >= 3.2 reads
them without importing the hooks; the hooks hold the one definition and answer the older form methods too.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mlpublish_airflow.hooks import CatalogStoreHook, MlflowHook, OpenMetadataHook, WarehouseHook

PACKAGE_NAME = "mlpublish"
INTEGRATION = "mlpublish"
HOOKS = (MlflowHook, OpenMetadataHook, WarehouseHook, CatalogStoreHook)
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


def connection_type(hook: type) -> dict[str, Any]:
    return {
        "connection-type": hook.conn_type,
        "hook-class-name": f"{hook.__module__}.{hook.__qualname__}",
        "hook-name": hook.hook_name,
        "conn-fields": hook.conn_fields,
        "ui-field-behaviour": hook.ui_field_behaviour,
    }


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
        "connection-types": [connection_type(h) for h in HOOKS],
        "extra-links": EXTRA_LINKS,
    }
