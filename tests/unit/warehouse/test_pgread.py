"""The binary COPY parser (mlpublish.warehouse.pgread) on streams encoded here, field by field, from the format's spec."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from mlpublish.warehouse.pgread import BadLayout, copy_frames, header_length, parse, plan

BOOL, INT2, INT4, INT8, FLOAT8, TEXT, VARCHAR, NUMERIC, DATE = 16, 21, 23, 20, 701, 25, 1043, 1700, 1082
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
PACK = {BOOL: ">?", INT2: ">h", INT4: ">i", INT8: ">q", FLOAT8: ">d"}


def row(oids: list[int], values: tuple) -> bytes:
    """One row as PostgreSQL sends it: field count, then (length, value) per field, -1 for NULL."""
    out = struct.pack(">h", len(oids))
    for oid, value in zip(oids, values, strict=True):
        if value is None:
            out += struct.pack(">i", -1)
        else:
            data = value.encode() if oid in (TEXT, VARCHAR) else struct.pack(PACK[oid], value)
            out += struct.pack(">i", len(data)) + data
    return out


OIDS = [INT8, INT4, INT2, FLOAT8, BOOL, TEXT]
NAMES = ["id", "i4", "i2", "x", "flag", "plan"]
ROWS = [
    (1, -7, 3, 0.1, True, "basic"),
    (2, 2_000_000_000, -32768, -1e300, False, "premium"),
    (9_000_000_000_000, 0, 5, float("inf"), True, ""),
    (4, 1, 1, 2.5, False, "Zürich ✓"),
]


def frame(columns: dict) -> pd.DataFrame:
    return pd.DataFrame(columns, columns=list(columns), copy=False)


def test_every_supported_type_round_trips_exactly():
    got = frame(parse([row(OIDS, r) for r in ROWS], OIDS, NAMES))
    expected = pd.DataFrame.from_records(ROWS, columns=NAMES)  # what the cursor path makes of the same tuples
    pd.testing.assert_frame_equal(got, expected)
    assert [str(got[c].dtype) for c in NAMES[:5]] == ["int64", "int64", "int64", "float64", "bool"]


def test_nulls_become_what_a_cursor_gives_pandas():
    rows = [(1, None, 2, None, None, None), (2, 5, None, 1.5, True, "basic"), (3, 6, 7, 2.5, False, None)]
    got = frame(parse([row(OIDS, r) for r in rows], OIDS, NAMES))
    pd.testing.assert_frame_equal(got, pd.DataFrame.from_records(rows, columns=NAMES))
    assert got["i4"].dtype == np.float64 and np.isnan(got["i4"][0])  # integers with a NULL: float64 and NaN
    assert got["flag"].tolist() == [None, True, False]
    assert pd.isna(got["plan"][0]) and got["plan"][1] == "basic"


def test_long_and_short_texts_and_empty_strings():
    oids, names = [INT8, VARCHAR], ["id", "note"]
    notes = ["", "x" * 500, None, "é" * 40, "x" * 500]
    got = frame(parse([row(oids, (i, n)) for i, n in enumerate(notes)], oids, names))
    assert [None if pd.isna(v) else v for v in got["note"]] == notes


def test_an_empty_chunk_has_the_columns_and_no_rows():
    got = parse([], OIDS, NAMES)
    assert list(got) == NAMES and all(len(v) == 0 for v in got.values())


def test_messages_that_are_not_one_row_each_are_walked():
    """Boundaries are a hint: two rows in one message, a row split in two, and the trailer glued on."""
    data = b"".join(row(OIDS, r) for r in ROWS)
    cut = len(row(OIDS, ROWS[0])) + 5
    messages = [data[:cut], data[cut:] + b"\xff\xff"]
    got = frame(parse(messages, OIDS, NAMES))
    pd.testing.assert_frame_equal(got, pd.DataFrame.from_records(ROWS, columns=NAMES))


@pytest.mark.parametrize(
    "bad",
    [
        row([INT8, INT8], (1, 2)),  # one field too many
        row([INT4], (1,)),  # a 4-byte value where 8 are expected
        struct.pack(">hi", 1, 100) + b"short",  # a length past the end
    ],
)
def test_bytes_that_are_not_such_rows_are_refused(bad):
    with pytest.raises(BadLayout):
        parse([bad], [INT8], ["id"])


def test_the_header_is_recognised_and_anything_else_refused():
    assert header_length(HEADER + b"rest") == 19
    assert header_length(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 4) + b"abcd") == 23
    with pytest.raises(BadLayout):
        header_length(b"id,plan\n1,basic\n")


def test_types_without_a_columnar_reading_keep_the_cursor_path():
    assert plan([INT8, TEXT, NUMERIC], [False, False, True]) == ["fixed", "text", "float8"]
    assert plan([NUMERIC], [False]) is None  # a NUMERIC key keeps its decimal values
    assert plan([DATE], [True]) is None


def stream(rows: list[tuple], per_message: bool = True) -> list[bytes]:
    body = [row(OIDS, r) for r in rows]
    return [HEADER + body[0], *body[1:], b"\xff\xff"] if body else [HEADER + b"\xff\xff"]


def test_frames_are_chunked_and_the_stream_is_read_whole():
    rows = [(i, i, i % 7, i / 3, i % 2 == 0, f"p{i % 3}") for i in range(23)]

    def run_copy(sink):
        write = sink.write  # psycopg2 looks the method up once
        for message in stream(rows):
            write(message)

    frames = list(copy_frames(run_copy, OIDS, NAMES, size=10))
    assert [len(f) for f in frames] == [10, 10, 3]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), pd.DataFrame.from_records(rows, columns=NAMES))
    assert list(copy_frames(lambda sink: [sink.write(m) for m in stream([])], OIDS, NAMES, size=10)) == []


def test_an_error_of_the_copy_reaches_the_reader_and_stopping_early_ends_the_copy():
    def failing(sink):
        for message in stream([(1, 1, 1, 1.0, True, "a")] * 5):
            sink.write(message)
        raise RuntimeError("division by zero")

    with pytest.raises(RuntimeError, match="division by zero"):
        list(copy_frames(failing, OIDS, NAMES, size=2))

    written = []

    def endless(sink):
        sink.write(HEADER + row(OIDS, (0, 1, 1, 1.0, True, "a")))
        while True:
            written.append(sink.write(row(OIDS, (1, 1, 1, 1.0, True, "a"))))

    frames = copy_frames(endless, OIDS, NAMES, size=3)
    assert len(next(frames)) == 3
    frames.close()  # joins the COPY's thread: it must stop, not block on the hand-off forever
    assert len(written) < 20
