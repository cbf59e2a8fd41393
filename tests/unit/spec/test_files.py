"""Specs and environments files are regular files read with a hard bound (mlpublish.spec.files): a device, a
FIFO or a symlink out of the folder is refused at once, by name, without reading it. The timeout marks guard
against the old behaviour (reading /dev/zero for ever, blocking on a FIFO): they fail the test, never time it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlpublish.errors import SpecError
from mlpublish.spec import load_spec
from mlpublish.spec.environments import read_environments
from mlpublish.spec.files import read_user_file
from tests.conftest import churn_dict, write_spec

pytestmark = pytest.mark.timeout(60)


def _refusal(path: Path, **kwargs) -> tuple[str, str]:
    with pytest.raises(SpecError) as info:
        load_spec(path, **kwargs)
    assert str(path) in str(info.value)  # the file is named
    [(where, message)] = info.value.problems
    return where, message


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    where, message = _refusal(tmp_path / "zero.yaml")
    assert message.startswith("a symlink to /dev/zero, outside the folder")


def test_a_device_itself_is_refused_by_its_type():
    # the folder check does not apply when the device is read where it is: its type refuses it
    with pytest.raises(SpecError) as info:
        read_user_file("/dev/zero", 1 << 20)
    assert info.value.problems == [("<file>", "is a character device, not a regular file: refused")]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")  # no writer: a blocking open would wait for ever
    assert _refusal(tmp_path / "pipe.yaml") == ("<file>", "is a FIFO (named pipe), not a regular file: refused")


def test_a_symlink_out_of_the_folder_is_refused_and_one_inside_is_read(tmp_path):
    outside, folder = tmp_path / "elsewhere", tmp_path / "specs"
    outside.mkdir()
    folder.mkdir()
    write_spec(outside / "real.yaml", churn_dict())
    (folder / "out.yaml").symlink_to(outside / "real.yaml")
    where, message = _refusal(folder / "out.yaml")
    assert where == "<file>" and f"a symlink to {outside / 'real.yaml'}, outside the folder {folder}" in message
    (folder / "inner").mkdir()
    write_spec(folder / "inner" / "real.yaml", churn_dict())
    (folder / "alias.yaml").symlink_to(folder / "inner" / "real.yaml")
    assert load_spec(folder / "alias.yaml").name == load_spec(outside / "real.yaml").name


def test_the_bound_is_on_the_bytes_read_not_on_what_stat_says(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * 100 + b"\n")
    assert read_user_file(path, 104) == "a: " + "x" * 100 + "\n"
    with pytest.raises(SpecError) as info:
        read_user_file(path, 103)
    assert info.value.problems == [("<root>", "spec larger than 103 bytes (read stopped past it): refused")]


def test_the_environments_file_is_read_the_same_way(tmp_path):
    os.mkfifo(tmp_path / "environments.yaml")
    with pytest.raises(SpecError) as info:
        read_environments(tmp_path / "environments.yaml")
    assert info.value.problems == [("<file>", "is a FIFO (named pipe), not a regular file: refused")]
    # beside a spec, it is refused too, not taken for "no environments file"
    spec = write_spec(tmp_path / "s.yaml", churn_dict())
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert str(tmp_path / "environments.yaml") in str(info.value) and "FIFO" in str(info.value)
