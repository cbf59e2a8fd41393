"""The bad-input corpus: the committed files of ``bad_specs/``, the generated ones, and what must be true of each."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parents[1] / "reliability" / "bad_specs"
MANIFEST: dict[str, dict[str, str]] = yaml.safe_load((CORPUS / "manifest.yaml").read_text())
CONTROL = CORPUS / "valid_control.yaml"
CANARY_MODULE = "bad_input_canary"


def load_stage() -> list[str]:
    """Cases the YAML loader itself refuses: the DAG factory and the Dagster code location see these."""
    return sorted(n for n, c in MANIFEST.items() if c["stage"] == "load")


def materialize(name: str, folder: Path) -> Path:
    """The case as a file in ``folder``: copied, or generated when too big or not UTF-8 to commit."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    kind = MANIFEST[name].get("generate")
    control = CONTROL.read_text()
    if kind is None:
        dest.write_bytes((CORPUS / name).read_bytes())
    elif kind == "huge":  # valid YAML, 2 MiB of description
        dest.write_text(control + "description: |\n" + ("  " + "x" * 98 + "\n") * 21_000)
    elif kind == "bomb":  # billion laughs: 12 levels of 10 aliases each (120 aliases)
        lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 13)]
        dest.write_text(control + "\n".join(lines) + "\n")
    elif kind == "deep":
        dest.write_text(control + "limitations: " + "[" * 50 + "x" + "]" * 50 + "\n")
    elif kind == "latin1":
        dest.write_bytes(control.encode() + "description: caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    else:
        raise AssertionError(f"unknown generator {kind!r} for {name}")
    return dest


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under ``root`` (but ``skip``) with its content hash: any write shows as a difference."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(skip):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def write_canary_module(folder: Path, marker: Path) -> None:
    """A module outside the allow-list that leaves ``marker`` behind if anything ever imports it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CANARY_MODULE}.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('imported')\n"
        "class Model:\n    def fit(self, X, y): return self\n    def predict(self, X): return X\n"
        "    def get_params(self, deep=True): return {}\n"
    )
