"""Who is calling the registry, and what a refusal by an MLflow server with authentication means.

An MLflow server started with ``--app-name basic-auth`` answers 401 (UNAUTHENTICATED: unknown user or
wrong password) or 403 (PERMISSION_DENIED: the user lacks the permission). Its message names neither the
user nor the permission needed, so :func:`refusal` builds one that does; the password is never in it.
Permissions on a registered model are READ (read), EDIT (also: new versions, tags, aliases) and MANAGE
(also: delete, grant); docs/permissions.md has the table and a worked setup.
"""

from __future__ import annotations

import getpass
import os

from mlpublish.errors import AccessDenied

USERNAME_VAR = "MLFLOW_TRACKING_USERNAME"
DENIED_CODES = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"})

# The permission a call needs on the registered model it names (MLflow's basic-auth rules).
NEEDED = {
    "get_registered_model": "READ",
    "search_model_versions": "READ",
    "get_model_version": "READ",
    "create_registered_model": "EDIT",
    "create_model_version": "EDIT",
    "set_registered_model_alias": "EDIT",
    "set_registered_model_tag": "EDIT",
    "set_model_version_tag": "EDIT",
    "delete_model_version_tag": "EDIT",
    "delete_registered_model_alias": "MANAGE",
    "delete_registered_model": "MANAGE",
}


def identity() -> str:
    """The identity registry calls are made as: the MLflow user of this process's credentials (set by the
    step's session from the Airflow connection, the Dagster resource or the environment), else the OS user
    (a registry without authentication records who ran it, it proves nothing)."""
    user = os.environ.get(USERNAME_VAR)
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def is_denied(code: str) -> bool:
    return code in DENIED_CODES


def refusal(code: str, call: str, model: str, where: str, what: str | None = None) -> AccessDenied:
    """The named error for a 401/403 of ``call`` on registered model ``model``."""
    user = os.environ.get(USERNAME_VAR)
    if code == "UNAUTHENTICATED":
        who = f"user {user!r}" if user else f"a client without credentials ({USERNAME_VAR} is not set)"
        return AccessDenied(
            f"{what or call} on model {model!r}: the MLflow server at {where} did not accept {who} "
            f"(wrong or missing password): nothing was changed",
            user=user or "",
            model=model,
            permission="login",
        )
    if call in NEEDED:
        permission, on = NEEDED[call], f"registered model {model!r}"
    else:  # runs and experiments: MLflow checks the permission on the run's experiment
        permission = "READ" if call.startswith(("get", "search", "list", "download")) else "EDIT"
        on = "the experiment it belongs to"
    who = user or identity()
    return AccessDenied(
        f"{what or call}: user {who!r} lacks the {permission} permission on {on} at {where}: nothing was "
        f"changed; an MLflow admin can grant it (docs/permissions.md)",
        user=who,
        model=model,
        permission=permission,
    )
