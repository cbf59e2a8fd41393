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
        """A person moves the champion: the chain stops at challenger."""
        return self.mode == "manual" or self.approval == "required"
