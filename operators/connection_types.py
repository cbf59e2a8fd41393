"""The connection types mlpublish declares to Airflow, as plain data: type, name, hook, default id and form.

Airflow reads them from the provider info (:mod:`mlpublish_airflow.provider`) while it initialises, before
any hook can be imported (a hook imports Airflow itself), so they live here with no Airflow import; the hooks
(:mod:`mlpublish_airflow.hooks`) take their attributes from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _string(label: str, description: str) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"]}}


def _boolean(label: str, description: str, default: bool) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["boolean", "null"], "default": default}}


@dataclass(frozen=True)
class ConnectionType:
    conn_type: str
    hook_name: str
    hook_class: str  # the hook's dotted path in the installed package
    default_conn_name: str
    conn_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    ui_field_behaviour: dict[str, Any] = field(default_factory=dict)

    def provider_entry(self) -> dict[str, Any]:
        """This type as an entry of the provider info's ``connection-types``."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "conn-fields": self.conn_fields,
            "ui-field-behaviour": self.ui_field_behaviour,
        }


_SQL_FIELDS = {
    "url": _string("URL", "The whole URL (SQLAlchemy form); when set, the other fields are ignored"),
    "drivername": _string("Driver", "SQLAlchemy driver name, e.g. postgresql or postgresql+psycopg2"),
}
_SQL_FORM = {
    "hidden-fields": [],
    "relabeling": {"schema": "Database"},
    "placeholders": {"host": "db.example.com", "port": "5432", "schema": "analytics", "drivername": "postgresql"},
}

MLFLOW = ConnectionType(
    conn_type="mlpublish_mlflow",
    hook_name="MLflow tracking and registry (mlpublish)",
    hook_class="mlpublish_airflow.hooks.MlflowHook",
    default_conn_name="mlflow_default",
    conn_fields={
        "tracking_uri": _string("Tracking URI", "Any MLflow tracking URI; when set, host, port and scheme are ignored"),
    },
    ui_field_behaviour={
        "hidden-fields": [],
        "relabeling": {"schema": "Scheme", "login": "Username (basic auth)", "password": "Password (basic auth)"},
        "placeholders": {"host": "mlflow.example.com", "port": "5000", "schema": "http"},
    },
)
OPENMETADATA = ConnectionType(
    # not "openmetadata": openmetadata-ingestion's own Airflow provider registers that type
    conn_type="mlpublish_openmetadata",
    hook_name="OpenMetadata (mlpublish)",
    hook_class="mlpublish_airflow.hooks.OpenMetadataHook",
    default_conn_name="openmetadata_default",
    conn_fields={
        "host_port": _string(
            "API URL", "e.g. http://openmetadata:8585/api; when set, host, port and scheme are ignored"
        ),
        "strict": _boolean(
            "Strict", "Fail the step when the catalog cannot be written (default: queue and go on)", False
        ),
        "create_missing_tables": _boolean("Create missing tables", "Create table entities the catalog lacks", True),
    },
    ui_field_behaviour={
        "hidden-fields": ["login"],
        "relabeling": {"schema": "Scheme", "password": "JWT token"},
        "placeholders": {"host": "openmetadata.example.com", "port": "8585", "schema": "http"},
    },
)
WAREHOUSE = ConnectionType(
    conn_type="mlpublish_warehouse",
    hook_name="Warehouse (mlpublish)",
    hook_class="mlpublish_airflow.hooks.WarehouseHook",
    default_conn_name="mlpublish_warehouse",
    conn_fields=_SQL_FIELDS,
    ui_field_behaviour=_SQL_FORM,
)
CATALOG = ConnectionType(
    conn_type="mlpublish_catalog",
    hook_name="Catalog store (mlpublish)",
    hook_class="mlpublish_airflow.hooks.CatalogStoreHook",
    default_conn_name="mlpublish_catalog",
    conn_fields=_SQL_FIELDS,
    ui_field_behaviour=_SQL_FORM,
)
ALL = (MLFLOW, OPENMETADATA, WAREHOUSE, CATALOG)
