"""MkDocs hook: links from the docs to repository files outside docs/ (bench/RESULTS.md, specs/churn.yaml,
screenshots) work both on GitHub and in the built site.

Pages link such files by their relative path in the repository (``../bench/RESULTS.md``), which is what
GitHub renders. For the site, this hook copies each linked file that exists under ``repo/<path>`` and
points the link there; a link to a file that does not exist is left alone, so ``mkdocs build --strict``
still fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

SITE_FOLDER = "repo"
# inline links and images: [text](target) / ![alt](target), with an optional #anchor
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s#]+)(#[^)\s]*)?\)")


def _outside_target(page_uri: str, target: str) -> str | None:
    """The repository path a link leaves docs/ for, or None for a link inside docs/ or to the web."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
        return None
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_uri), target))
    if not resolved.startswith("../") or resolved.startswith("../../"):
        return None
    return resolved[len("../") :]


def _repo_root(config: Any) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def on_files(files: Files, config: Any) -> Files:
    root = _repo_root(config)
    wanted: set[str] = set()
    for file in files.documentation_pages():
        for match in LINK.finditer(Path(file.abs_src_path).read_text(encoding="utf-8")):
            target = _outside_target(file.src_uri, match.group(2))
            if target and (root / target).is_file():
                wanted.add(target)
    for target in sorted(wanted):
        # linked from a page, so not expected in the nav (the nav may still list one)
        files.append(
            File.generated(
                config, f"{SITE_FOLDER}/{target}", abs_src_path=str(root / target), inclusion=InclusionLevel.NOT_IN_NAV
            )
        )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files, **_: Any) -> str:
    def relink(match: re.Match[str]) -> str:
        target = _outside_target(page.file.src_uri, match.group(2))
        if target is None or files.get_file_from_path(f"{SITE_FOLDER}/{target}") is None:
            return match.group(0)
        site_path = posixpath.relpath(f"{SITE_FOLDER}/{target}", posixpath.dirname(page.file.src_uri) or ".")
        return f"{match.group(1)}{site_path}{match.group(3) or ''})"

    return LINK.sub(relink, markdown)
