"""Exceptions the mlpublish Airflow operators raise on purpose.

Each maps a core outcome to an Airflow outcome: a subclass of
``AirflowFailException`` fails the task without retrying (a retry cannot
change a rejected candidate or a broken spec); ``AirflowSkipException``
subclasses end the task as skipped.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException


class MlpublishAirflowError(AirflowException):
    """Base of the errors raised by the mlpublish operators and hooks."""


class SpecInvalid(AirflowFailException):
    """The spec file (or the overrides given at trigger time) is invalid; the message names file and field."""


class UpstreamResultMissing(AirflowFailException):
    """An operator found no XCom result from the step it builds on (task id named in the message)."""


class CandidateRejected(AirflowFailException):
    """A validation gate FAILED: the message names each metric, its value and the threshold."""


class CandidateRejectedSkip(AirflowSkipException):
    """A validation gate FAILED and the spec asks for a skipped, not failed, outcome (``validation.onFailure: skip``)."""


class PromotionRefused(AirflowSkipException):
    """Promote moved nothing: the champion moved after validation and the candidate no longer beats it."""


class ShadowChallenger(AirflowSkipException):
    """promotion.mode: shadow: the candidate is challenger beside the champion; the monitor DAG promotes it once
    it wins on live labels. Nothing moved, nothing to notify (and no model asset event)."""


class NothingNew(AirflowSkipException):
    """The candidate reproduces the champion: no version registered, no champion move, no notification."""


class ConnectionInvalid(MlpublishAirflowError):
    """An Airflow connection (``mlflow_default``, ``openmetadata_default``) cannot be turned into settings."""


class NoChampionYet(AirflowFailException):
    """Score or monitor found no ``champion`` alias: publish the model first (a retry cannot help)."""
