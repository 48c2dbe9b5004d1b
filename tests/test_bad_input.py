"""Bad input: one `error: ...` line per problem, exit code 2, nothing recorded."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_module


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def errors_of(result):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and all(l.startswith("error: ") for l in lines), result.stderr
    assert "Traceback" not in result.stderr
    return lines


def assert_nothing_recorded(cli):
    assert cli.json("runs")["runs"] == []


@pytest.mark.parametrize(
    "content,expected",
    [
        (None, "does not exist"),
        ("", "is empty"),
        ("x,y\n", "has 0 data row(s)"),
        ("x,y\n1,2\n", "has 1 data row(s)"),
        ("x,y\n1,2\n3,abc\n4,5\n", "data row 2 (line 3), column 'y': 'abc' is not a number"),
        ("x,y\n1,2\nnan,3\n4,5\n", "data row 2 (line 3), column 'x': 'nan' is not a finite number"),
        ("x,y\n1,2\n3,inf\n4,5\n", "column 'y': 'inf' is not a finite number"),
        ("x,y\n1,2\n3,\n4,5\n", "column 'y': '' is not a number"),
    ],
)
def test_bad_csv(cli, tmp_path, content, expected):
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    lines = errors_of(cli("linreg", "--csv", path))
    assert any(expected in l and path in l for l in lines), lines
    assert_nothing_recorded(cli)


def test_unknown_column_lists_the_existing_ones(cli, tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    lines = errors_of(cli("linreg", "--csv", path, "--x", "a,zz", "--y", "c"))
    assert lines == [f"error: {path}: no column 'zz'; the columns are: a, b, c"]


def test_every_bad_hyperparameter_is_reported_at_once(cli):
    lines = errors_of(cli("linreg", "--lr", "0", "--steps", "0", "--batch-size", "0"))
    assert lines == [
        "error: --lr must be a finite number > 0, got 0.0",
        "error: --steps must be >= 1, got 0",
        "error: --batch-size must be >= 1, got 0",
    ]
    errors_of(cli("linreg", "--lr", "nan"))
    errors_of(cli("linreg", "--epochs", "0"))
    assert_nothing_recorded(cli)


def test_batch_size_larger_than_the_data(cli):
    lines = errors_of(cli("linreg", "--batch-size", "16"))
    assert "larger than the data set (15 rows)" in lines[0]


def test_unknown_optimizer_lists_the_valid_ones(cli):
    lines = errors_of(cli("linreg", "--optimizer", "nope"))
    assert "unknown optimizer 'nope'" in lines[0] and "sgd" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_store_non_root(cli, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    errors_of(cli("linreg", "--store", str(folder / "sub" / "runs.db")))


def test_unwritable_store(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    lines = errors_of(cli("linreg", "--store", str(blocker / "runs.db")))
    assert lines == [f"error: the run store (--store or $SGDLAB_STORE): {blocker / 'runs.db'} "
                     f"cannot be created: {blocker} is a file, not a folder"]
    assert not list(tmp_path.glob("store/*/fit_*.png"))


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    result = run_module("linreg", "--csv", str(tmp_path / "nope.csv"), "--json")
    assert result.returncode == 2
    # with --json a script still gets one document: the errors
    assert json.loads(result.stdout) == {"status": "error", "errors": [result.stderr[7:].strip()]}
    assert result.stderr.startswith("error: CSV file ") and "Traceback" not in result.stderr
