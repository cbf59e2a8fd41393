"""Columnar reads from PostgreSQL: ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` parsed by numpy, column by column.

A server-side cursor hands the rows over as Python tuples (one object per value) that pandas then turns back
into columns: most of a scoring run's time went there. The binary COPY stream holds each value as a
(big-endian length, bytes) pair; PostgreSQL sends one CopyData message per row, so the row starts are known
and numpy gathers a whole column of a chunk at once. The message boundaries are only a hint: every chunk is
checked (field count at each row start, each row ending where the next begins) and, if a driver ever
merged messages, the rows are found by walking the buffer instead.

Values come out as the driver's tuples would make them in a DataFrame: integers as int64 (float64 with NaN
where some are NULL), floats as float64, booleans as bool (object with None where some are NULL), text as
str objects (None for NULL). Columns of other types are either cast server-side (NUMERIC numerical features
to float8: what ``prepare_features`` makes of them anyway) or make :func:`plan` return None: the caller then
keeps the cursor path.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

# type OID -> (numpy big-endian dtype, width); text types are decoded as UTF-8
_FIXED = {16: ("u1", 1), 21: (">i2", 2), 23: (">i4", 4), 20: (">i8", 8), 701: (">f8", 8)}
_TEXT = {25, 1043, 1042, 19}  # text, varchar, char(n), name
_NUMERIC = 1700
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_TRAILER = b"\xff\xff"
_SHORT_TEXT = 64  # longer text columns are sliced row by row: a byte matrix would hold n x longest


class BadLayout(ValueError):
    """The bytes are not rows of the expected columns at the expected places."""


def plan(oids: list[int], numerical: list[bool]) -> list[str] | None:
    """How each column is read ('fixed', 'text' or 'float8' for a server-side cast), or None if one cannot be.

    ``numerical[i]`` says column i is a numerical feature (never a key or a categorical): only those may be
    cast, since the model sees them as float64 anyway.
    """
    how = []
    for oid, num in zip(oids, numerical, strict=True):
        if oid in _FIXED:
            how.append("fixed")
        elif oid in _TEXT:
            how.append("text")
        elif oid == _NUMERIC and num:
            how.append("float8")
        else:
            return None
    return how


def copy_sql(select: str, columns: list[str], how: list[str], quote: Callable[[str], str]) -> str:
    """The COPY statement reading ``columns`` of ``select`` (casting where ``how`` says so)."""
    cols = ", ".join(f"{quote(c)}::float8" if h == "float8" else quote(c) for c, h in zip(columns, how, strict=True))
    return f"COPY (SELECT {cols} FROM ({select}) mlp_c) TO STDOUT (FORMAT binary)"


def header_length(data: bytes) -> int:
    """Length of the binary COPY header at the start of ``data``."""
    if len(data) < 19 or not data.startswith(_SIGNATURE):
        raise BadLayout("not a binary COPY stream (no PGCOPY signature)")
    (extension,) = struct.unpack_from(">i", data, 15)
    return 19 + extension


def _gather(u8: Any, pos: Any, width: int, dtype: str) -> Any:
    """The ``width``-byte big-endian values at offsets ``pos`` of the byte array ``u8``, as native numbers."""
    import numpy as np

    if len(pos) and (pos.min() < 0 or pos.max() + width > len(u8)):
        raise BadLayout("a field runs past the end of the data")
    cells = u8[pos[:, None] + np.arange(width)]
    return cells.view(dtype).ravel().astype(dtype.lstrip("<>"))


def _texts(u8: Any, start: Any, length: Any, null: Any) -> Any:
    """Object array of the UTF-8 texts at ``start`` of ``length`` bytes (None where ``null``)."""
    import numpy as np

    n = len(start)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    longest = int(length.max())
    if longest > _SHORT_TEXT:
        raw = u8.tobytes()
        out[:] = [None if z else raw[s : s + n_].decode() for s, n_, z in zip(start, length, null, strict=True)]
        return out
    if longest == 0:
        out[:] = ""
    else:
        # a (rows x longest) byte matrix read as fixed-width bytes: PostgreSQL text never holds a NUL byte,
        # so numpy's dropping of trailing NULs is exact; the distinct values are decoded once
        offsets = np.arange(longest)
        inside = offsets < length[:, None]
        cells = np.where(inside, u8[np.where(inside, start[:, None] + offsets, 0)], 0).astype(np.uint8)
        fixed = np.ascontiguousarray(cells).view(f"S{longest}").ravel()
        distinct, inverse = np.unique(fixed, return_inverse=True)
        decoded = np.empty(len(distinct), dtype=object)
        decoded[:] = [d.decode() for d in distinct]
        out[:] = decoded[inverse.ravel()]
    out[null] = None
    return out


def walk(buf: bytes, ncols: int) -> tuple[list[int], int]:
    """Row starts of ``buf`` found field by field, and where the rows end (before a trailer, if any).

    Slow (Python per field): only for when the message boundaries are not rows.
    """
    starts, pos = [], 0
    end = len(buf) - 2 if buf.endswith(_TRAILER) else len(buf)
    while pos < end:
        starts.append(pos)
        if pos + 2 > end or struct.unpack_from(">h", buf, pos)[0] != ncols:
            raise BadLayout(f"a row at byte {pos} does not have {ncols} fields")
        pos += 2
        for _ in range(ncols):
            if pos + 4 > end:
                raise BadLayout("a field runs past the end of the data")
            (length,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + max(length, 0)
    if pos != end:
        raise BadLayout("the last row runs past the end of the data")
    return starts, end


def parse(messages: list[bytes], oids: list[int], names: list[str]) -> dict[str, Any]:
    """Columns (name -> numpy array) of the rows in ``messages`` (one row per message, header and trailer removed).

    The rows are checked against the message boundaries; if they do not match, the rows are found by
    :func:`walk` in the concatenated bytes. Raises BadLayout when the bytes are not such rows at all.
    """
    import numpy as np

    buf = b"".join(messages)
    lengths = np.array(list(map(len, messages)), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(messages) else np.zeros(0, np.int64)
    try:
        return _columns(buf, starts, starts + lengths, oids, names)
    except BadLayout:
        rows, end = walk(buf, len(oids))
        found = np.asarray(rows, dtype=np.int64)
        ends = np.append(found[1:], end).astype(np.int64) if len(found) else found
        return _columns(buf, found, ends, oids, names)


def _columns(buf: bytes, starts: Any, ends: Any, oids: list[int], names: list[str]) -> dict[str, Any]:
    import numpy as np

    u8 = np.frombuffer(buf, dtype=np.uint8)
    if len(starts) and (_gather(u8, starts, 2, ">i2") != len(oids)).any():
        raise BadLayout(f"a row does not have {len(oids)} fields")
    pos = starts + 2
    out: dict[str, Any] = {}
    for name, oid in zip(names, oids, strict=True):
        length = _gather(u8, pos, 4, ">i4").astype(np.int64)
        null = length < 0
        start = pos + 4
        if oid in _FIXED:
            dtype, width = _FIXED[oid]
            if (length[~null] != width).any():
                raise BadLayout(f"column {name!r}: a value is not {width} bytes long")
            values = _gather(u8, np.where(null, 0, start), width, dtype)
            values = values.astype(bool if oid == 16 else np.int64 if oid in (20, 21, 23) else np.float64, copy=False)
            if null.any():
                values = values.astype(object if oid == 16 else np.float64)
                values[null] = None if oid == 16 else np.nan
            out[name] = values
        else:
            if (length < -1).any() or (start + np.maximum(length, 0) > ends).any():
                raise BadLayout(f"column {name!r}: a text runs past its row")
            out[name] = _texts(u8, start, np.maximum(length, 0), null)
        pos = start + np.maximum(length, 0)
    if (pos != ends).any():
        raise BadLayout("a row does not end where the next one starts")
    return out


class _Stopped(Exception):
    """The consumer is gone: the COPY is abandoned."""


def copy_frames(run_copy: Callable[[Any], None], oids: list[int], names: list[str], size: int) -> Iterator[Any]:
    """DataFrames of at most ``size`` rows, parsed in a thread of their own while the COPY streams.

    ``run_copy(sink)`` runs the COPY, calling ``sink.write(data)`` with each message the server sends, as
    bytes (psycopg2's ``copy_expert`` does so; for psycopg 3 the caller loops over ``copy``). One parsed chunk
    waits at most, so memory holds about two chunks whatever the table's size; a consumer that stops
    early ends the COPY (the connection must then be discarded).
    """
    import pandas as pd

    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    class Sink:
        """Collects the messages: the first one (the header) is checked, then a row costs an append."""

        def __init__(self) -> None:
            self.rows: list[bytes] = []
            self.header = True

        def write(self, data: bytes) -> None:
            if self.header:
                if stop.is_set():
                    raise _Stopped
                self.header = False
                data = data[header_length(data) :]
                if not data:
                    return
            rows = self.rows
            rows.append(data)
            if len(rows) >= size:
                self.flush()

        def flush(self) -> None:
            rows, self.rows = self.rows, []
            if rows and rows[-1] == _TRAILER:
                rows.pop()
            if rows:
                put(pd.DataFrame(parse(rows, oids, names), columns=names, copy=False))

    def produce() -> None:
        try:
            sink = Sink()
            run_copy(sink)
            sink.flush()
            put(done)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the consumer, which raises it
            try:
                put(exc)
            except _Stopped:
                pass

    worker = threading.Thread(target=produce, name="mlp-copy-read", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def pg_frames(dbapi: Any, select: str, columns: list[str], castable: set[str], size: int, quote: Any) -> Any:
    """DataFrames of ``select``'s ``columns`` through a binary COPY on ``dbapi`` (psycopg2 or psycopg 3), or None.

    None when a column's type has no columnar reading here or the connection's encoding is not UTF-8:
    the caller then reads through a cursor. ``castable`` columns (numerical features, not keys) may be
    cast to float8 server-side. The column types are asked at once; the COPY starts with the first frame.
    """
    encoding = getattr(dbapi, "encoding", None) or getattr(getattr(dbapi, "info", None), "encoding", "")
    if str(encoding).upper().replace("-", "").replace("_", "") not in ("UTF8", "SQLASCII"):
        return None
    with dbapi.cursor() as cur:
        cur.execute(f"SELECT * FROM ({select}) mlp_t LIMIT 0")
        oids = [int(d.type_code) for d in cur.description]
    how = plan(oids, [c in castable for c in columns])
    if how is None:
        return None
    oids = [701 if h == "float8" else oid for oid, h in zip(oids, how, strict=True)]
    sql = copy_sql(select, columns, how, quote)

    def run_copy(sink: Any) -> None:
        with dbapi.cursor() as cur:
            if hasattr(cur, "copy_expert"):  # psycopg2 calls sink.write once per message
                cur.copy_expert(sql, sink, size=1 << 20)
            else:  # psycopg 3
                with cur.copy(sql) as copy:
                    for data in copy:
                        sink.write(bytes(data))

    return copy_frames(run_copy, oids, columns, size)
