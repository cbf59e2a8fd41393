"""Hooks: Airflow connections -> the settings the core takes. Built lazily, in ``execute``.

* ``mlflow_default``: the MLflow tracking server. ``extra.tracking_uri`` (any
  MLflow URI) or host/port/schema (``http://host:port``); login and password
  are the server's basic-auth credentials, in the environment of the task's step
  only (see :mod:`mlpublish.registry.session`).
* ``openmetadata_default``: the OpenMetadata server. ``extra.host_port`` or
  ``schema://host:port/api``; the JWT token in the password field; ``extra.strict``
  and ``extra.create_missing_tables`` as in :class:`mlpublish.config.OpenMetadataSettings`.

A connection that is not defined is not an error: the environment and the spec
decide, exactly as for the ``mlpublish`` CLI.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from mlpublish_airflow.exceptions import ConnectionInvalid


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


class MlflowHook(BaseHook):
    """The MLflow tracking server of connection ``mlflow_default`` (or the environment when undefined)."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "http"
    hook_name = "MLflow (mlpublish)"

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
        extra = conn.extra_dejson
        uri = extra.get("tracking_uri") or _base_url(conn, "http")
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


class OpenMetadataHook(BaseHook):
    """The OpenMetadata server of connection ``openmetadata_default``; builds the catalog sink."""

    conn_name_attr = "openmetadata_conn_id"
    default_conn_name = "openmetadata_default"
    conn_type = "http"
    hook_name = "OpenMetadata (mlpublish)"

    def __init__(self, openmetadata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.openmetadata_conn_id = openmetadata_conn_id

    def settings(self) -> Any | None:
        from mlpublish.config import OpenMetadataSettings

        conn = _optional_connection(self.openmetadata_conn_id)
        if conn is None:
            return OpenMetadataSettings.from_env()
        extra = conn.extra_dejson
        host_port = extra.get("host_port")
        if not host_port:
            base = _base_url(conn, "http")
            if base is None:
                raise ConnectionInvalid(
                    f"connection {self.openmetadata_conn_id!r} has neither a host nor extra.host_port"
                )
            host_port = base if base.endswith("/api") else f"{base}/api"
        return OpenMetadataSettings(
            host_port=host_port,
            jwt_token=conn.password or extra.get("jwt_token") or None,
            strict=_flag(extra.get("strict"), False),
            create_missing_tables=_flag(extra.get("create_missing_tables"), True),
        )

    def catalog(self, spec: Any) -> Any:
        from mlpublish.deployment import for_spec

        return for_spec(spec, openmetadata=self.settings()).open_catalog()
