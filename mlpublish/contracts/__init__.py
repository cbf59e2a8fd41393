"""Data contracts: what a model's input rows must look like, learned from its training rows.

model (the contract's format: columns, rules, the JSON logged with the run), learn (infer a contract from the
training rows and the spec's stated rules), check (a chunk of rows against a contract: violations and the rows
that broke them), enforce (scoring.onContractViolation on a run's chunks: fail, warn or quarantine), diff (a
candidate's contract against the champion's, for validate), card (the model card's section).
"""

from mlpublish.contracts.model import (
    CONTRACT_ARTIFACT,
    CONTRACT_FORMAT,
    RULES,
    ColumnContract,
    DataContract,
    Rule,
    Violation,
)

__all__ = [
    "CONTRACT_ARTIFACT",
    "CONTRACT_FORMAT",
    "RULES",
    "ColumnContract",
    "DataContract",
    "Rule",
    "Violation",
]
