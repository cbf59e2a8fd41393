"""Run promote_challenger in its own process (for the concurrency test).

argv: spec path, JSON file with the candidate's evaluate/validate/register results, start epoch.
Prints the PromoteResult as JSON.
"""

import json
import sys
import time

from mlpublish.deployment.context import PublishContext
from mlpublish.results import EvaluateResult, RegisterResult, ValidateResult
from mlpublish.spec import load_spec
from mlpublish.steps import promote_challenger


def main() -> None:
    spec_path, state_path, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    state = json.loads(open(state_path).read())
    ctx = PublishContext.create(load_spec(spec_path))
    evaluation = EvaluateResult.model_validate(state["evaluate"])
    validation = ValidateResult.model_validate(state["validate"])
    registration = RegisterResult.model_validate(state["register"])
    time.sleep(max(0.0, start - time.time()))
    result = promote_challenger(ctx, evaluation, validation, registration)
    print(json.dumps(result.to_json()))


if __name__ == "__main__":
    main()
