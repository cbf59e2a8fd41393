"""One operator per step of the publish chain. Each calls ONE core step and
translates its result into an Airflow outcome; the core decides everything.

XCom values are the steps' result models as JSON (run id, version, status,
metrics, checks: a few KB), never a model or a DataFrame. A later task
rebuilds the result it needs with ``TrainResult.model_validate(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from mlpublish.redact import scrub
from mlpublish_airflow.exceptions import (
    CandidateRejected,
    CandidateRejectedSkip,
    NothingNew,
    PromotionRefused,
    ShadowChallenger,
    SpecInvalid,
    UpstreamResultMissing,
)
from mlpublish_airflow.hooks import CatalogStoreHook, MlflowHook, OpenMetadataHook, WarehouseHook
from mlpublish_airflow.links import CatalogEntityLink, MlflowRunLink, ModelVersionLink

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_TASK_IDS = {
    "train": "train",
    "evaluate": "evaluate",
    "validate": "validate",
    "register": "register",
    "approve": "approve_promotion",
}


class PublishStepOperator(BaseOperator):
    """Base of the step operators: loads the spec (with trigger-time overrides) and builds the core context.

    :param spec_path: the model spec (templated).
    :param overrides: spec fields to override for this run, a mapping or JSON text (templated); the
        model name, registry, catalog and warehouse cannot be overridden.
    :param mlflow_conn_id: connection of the MLflow tracking server (undefined: environment/spec).
    :param openmetadata_conn_id: connection of the OpenMetadata server (undefined: the local catalog).
    :param warehouse_conn_id: connection of the warehouse (undefined: ``WAREHOUSE_URL``, see the hook).
    :param catalog_conn_id: connection of the catalog store (undefined: ``MLPUBLISH_CATALOG``).
    :param task_ids: task ids of the other steps of the chain, for XCom (default: the step names).
    """

    template_fields: Sequence[str] = ("spec_path", "overrides")
    ui_color = "#e8f0fe"
    step = ""
    operator_extra_links = (MlflowRunLink(),)

    def __init__(
        self,
        *,
        spec_path: str,
        overrides: Mapping[str, Any] | str | None = None,
        mlflow_conn_id: str = MlflowHook.default_conn_name,
        openmetadata_conn_id: str = OpenMetadataHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        catalog_conn_id: str = CatalogStoreHook.default_conn_name,
        task_ids: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.overrides = overrides
        self.mlflow_conn_id = mlflow_conn_id
        self.openmetadata_conn_id = openmetadata_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.catalog_conn_id = catalog_conn_id
        self.task_ids = {**DEFAULT_TASK_IDS, **(task_ids or {})}

    # -- building blocks (all I/O happens here, during execute) --------------------------
    def load_spec(self) -> Any:
        return self.connected_spec()[0]

    def connected_spec(self) -> tuple[Any, Any]:
        """The spec (with the overrides, pointed at the connections' MLflow server, warehouse and catalog store)
        and the MLflow server's credentials."""
        from mlpublish.errors import SpecError
        from mlpublish_airflow.overrides import load_spec_with_overrides

        try:
            spec = load_spec_with_overrides(self.spec_path, self.overrides)
            spec = CatalogStoreHook(self.catalog_conn_id).apply(WarehouseHook(self.warehouse_conn_id).apply(spec))
        except SpecError as exc:
            raise SpecInvalid(str(exc)) from None
        except ValueError as exc:  # pydantic's, for a connection's URL the spec's rules refuse (never its password)
            raise SpecInvalid(f"{self.spec_path}: a connection's URL is refused: {scrub(str(exc))}") from None
        return MlflowHook(self.mlflow_conn_id).connect(spec)

    def publish_context(self, spec: Any, context: Context) -> Any:
        from mlpublish.deployment.context import PublishContext
        from mlpublish.errors import SpecError

        ti = context["ti"]
        catalog = OpenMetadataHook(self.openmetadata_conn_id).catalog(spec)
        try:
            return PublishContext.create(spec, pipeline={"name": ti.dag_id, "runId": ti.run_id}, catalog=catalog)
        except SpecError as exc:  # estimator, metrics, tables and columns checked against the warehouse
            raise SpecInvalid(str(exc)) from None

    def upstream(self, context: Context, step: str, model: type) -> Any:
        task_id = self.task_ids[step]
        value = context["ti"].xcom_pull(task_ids=task_id)
        if not value:
            raise UpstreamResultMissing(f"{self.task_id}: no result from task {task_id!r} ({step}) in this run")
        return model.model_validate(value)

    def execute(self, context: Context) -> Any:
        from mlpublish.deployment import for_spec
        from mlpublish.errors import GateFailed
        from mlpublish_airflow.links import LINK_TARGETS_KEY, link_targets

        self.refuse_unknown_conf(context)
        spec, credentials = self.connected_spec()
        context["ti"].xcom_push(
            key=LINK_TARGETS_KEY, value=link_targets(spec, OpenMetadataHook(self.openmetadata_conn_id).settings())
        )
        # MLflow's stores and the connection's credentials for this step only: a worker runs many tasks
        with for_spec(spec, credentials=credentials).mlflow_session():
            ctx = self.publish_context(spec, context)
            try:
                return self.run_step(ctx, context)
            except GateFailed as exc:
                raise CandidateRejected(str(exc)) from None
            finally:
                ctx.preflight.warehouse.dispose()
                close = getattr(ctx.catalog, "close", None)
                if callable(close):
                    close()

    def refuse_unknown_conf(self, context: Context) -> None:
        """A conf key nothing reads (``override`` for ``overrides``) fails the task instead of being ignored."""
        from mlpublish_airflow.overrides import unknown_conf_keys

        problems = unknown_conf_keys(getattr(context.get("dag_run"), "conf", None))
        if problems:
            raise SpecInvalid(
                f"{self.spec_path}: the run's conf is refused: " + "; ".join(f"{k}: {m}" for k, m in problems)
            )

    def run_step(self, ctx: Any, context: Context) -> Any:
        raise NotImplementedError

    # -- OpenLineage (used only when the OpenLineage provider is installed) --------------
    lineage_reads_tables = True
    lineage_writes_model = True

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from mlpublish.config import tracking_uri
        from mlpublish_airflow.lineage import datasets, operator_lineage

        spec = self.load_spec()
        inputs, outputs = datasets(
            spec,
            tracking_uri(spec.mlflow.trackingUri),
            reads_tables=self.lineage_reads_tables,
            writes_model=self.lineage_writes_model,
        )
        return operator_lineage(inputs, outputs)


class TrainModelOperator(PublishStepOperator):
    """train: fit the candidates, log the best model to MLflow. XCom: ``TrainResult``."""

    step = "train"

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.steps import train_model

        return train_model(ctx).to_json()


class EvaluateModelOperator(PublishStepOperator):
    """evaluate: candidate and champion on the same held-out rows. XCom: ``EvaluateResult``."""

    step = "evaluate"
    lineage_writes_model = False

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.results import TrainResult
        from mlpublish.steps import evaluate_model

        return evaluate_model(ctx, self.upstream(context, "train", TrainResult)).to_json()


class ValidateModelOperator(PublishStepOperator):
    """validate: gates, smoke test, metadata. A FAILED candidate fails the task (or skips it with
    ``validation.onFailure: skip``) naming each metric, value and threshold; register and promote
    then do not run. XCom: ``ValidateResult`` (also under key ``rejected`` when FAILED; with
    ``validation.registerFailed`` the audit version's ``RegisterResult`` under ``audit_version``)."""

    step = "validate"
    lineage_writes_model = False

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.results import EvaluateResult, TrainResult
        from mlpublish.steps import validate_candidate
        from mlpublish.workflows.audit import register_for_audit

        train = self.upstream(context, "train", TrainResult)
        evaluation = self.upstream(context, "evaluate", EvaluateResult)
        result = validate_candidate(ctx, train, evaluation)
        if result.status == "PASSED":
            return result.to_json()
        # the register task never runs after a rejected candidate: the spec may keep it for audit here
        audit = register_for_audit(ctx, train, evaluation, result)
        if audit is not None:
            context["ti"].xcom_push(key="audit_version", value=audit.to_json())
        context["ti"].xcom_push(key="rejected", value=result.to_json())
        message = f"{ctx.spec.name}: candidate run {result.run_id} {result.summary()}"
        if ctx.spec.validation.onFailure == "skip":
            raise CandidateRejectedSkip(message)
        raise CandidateRejected(message)


class RegisterModelVersionOperator(PublishStepOperator):
    """register: one model version per run (a retry returns the same), ``challenger`` alias. XCom: ``RegisterResult``.

    A candidate that reproduces the champion (NOTHING NEW) registers nothing: the task is skipped
    with the reason (``RegisterResult`` under XCom key ``nothing_new``), and so are the tasks after it."""

    step = "register"
    lineage_reads_tables = False
    operator_extra_links = (MlflowRunLink(), ModelVersionLink())

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.results import EvaluateResult, TrainResult, ValidateResult
        from mlpublish.steps import register_version

        result = register_version(
            ctx,
            self.upstream(context, "train", TrainResult),
            self.upstream(context, "evaluate", EvaluateResult),
            self.upstream(context, "validate", ValidateResult),
        )
        if result.same_as_champion is not None:  # skipped: so are approval and promotion, and nobody is notified
            context["ti"].xcom_push(key="nothing_new", value=result.to_json())
            raise NothingNew(f"{ctx.spec.name}: {result.reason}")
        if result.version is not None and ctx.spec.promotion.approval == "required":
            from mlpublish.promotion.approval_rule import open_request

            # the request names who started the chain: the user who triggered the run, else its MLflow identity
            requester = getattr(context.get("dag_run"), "triggering_user_name", None)
            open_request(ctx.registry, ctx.spec.name, result.version, ctx.spec.promotion, requester)
        return result.to_json()


class PromoteModelOperator(PublishStepOperator):
    """promote: move ``champion`` if the candidate still beats it; otherwise the task is skipped with the reason
    (and the ``PromoteResult`` under XCom key ``refused``, for the notification callback).

    With ``promotion.mode: shadow`` and a champion, the candidate stays challenger: the task is skipped with the
    reason (``PromoteResult`` under XCom key ``shadow``) and the monitor DAG promotes it on live labels.

    With ``promotion.mode: manual`` or ``promotion.approval: required`` the DAG puts an ``ApprovalOperator``
    (human in the loop) before this task; it runs only on "Approve" and promotes the approved version (under
    ``approval: required`` as an approval by the responding Airflow user, checked against the request the
    register task recorded: never the user who triggered the run). XCom: ``PromoteResult``.
    """

    step = "promote"
    lineage_reads_tables = False
    operator_extra_links = (ModelVersionLink(), CatalogEntityLink())

    def run_step(self, ctx: Any, context: Context) -> Any:
        from mlpublish.results import EvaluateResult, RegisterResult, ValidateResult

        registration = self.upstream(context, "register", RegisterResult)
        if ctx.spec.promotion.needs_approval:
            return self._approved(ctx, context, registration)
        from mlpublish.steps import promote_challenger

        result = promote_challenger(
            ctx,
            self.upstream(context, "evaluate", EvaluateResult),
            self.upstream(context, "validate", ValidateResult),
            registration,
        )
        if result.shadow:  # challenger beside the champion, until it wins on live labels (the monitor DAG)
            context["ti"].xcom_push(key="shadow", value=result.to_json())
            raise ShadowChallenger(f"{ctx.spec.name}: {result.reason}")
        if not result.promoted:
            context["ti"].xcom_push(key="refused", value=result.to_json())  # for the notification callback
            raise PromotionRefused(f"{ctx.spec.name}: v{result.version} not promoted: {result.reason}")
        return self.champion_moved(ctx, context, result)

    def champion_moved(self, ctx: Any, context: Context, result: Any) -> Any:
        """The result as XCom, and the model asset's event: name, version and the held-out metrics."""
        from mlpublish_airflow.assets import emit, model_asset

        # the held-out metrics of this candidate, as the evaluate task of this run measured them
        metrics = (context["ti"].xcom_pull(task_ids=self.task_ids["evaluate"]) or {}).get("metrics") or {}
        extra = {"model": ctx.spec.name, "version": result.version, "metrics": metrics}
        emit(context, model_asset(ctx.spec), {**extra, "champion_before": result.champion_before})
        return result.to_json()

    def _approved(self, ctx: Any, context: Context, registration: Any) -> Any:
        from mlpublish.steps import promote_version

        if registration.version is None:
            raise PromotionRefused(f"{ctx.spec.name}: run {registration.run_id} has no registered version to promote")
        ti = context["ti"]
        approval = ti.xcom_pull(task_ids=self.task_ids["approve"]) or {}
        if "Approve" not in (approval.get("chosen_options") or []):
            raise PromotionRefused(
                f"{ctx.spec.name}: v{registration.version} was not approved in task {self.task_ids['approve']!r}"
            )
        user = approval.get("responded_by_user") or {}
        who = user.get("name") or user.get("id") or "an Airflow user"
        if ctx.spec.promotion.approval == "required":  # four eyes: checked against the request, recorded
            from mlpublish.promotion.approval import approve_version

            why = f"approved in Airflow ({ti.dag_id} run {ti.run_id})"
            result = approve_version(
                ctx.registry, ctx.catalog, ctx.spec.name, registration.version, reason=why, approver=who
            )
            return self.champion_moved(ctx, context, result)
        reason = f"approved by {who} in Airflow ({ti.dag_id} run {ti.run_id})"
        result = promote_version(ctx.registry, ctx.catalog, ctx.spec.name, registration.version, reason=reason)
        return self.champion_moved(ctx, context, result)
