"""Reading a file a user hands in (a spec, an environments file) without trusting what it is.

The file must be a regular file: a FIFO, a device (``ln -s /dev/zero zero.yaml``) or a socket is refused
without blocking (it is opened with ``O_NONBLOCK`` and its type taken from the open descriptor, so there is no
window between the check and the read). At most ``limit + 1`` bytes are ever read, whatever the file claims
to be. A symlink that resolves outside the folder holding it (the specs folder) is refused. Every refusal
is a :class:`~mlpublish.errors.SpecError` naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mlpublish.errors import SpecError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def outside_folder(path: Path) -> str | None:
    """Where ``path`` really is when it resolves outside its own folder (a symlink out), else None."""
    folder = os.path.realpath(path.parent)
    target = os.path.realpath(path)
    if os.path.commonpath([folder, target]) != folder:
        return target
    return None


def read_user_file(path: str | os.PathLike[str], limit: int, what: str = "spec") -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes; else a SpecError naming the file."""
    p = Path(path)
    name = str(p)

    def refuse(message: str) -> SpecError:
        return SpecError(name, [("<file>", message)], what)

    target = outside_folder(p)
    if target is not None:
        raise refuse(f"a symlink to {target}, outside the folder {p.parent}: refused")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode  # of what was opened: no window between this check and the read
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise refuse("is a directory, expected a YAML file")
        raise refuse(f"is {_kind(mode)}, not a regular file: refused")
    with os.fdopen(fd, "rb", buffering=0) as fh:
        try:
            data = _read_at_most(fh, limit + 1)
        except OSError as exc:
            raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:  # a spec's messages name this the <root>'s problem, as an oversized text's
        raise SpecError(name, [("<root>", f"{what} larger than {limit} bytes (read stopped past it): refused")], what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_at_most(fh: object, count: int) -> bytes:
    """Up to ``count`` bytes (a raw read may return fewer than asked before the end)."""
    chunks: list[bytes] = []
    left = count
    while left > 0:
        chunk = fh.read(left)  # type: ignore[attr-defined]
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
