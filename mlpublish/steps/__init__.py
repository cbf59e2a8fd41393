"""The steps of the publish chain: plain functions, typed inputs, typed results.

train -> evaluate -> validate -> register -> promote, then score and monitor. Each can run in its own
process (an Airflow task, a Dagster asset) given the spec and the earlier
results; :func:`mlpublish.workflows.chain.run_chain` runs them all in one process.
Manual promotion and rollback (:mod:`mlpublish.promotion`) are exported here too:
the CLI and the adapters call them as steps.

Beside the step modules, score and monitor share :mod:`~mlpublish.steps.scoring_inputs` (the engine,
the scoring source, the champion); score predicts with :mod:`~mlpublish.steps.predictor` and records
its runs with :mod:`~mlpublish.steps.score_record`.

With ``promotion.mode: shadow`` the monitor is followed by :mod:`~mlpublish.steps.promote_live` (the challenger
promoted once it beats the champion on live labels).
"""

from mlpublish.promotion import promote_version, rollback_champion
from mlpublish.steps.evaluate import evaluate_model
from mlpublish.steps.monitor import monitor_drift
from mlpublish.steps.promote import promote_challenger
from mlpublish.steps.register import register_version
from mlpublish.steps.score import score_batch
from mlpublish.steps.train import train_model
from mlpublish.steps.validate import validate_candidate

__all__ = [
    "train_model",
    "evaluate_model",
    "validate_candidate",
    "register_version",
    "promote_challenger",
    "promote_version",
    "rollback_champion",
    "score_batch",
    "monitor_drift",
]
