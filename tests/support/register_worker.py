"""Run register_version in its own process (retry-race test).

argv: spec path, JSON file with train/evaluate/validate results, start epoch. Prints the RegisterResult.
"""

import json
import sys
import time

from mlpublish.deployment.context import PublishContext
from mlpublish.results import EvaluateResult, TrainResult, ValidateResult
from mlpublish.spec import load_spec
from mlpublish.steps import register_version


def main() -> None:
    spec_path, state_path, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    state = json.loads(open(state_path).read())
    ctx = PublishContext.create(load_spec(spec_path))
    args = (
        TrainResult.model_validate(state["train"]),
        EvaluateResult.model_validate(state["evaluate"]),
        ValidateResult.model_validate(state["validate"]),
    )
    time.sleep(max(0.0, start - time.time()))
    print(json.dumps(register_version(ctx, *args).to_json()))


if __name__ == "__main__":
    main()
