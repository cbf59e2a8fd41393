"""Hooks: Airflow connections -> the settings the core takes. Built lazily, in ``execute``.

Each hook has its own connection type (declared by the provider, :mod:`mlpublish_airflow.provider`, with
its form fields), so the UI offers an MLflow, OpenMetadata, warehouse and catalog form:

* ``mlflow_default`` (type ``mlpublish_mlflow``): the MLflow tracking server. ``extra.tracking_uri`` (any
  MLflow URI) or host/port/schema (``http://host:port``); login and password are the server's basic-auth
  credentials, in the environment of the task's step only (see :mod:`mlpublish.registry.session`).
* ``openmetadata_default`` (type ``mlpublish_openmetadata``): the OpenMetadata server. ``extra.host_port`` or
  ``schema://host:port/api``; the JWT token in the password field; ``extra.strict`` and
  ``extra.create_missing_tables`` as in :class:`mlpublish.config.OpenMetadataSettings`.
* ``mlpublish_warehouse`` / ``mlpublish_catalog`` (types ``mlpublish_warehouse`` / ``mlpublish_catalog``,
  or ``postgres`` / ``sqlite``): the warehouse's SQLAlchemy URL and the catalog store's URL.

Connections of type ``http`` (how ``mlflow_default`` and ``openmetadata_default`` were documented before the
provider existed) keep working, with a deprecation warning naming the new type. A connection that is not
defined is not an error: the environment and the spec decide, exactly as for the ``mlpublish`` CLI.
"""

from __future__ import annotations

import warnings
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from mlpublish_airflow.connection_types import CATALOG, MLFLOW, OPENMETADATA, WAREHOUSE
from mlpublish_airflow.exceptions import ConnectionInvalid

LEGACY_CONN_TYPE = "http"


def _optional_connection(conn_id: str) -> Any | None:
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _base_url(conn: Any, default_scheme: str) -> str | None:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return None
    if "://" not in host:
        host = f"{conn.schema or default_scheme}://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _extra(conn: Any, key: str) -> Any:
    """An extra field, stored plain (``{"tracking_uri": ...}``) or as older forms saved it (``extra__<type>__<key>``)."""
    extra = conn.extra_dejson or {}
    value = extra.get(key)
    return value if value not in (None, "") else extra.get(f"extra__{conn.conn_type}__{key}") or None


def _warn_if_legacy(conn: Any, conn_id: str, hook: BaseHook) -> None:
    if conn.conn_type != LEGACY_CONN_TYPE:
        return
    from airflow.exceptions import AirflowProviderDeprecationWarning

    message = (
        f"connection {conn_id!r} has type 'http'; give it type {hook.conn_type!r} ({hook.hook_name}, "
        "the mlpublish provider's form): type 'http' still works but is deprecated"
    )
    warnings.warn(AirflowProviderDeprecationWarning(message), stacklevel=3)
    hook.log.warning(message)  # the task log, where whoever owns the connection looks


class _FormHook(BaseHook):
    """The connection form of a hook: declared once (``conn_fields``, ``ui_field_behaviour``) for the provider
    info, which Airflow >= 3.2 reads without importing the hook, and for the hook's own form methods."""

    conn_fields: dict[str, dict[str, Any]] = {}
    ui_field_behaviour: dict[str, Any] = {}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        b = cls.ui_field_behaviour
        return {
            "hidden_fields": list(b.get("hidden-fields", [])),
            "relabeling": dict(b.get("relabeling", {})),
            "placeholders": dict(b.get("placeholders", {})),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from wtforms import BooleanField, StringField  # only where a form is drawn (Airflow < 3.2's UI)

        fields = {}
        for name, field in cls.conn_fields.items():
            kind = BooleanField if "boolean" in field["schema"]["type"] else StringField
            fields[name] = kind(field["label"], description=field.get("description"))
        return fields


class MlflowHook(_FormHook):
    """The MLflow tracking server of connection ``mlflow_default`` (or the environment when undefined)."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = MLFLOW.default_conn_name
    conn_type = MLFLOW.conn_type
    hook_name = MLFLOW.hook_name
    conn_fields = MLFLOW.conn_fields
    ui_field_behaviour = MLFLOW.ui_field_behaviour

    def __init__(self, mlflow_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    def tracking_uri(self) -> str | None:
        """The tracking URI the connection names, or None when the connection is not defined."""
        return self._server()[0]

    def _server(self) -> tuple[str | None, Any]:
        """The connection's tracking URI and basic-auth credentials; (None, None) when it is not defined."""
        from mlpublish.registry.session import MlflowCredentials

        conn = _optional_connection(self.mlflow_conn_id)
        if conn is None:
            return None, None
        _warn_if_legacy(conn, self.mlflow_conn_id, self)
        uri = _extra(conn, "tracking_uri") or _base_url(conn, "http")
        if not uri:
            raise ConnectionInvalid(f"connection {self.mlflow_conn_id!r} has neither a host nor extra.tracking_uri")
        return uri, (MlflowCredentials(username=conn.login, password=conn.password) if conn.login else None)

    def connect(self, spec: Any) -> tuple[Any, Any]:
        """The spec pointed at the connection's server, and the connection's credentials for it. A spec that
        names its own server keeps it (the spec wins) and never gets this connection's credentials."""
        if spec.mlflow.trackingUri:
            return spec, None
        uri, credentials = self._server()
        if uri is None:
            return spec, None
        return spec.model_copy(update={"mlflow": spec.mlflow.model_copy(update={"trackingUri": uri})}), credentials

    def apply(self, spec: Any) -> Any:
        """The spec pointed at the connection's server, unless the spec names its own (the spec wins)."""
        return self.connect(spec)[0]


class OpenMetadataHook(_FormHook):
    """The OpenMetadata server of connection ``openmetadata_default``; builds the catalog sink."""

    conn_name_attr = "openmetadata_conn_id"
    default_conn_name = OPENMETADATA.default_conn_name
    conn_type = OPENMETADATA.conn_type
    hook_name = OPENMETADATA.hook_name
    conn_fields = OPENMETADATA.conn_fields
    ui_field_behaviour = OPENMETADATA.ui_field_behaviour

    def __init__(self, openmetadata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.openmetadata_conn_id = openmetadata_conn_id

    def settings(self) -> Any | None:
        from mlpublish.config import OpenMetadataSettings

        conn = _optional_connection(self.openmetadata_conn_id)
        if conn is None:
            return OpenMetadataSettings.from_env()
        _warn_if_legacy(conn, self.openmetadata_conn_id, self)
        host_port = _extra(conn, "host_port")
        if not host_port:
            base = _base_url(conn, "http")
            if base is None:
                raise ConnectionInvalid(
                    f"connection {self.openmetadata_conn_id!r} has neither a host nor extra.host_port"
                )
            host_port = base if base.endswith("/api") else f"{base}/api"
        return OpenMetadataSettings(
            host_port=host_port,
            jwt_token=conn.password or _extra(conn, "jwt_token") or None,
            strict=_flag(_extra(conn, "strict"), False),
            create_missing_tables=_flag(_extra(conn, "create_missing_tables"), True),
        )

    def catalog(self, spec: Any) -> Any:
        from mlpublish.deployment import for_spec

        return for_spec(spec, openmetadata=self.settings()).open_catalog()


def _revalidated(section: Any, **changes: Any) -> Any:
    """The spec section with ``changes``, through its validators (a URL from a connection is checked as the
    spec's own would be)."""
    return type(section).model_validate({**section.model_dump(by_alias=True), **changes})


class _SqlStoreHook(_FormHook):
    """A database URL from a connection: ``extra.url`` as given, else built from the fields (the password
    escaped by SQLAlchemy). Also accepts connections of type ``postgres`` and ``sqlite`` (host: the file)."""

    conn_fields = WAREHOUSE.conn_fields  # the warehouse's and the catalog store's forms are the same
    ui_field_behaviour = WAREHOUSE.ui_field_behaviour
    drivers = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        # Connection.get_hook() passes the id under conn_name_attr (warehouse_conn_id=, catalog_conn_id=)
        named = kwargs.pop(self.conn_name_attr, None)
        super().__init__(**kwargs)
        self.conn_id = conn_id or named or self.default_conn_name

    def url(self) -> str | None:
        """The connection's URL, or None when the connection is not defined."""
        conn = _optional_connection(self.conn_id)
        if conn is None:
            return None
        if given := _extra(conn, "url"):
            return str(given)
        driver = _extra(conn, "drivername") or self.drivers.get(conn.conn_type, "postgresql")
        if driver.startswith("sqlite"):
            if not conn.host:
                raise ConnectionInvalid(f"connection {self.conn_id!r} (sqlite) has no host (the database file)")
            return f"{driver}:///{conn.host}"
        if not conn.host:
            raise ConnectionInvalid(f"connection {self.conn_id!r} has neither a host nor extra.url")
        from sqlalchemy.engine import URL

        built = URL.create(
            driver,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return built.render_as_string(hide_password=False)


class WarehouseHook(_SqlStoreHook):
    """The warehouse of connection ``mlpublish_warehouse``: it takes the place of ``WAREHOUSE_URL``, for a spec
    whose ``data.connection`` is what that variable (or the default) gave; a URL the spec or its environment
    names stays (the spec wins, as for MLflow)."""

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = WAREHOUSE.default_conn_name
    conn_type = WAREHOUSE.conn_type
    hook_name = WAREHOUSE.hook_name

    def apply(self, spec: Any) -> Any:
        import os

        from mlpublish.config import DEFAULT_WAREHOUSE_URL

        current = spec.data.connection
        if current not in (os.environ.get("WAREHOUSE_URL"), DEFAULT_WAREHOUSE_URL):
            return spec
        url = self.url()
        if url is None:
            return spec
        return spec.model_copy(update={"data": _revalidated(spec.data, connection=url)})


class CatalogStoreHook(_SqlStoreHook):
    """The catalog store of connection ``mlpublish_catalog`` (a file path in ``extra.url``, ``sqlite:///path``
    or PostgreSQL): it takes the place of ``MLPUBLISH_CATALOG`` for a spec without ``catalog.url``."""

    conn_name_attr = "catalog_conn_id"
    default_conn_name = CATALOG.default_conn_name
    conn_type = CATALOG.conn_type
    hook_name = CATALOG.hook_name

    def apply(self, spec: Any) -> Any:
        if spec.catalog.url:
            return spec
        url = self.url()
        if url is None:
            return spec
        return spec.model_copy(update={"catalog": _revalidated(spec.catalog, url=url)})
