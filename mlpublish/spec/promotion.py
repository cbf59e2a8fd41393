"""The spec's promotion section: how a PASSED candidate becomes champion (auto, manual, shadow; approval)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlpublish.spec.field_rules import SpecModel


class ShadowPromotion(SpecModel):
    """When a shadow challenger replaces the champion: N of the last M labelled windows won."""

    windowN: int = Field(default=2, ge=1, description="Windows the challenger must win among the last windowM.")
    windowM: int = Field(default=3, ge=1, description="The labelled windows looked at (at least windowN).")
    minLabelledRows: int = Field(
        default=100, ge=1, description="A window with fewer labelled rows per model is not counted."
    )

    @model_validator(mode="after")
    def _n_of_m(self) -> ShadowPromotion:
        if self.windowN > self.windowM:
            raise ValueError(f"windowN ({self.windowN}) cannot exceed windowM ({self.windowM})")
        return self


class Promotion(SpecModel):
    """How a PASSED candidate becomes champion."""

    mode: Literal["auto", "manual", "shadow"] = Field(
        default="auto",
        description="auto: the chain promotes; manual: someone approves (mlpublish promote, the "
        "Airflow approval task); shadow: the candidate becomes challenger, scores beside the champion "
        "(scoring.shadow) and is promoted by the monitor once it beats the champion on live labels "
        "(promotion.shadow, monitoring.labels).",
    )
    shadow: ShadowPromotion = Field(
        default_factory=lambda: ShadowPromotion(),
        description="With mode: shadow, when the challenger has proven itself on live labels.",
    )
    approval: Literal["none", "required"] = Field(
        default="none",
        description="required: four eyes. The chain ends with the candidate as challenger and an approval "
        "request; an approver who is not the identity that registered it moves it (mlpublish approve, the "
        "Airflow approval task, the Dagster approval sensor). Rollback obeys the same rule. See "
        "docs/permissions.md.",
    )
    approvers: list[str] = Field(
        default_factory=list,
        description="With approval: required, the MLflow users (Airflow users for the Airflow approval task) "
        "who may approve; empty: any identity with MANAGE on the model in MLflow.",
    )

    @field_validator("approvers")
    @classmethod
    def _approver_names(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not a.strip() or "," in a]
        if bad:
            raise ValueError(f"approvers must be user names without commas: {bad}")
        return [a.strip() for a in v]

    @property
    def needs_approval(self) -> bool:
        """A person moves the champion at the end of the chain: the chain stops at challenger for an approval.
        In shadow mode the chain stops at challenger too, but a required approval is asked only once the
        challenger has won on live labels (see :attr:`live_approval`)."""
        return self.mode == "manual" or (self.approval == "required" and self.mode != "shadow")

    @property
    def live_approval(self) -> bool:
        """Shadow mode under four eyes: a challenger that won on live labels waits for an approver."""
        return self.mode == "shadow" and self.approval == "required"


def shadow_mode_problems(promotion: Promotion, scoring_shadow: bool, labels: object) -> list[tuple[tuple, str]]:
    """``promotion.mode: shadow`` needs the challenger's predictions (``scoring.shadow: true``) and the labels
    its live metrics are measured on (``monitoring.labels``): (field path, message) for each one missing."""
    if promotion.mode != "shadow":
        return []
    out: list[tuple[tuple, str]] = []
    if not scoring_shadow:
        out.append(
            (
                ("scoring", "shadow"),
                "promotion.mode: shadow needs scoring.shadow: true (the challenger must score beside the champion)",
            )
        )
    if labels is None:
        out.append(
            (
                ("monitoring", "labels"),
                "promotion.mode: shadow needs monitoring.labels (the live labels the challenger is judged on)",
            )
        )
    return out
