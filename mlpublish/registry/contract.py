"""The MLflow contract: every alias, tag key, artifact path and validation state mlpublish writes or reads.

Other processes read these names back (an Airflow task reads what another task
wrote, a copy into another environment reads the source's runs, the Dagster
sensor reads the monitor's decision), so they are data formats: change one only
with a migration for the runs and versions already recorded under it.
The lock's registered-model prefix belongs to the lock protocol, not here.
"""

from __future__ import annotations

# Aliases of a registered model (no registry stages: they are deprecated).
CHAMPION = "champion"
CHALLENGER = "challenger"

# Validation status: a tag on the candidate's run and on its registered version.
VALIDATION_TAG = "model_validation_status"
PENDING = "PENDING"
PASSED = "PASSED"
FAILED = "FAILED"
VALIDATION_STATES = (PENDING, PASSED, FAILED)

# Registered-model tags ---------------------------------------------------------
HISTORY_TAG = "mlpublish.champion_history"  # JSON list of champion moves, newest last
PREVIOUS_TAG = "mlpublish.previous_champion"
CATALOG_FQN_TAG = "mlpublish.catalog_fqn"  # the model's entity in the catalog

# Model-version tags --------------------------------------------------------------
RUN_ID_TAG = "mlpublish.run_id"
METRICS_TAG = "mlpublish.metrics"  # JSON: the candidate's held-out metrics
COMPARED_CHAMPION_TAG = "mlpublish.compared_champion"  # also on the run
CHAMPION_SINCE_TAG = "mlpublish.champion_since"
ROLLED_BACK_AT_TAG = "mlpublish.rolled_back_at"
# On a version copied from another environment: the run whose catalog events name it in this one
CATALOG_RUN_TAG = "mlpublish.catalog_run"
COPIED_FROM_TAG = "mlpublish.copied_from"  # env:model/version; also on the copy run

# Run tags (a few also on versions) ---------------------------------------------
MODEL_TAG = "mlpublish.model"
STEP_TAG = "mlpublish.step"  # score, monitor
SPEC_TAG = "mlpublish.spec"
TASK_TAG = "mlpublish.task"
TRAINING_FQN_TAG = "mlpublish.training_fqn"
SELECT_BY_TAG = "mlpublish.select_by"  # set on training runs only: how readers tell them apart
DATASET_DIGEST_TAG = "mlpublish.dataset_digest"
DATA_TIME_MIN_TAG = "mlpublish.data_time_min"
DATA_TIME_MAX_TAG = "mlpublish.data_time_max"
SPLIT_TAG = "mlpublish.split"  # what decides the held-out rows (see steps.train.split_signature)
CHECK_TAG_PREFIX = "mlpublish.check."  # one tag per validation check
PIPELINE_TAG_PREFIX = "mlpublish.pipeline."  # the orchestrator run (DAG or job, run id)
ENVIRONMENT_TAG = "mlpublish.environment"
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own tag: the UI links it
GIT_DIRTY_TAG = "mlpublish.git_dirty"
SOURCE_NAME_TAG = "mlflow.source.name"
COPIED_FROM_RUN_TAG = "mlpublish.copied_from.run_id"
COPY_COMPLETE_TAG = "mlpublish.copy_complete"
SCORING_RUN_TAG = "mlpublish.scoring_run_id"
CHAMPION_VERSION_TAG = "mlpublish.champion_version"  # the version a scoring or monitor run used
CHALLENGER_VERSION_TAG = "mlpublish.challenger_version"  # scoring.shadow: the challenger a scoring run also used
PREDICTIONS_FQN_TAG = "mlpublish.predictions_fqn"
DRIFT_TAG = "mlpublish.drift"
RETRAIN_TAG = "mlpublish.retrain"
REASONS_TAG = "mlpublish.retrain.reasons"

# Metric names: the evaluate step writes them, the monitor compares with them.
TEST_METRIC_PREFIX = "test_"
CHAMPION_TEST_METRIC_PREFIX = "champion_test_"

# Artifact paths on runs ------------------------------------------------------------
MODEL_NAME_IN_RUN = "model"
HOLDOUT_ARTIFACT = "data/holdout.parquet"
# The slice and sensitive columns of the held-out rows (validation.slices, validation.fairness), same row order:
# kept apart from the features so that no model ever sees a column it was not trained on.
HOLDOUT_GROUPS_ARTIFACT = "data/holdout_groups.parquet"
EVALUATION_IMPORTANCES_ARTIFACT = "evaluation/importances.json"
# What the monitor step compares current features with: a seeded sample of the training rows.
REFERENCE_ARTIFACT = "data/reference.parquet"
CANDIDATES_FOLDER = "training"  # candidates.json: every candidate of the search
EVALUATION_FOLDER = "evaluation"
EVALUATION_METRICS_ARTIFACT = f"{EVALUATION_FOLDER}/metrics.json"
VALIDATION_FOLDER = "validation"  # checks.json
# The run's MlModel entity and lineage, published when its version becomes champion
CATALOG_EVENTS_ARTIFACT = "catalog/events.json"
CARD_FOLDER = "model_card"
CARD_MARKDOWN = f"{CARD_FOLDER}/model_card.md"
CARD_HTML = f"{CARD_FOLDER}/model_card.html"
DRIFT_REPORT_ARTIFACT = "monitoring/drift.json"

# Four-eyes approval (mlpublish.promotion.approval): the rule on the registered model, the request on the version.
APPROVAL_RULE_TAG = "mlpublish.approval.rule"  # model: "required" while the spec requires approval
APPROVERS_TAG = "mlpublish.approval.approvers"  # model: comma-separated user names; empty: MLflow's MANAGE decides
APPROVAL_TAG = "mlpublish.approval"  # version: PENDING (requested) / APPROVED / PROMOTED (moved on that approval)
APPROVAL_PENDING = "PENDING"
APPROVAL_APPROVED = "APPROVED"
APPROVAL_PROMOTED = "PROMOTED"
REQUESTED_BY_TAG = "mlpublish.approval.requested_by"  # version: the identity that registered it
REQUESTED_AT_TAG = "mlpublish.approval.requested_at"
APPROVED_BY_TAG = "mlpublish.approval.approved_by"
APPROVED_AT_TAG = "mlpublish.approval.approved_at"
APPROVAL_REASON_TAG = "mlpublish.approval.reason"

# Live metrics (monitoring.labels): one run per (window, role, model version), read by promotion.mode: shadow
# (see mlpublish.registry.live_metrics).
LIVE_STEP = "live"  # its STEP_TAG
LIVE_WINDOW_START_TAG = "mlpublish.live.window_start"  # ISO-8601 UTC
LIVE_WINDOW_END_TAG = "mlpublish.live.window_end"
LIVE_ROLE_TAG = "mlpublish.live.role"  # champion | challenger
LIVE_VERSION_TAG = "mlpublish.live.version"
LIVE_MODEL_TAG = "mlpublish.model_name"  # spec.name
LIVE_METRIC_PREFIX = "live_"  # live_<metric of evaluation.metrics>
LIVE_ROWS_METRIC = "labelled_rows"
# Promotion on live labels (promotion.mode: shadow, mlpublish.promotion.shadow) ---------------------------
# Version: SHADOWING while a challenger scores beside the champion, WON once the live decision says so (an
# approval, when required, is refused before), PROMOTED once it moved on that decision.
SHADOW_TAG = "mlpublish.shadow"
SHADOWING = "SHADOWING"
SHADOW_WON = "WON"
SHADOW_PROMOTED = "PROMOTED"
SHADOW_DECISION_TAG = "mlpublish.shadow.decision"  # version: the last decision's one-line summary
SHADOW_EVIDENCE_TAG = "mlpublish.shadow.evidence"  # version: the winning decision's evidence (compact JSON)
LIVE_EVIDENCE_ARTIFACT = "promotion/live_evidence.json"  # on the version's training run: the whole evidence
