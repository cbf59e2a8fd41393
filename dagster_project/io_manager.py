"""Step results between assets as JSON files: small pydantic values, never pickled models.

The model itself stays in MLflow; a step in a fresh process reads it back from
there (the core does). A file per asset key, replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dagster import ConfigurableIOManager, InputContext, OutputContext

from mlpublish import results

RESULTS = "result_io_manager"  # the resource key every asset's result goes through (resources.py binds it)


def _result_types() -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(results).items()
        if isinstance(obj, type) and issubclass(obj, results._Result) and obj is not results._Result
    }


class ResultJsonIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, key_path: list[str]) -> Path:
        return Path(self.base_dir, *key_path).with_suffix(".json")

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if not isinstance(obj, results._Result):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected an mlpublish result, got {type(obj).__name__}"
            )
        path = self._path(list(context.asset_key.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump({"type": type(obj).__name__, "value": obj.to_json()}, fh, indent=2)
        os.replace(tmp, path)

    def load_input(self, context: InputContext) -> Any:
        key = context.asset_key
        path = self._path(list(key.path))
        if not path.exists():
            raise FileNotFoundError(f"{key.to_user_string()} has no stored result at {path}: materialize it first")
        data = json.loads(path.read_text())
        cls = _result_types().get(data.get("type"))
        if cls is None:
            raise TypeError(f"{path}: unknown result type {data.get('type')!r}")
        return cls.model_validate(data["value"])
