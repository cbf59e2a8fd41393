"""Who may make a champion, against a real ``mlflow server --app-name basic-auth`` on loopback.

One server for the module. The admin creates the model and grants, as docs/permissions.md tells an MLflow
admin to: the trainer EDIT (it registers versions), the approver MANAGE (it makes champions), the reader
nothing beyond the server's default READ. The model requires approval (promotion.approval: required) and
lists the reader among its approvers, so the reader's refusal is the server's, not mlpublish's.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mlpublish.errors import AccessDenied, ApprovalRefused
from mlpublish.promotion.approval import approve_version
from mlpublish.promotion.approval_rule import ApprovalRule, record_rule, request_approval
from mlpublish.promotion.history import champion_history
from mlpublish.promotion.moves import promote_version, rollback_champion
from mlpublish.registry import Registry
from mlpublish.registry.contract import (
    APPROVAL_TAG,
    APPROVED_BY_TAG,
    CHAMPION,
    PASSED,
    REQUESTED_BY_TAG,
    VALIDATION_TAG,
)
from mlpublish.registry.fence import fence_name
from mlpublish.registry.session import MlflowCredentials, mlflow_session
from tests.support.canary_secrets import CANARIES
from tests.support.mlflow_server import basic_auth_server

pytestmark = pytest.mark.integration

MODEL = "churn_guarded"
PASSWORDS = {user: CANARIES[f"mlflow {user} password"] for user in ("admin", "trainer", "approver", "reader")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mlflow_template) -> Iterator[str]:
    root = tmp_path_factory.mktemp("basic-auth")
    shutil.copy(mlflow_template, root / "mlflow.db")  # migrated already: the server starts faster
    with basic_auth_server(root, f"sqlite:///{root / 'mlflow.db'}", PASSWORDS["admin"]) as url:
        with as_user(url, "admin"):
            from mlflow.server import get_app_client

            admin = get_app_client("basic-auth", tracking_uri=url)
            for user in ("trainer", "approver", "reader"):
                admin.create_user(user, PASSWORDS[user])
            Registry(url).client.create_registered_model(MODEL)  # owned by the admin, not by the trainer
            for user, permission in (("trainer", "EDIT"), ("approver", "MANAGE")):
                admin.grant_user_permission(user, "registered_model", MODEL, permission)
                admin.grant_user_permission(user, "registered_model", fence_name(MODEL), "EDIT")
        yield url


@contextmanager
def as_user(url: str, user: str, password: str | None = None) -> Iterator[Registry]:
    credentials = MlflowCredentials(username=user, password=password or PASSWORDS[user])
    with mlflow_session(url, url, credentials):
        yield Registry(url)


@pytest.fixture(scope="module")
def candidate(server: str) -> str:
    """The trainer registers a PASSED version under the approval rule and requests approval (what the chain's
    register and promote steps do)."""
    with as_user(server, "trainer") as reg:
        mv = reg.client.create_model_version(MODEL, "mlpublish:/candidate", tags={VALIDATION_TAG: PASSED})
        record_rule(reg, MODEL, ApprovalRule(required=True, approvers=("approver", "reader")))
        request_approval(reg, MODEL, str(mv.version))
    return str(mv.version)


def test_the_reader_cannot_promote(server, candidate, caplog):
    caplog.set_level(logging.DEBUG)
    with as_user(server, "reader") as reg, pytest.raises(AccessDenied) as refused:
        approve_version(reg, None, MODEL, candidate, reason="looks fine")
    assert (refused.value.user, refused.value.model, refused.value.permission) == ("reader", MODEL, "EDIT")
    assert "'reader'" in str(refused.value) and repr(MODEL) in str(refused.value) and "EDIT" in str(refused.value)
    with as_user(server, "admin") as reg:
        assert reg.alias_version(MODEL, CHAMPION) is None
        assert reg.get_version(MODEL, candidate).tags[APPROVAL_TAG] == "PENDING"  # nothing half-written
    assert not any(p in caplog.text + str(refused.value) for p in PASSWORDS.values())


def test_the_trainer_cannot_approve_its_own_run(server, candidate):
    with as_user(server, "trainer") as reg:
        assert reg.get_version(MODEL, candidate).tags[REQUESTED_BY_TAG] == "trainer"
        with pytest.raises(ApprovalRefused, match="'trainer' registered churn_guarded v1 and may not approve it"):
            approve_version(reg, None, MODEL, candidate, reason="mine")
        with pytest.raises(ApprovalRefused, match="requires approval"):
            promote_version(reg, None, MODEL, candidate)  # nor go around the approval
        assert reg.alias_version(MODEL, CHAMPION) is None


def test_a_wrong_password_is_named(server):
    with as_user(server, "approver", password="not-the-password") as reg, pytest.raises(AccessDenied) as refused:
        reg.aliases(MODEL)
    assert refused.value.permission == "login" and "'approver'" in str(refused.value)


def test_the_approver_can(server, candidate):
    with as_user(server, "approver") as reg:
        result = approve_version(reg, None, MODEL, candidate, reason="four eyes on the churn gates")
        assert result.promoted and result.champion_after == candidate
        assert reg.alias_version(MODEL, CHAMPION) == candidate
        tags = reg.get_version(MODEL, candidate).tags
        assert (tags[APPROVAL_TAG], tags[APPROVED_BY_TAG]) == ("PROMOTED", "approver")
        entry = champion_history(reg, MODEL)[-1]
        assert (entry["to"], entry["approved_by"], entry["why"]) == (
            candidate,
            "approver",
            "four eyes on the churn gates",
        )
        assert entry["approved_at"]


def test_rollback_obeys_the_same_rule(server, candidate):
    with as_user(server, "trainer") as reg:
        mv = reg.client.create_model_version(MODEL, "mlpublish:/candidate-2", tags={VALIDATION_TAG: PASSED})
        request_approval(reg, MODEL, str(mv.version))
    with as_user(server, "approver") as reg:
        approve_version(reg, None, MODEL, str(mv.version), reason="better recall")
    with (
        as_user(server, "trainer") as reg,
        pytest.raises(ApprovalRefused, match="'trainer' registered churn_guarded v1"),
    ):
        rollback_champion(reg, None, MODEL)
    with as_user(server, "approver") as reg:
        result = rollback_champion(reg, None, MODEL)
        assert result.champion_after == candidate
        assert champion_history(reg, MODEL)[-1]["approved_by"] == "approver"
