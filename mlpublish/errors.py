"""The error tree. Every failure the chain reports is one of these, with a
message that names the file, field, model, version, metric or threshold."""

from __future__ import annotations


class MlpublishError(Exception):
    """Base of every error mlpublish raises on purpose."""

    exit_code = 2


class SpecError(MlpublishError):
    """The spec is malformed or refers to something that does not exist.

    Raised before anything is written to MLflow, the warehouse or the catalog.
    ``problems`` lists every problem found, each as (location, message).
    """

    def __init__(self, path: str, problems: list[tuple[str, str]], what: str = "spec"):
        self.path = path
        self.problems = problems
        self.what = what
        lines = [f"{path}: invalid {what} ({len(problems)} problem{'s' if len(problems) != 1 else ''})"]
        lines += [f"  {loc}: {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))


class GateFailed(MlpublishError):
    """A candidate was rejected: a validation gate failed or it no longer beats the champion."""

    exit_code = 3

    def __init__(self, message: str, *, model: str, version: str | None = None, failures: list[str] | None = None):
        self.model = model
        self.version = version
        self.failures = failures or []
        super().__init__(message)


class RegistryConflict(MlpublishError):
    """The registry changed under us (alias moved, lock held) and the move was refused."""


class RegistryError(MlpublishError):
    """The MLflow registry or tracking server refused a request or cannot be reached."""


class AccessDenied(RegistryError):
    """The MLflow server refused the identity (401) or its permission on a model (403); names both."""

    exit_code = 4

    def __init__(self, message: str, *, user: str, model: str, permission: str):
        self.user, self.model, self.permission = user, model, permission
        super().__init__(message)


class ApprovalRefused(MlpublishError):
    """An approval broke the model's rule (``promotion.approval``): not an approver, or approving one's own run."""

    exit_code = 4

    def __init__(self, message: str, *, user: str, model: str, version: str):
        self.user, self.model, self.version = user, model, version
        super().__init__(message)


class NotFound(MlpublishError):
    """A model, version, run or catalog entity that was asked for does not exist."""


class NoChampion(NotFound):
    """The model has no ``champion`` alias yet."""


class WarehouseError(MlpublishError):
    """The warehouse cannot be reached, or a table or column is missing or malformed."""


class CatalogUnavailable(MlpublishError):
    """The catalog cannot be reached or refused an update."""


class ReadOnlyEnvironment(MlpublishError):
    """A write was asked of an environment marked ``readOnly`` (refused before anything is written)."""


class StepError(MlpublishError):
    """A step cannot run with the inputs it was given (for example, a missing earlier result)."""


class StepTimeout(StepError):
    """A step ran past its bound (``training.timeoutMinutes``): its MLflow run is ended FAILED."""


class StepInterrupted(KeyboardInterrupt):
    """The step's process was told to stop (SIGTERM): its MLflow run is ended KILLED.

    A ``KeyboardInterrupt`` on purpose, like the one SIGINT raises: ``except Exception`` anywhere
    in a step (or a library) must not swallow it and carry on.
    """
