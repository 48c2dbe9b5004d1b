"""Property-based tests (Hypothesis): parsers and validators meet arbitrary input and answer with
a result or their own error type, never anything else, and within a time bound.

`make test` uses the fast profile (conftest.py); `HYPOTHESIS_PROFILE=nightly` runs 50x more
examples of each (minutes, for a nightly job).
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from sgdlab import LinRegConfig, MnistConfig, OptimizerSpec, SurfaceConfig
from sgdlab.core.errors import ConfigError, DataError
from sgdlab.linreg.data import read_csv
from sgdlab.mnist import idx
from sgdlab.surface.expr import compile_expression
from sgdlab.sweep.grid import SweepSpec

TIME_BOUND_S = 5.0  # generous: the machine is shared; a hang would take far longer


def bounded(fn, *args):
    began = time.perf_counter()
    try:
        return fn(*args)
    finally:
        assert time.perf_counter() - began < TIME_BOUND_S, f"{fn.__name__} took too long"


# -- the CSV reader -------------------------------------------------------------------------------

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=6))


@given(st.binary(max_size=400))
def test_csv_reader_on_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes(data)
    try:
        table = bounded(read_csv, path)
    except DataError:
        return
    assert table.x.shape[0] == table.y.shape[0] >= 2 and np.isfinite(table.x).all()


@given(st.lists(st.lists(cells, min_size=1, max_size=5), min_size=1, max_size=8),
       st.sampled_from(["", ".gz"]), st.sampled_from([",", ";", "\t"]))
def test_csv_reader_on_tables_of_random_cells(tmp_path_factory, rows, suffix, sep):
    text = "\n".join(sep.join(row) for row in rows) + "\n"
    data = gzip.compress(text.encode("utf-8")) if suffix else text.encode("utf-8")
    path = tmp_path_factory.mktemp("csv") / f"f.csv{suffix}"
    path.write_bytes(data)
    try:
        table = bounded(read_csv, path)
    except DataError as exc:
        assert all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        return
    assert len(table.x_names) == table.x.shape[1] and np.isfinite(table.y).all()


# -- the IDX reader -------------------------------------------------------------------------------

def _valid_idx(count=3, rows=4, cols=5) -> bytes:
    return idx.encode(np.arange(count * rows * cols, dtype=np.uint8).reshape(count, rows, cols))


@given(st.binary(max_size=300))
def test_idx_parse_on_arbitrary_bytes(data):
    try:
        array = bounded(idx.parse, data, "fuzz")
    except DataError:
        return
    assert array.size * array.itemsize == len(data) - 4 - 4 * array.ndim


@given(st.binary(min_size=1, max_size=300), st.sampled_from(["x-idx3-ubyte", "x-idx3-ubyte.gz"]))
def test_idx_read_on_arbitrary_files(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("idx") / name
    path.write_bytes(data)
    with pytest.raises(DataError) if not data.startswith(b"\x00\x00\x08\x03") else _maybe():
        bounded(idx.read_images, path)


@given(st.integers(min_value=0), st.booleans())
def test_every_truncation_of_a_valid_file_is_refused(cut, gzipped):
    whole = _valid_idx()
    data = gzip.compress(whole, mtime=0) if gzipped else whole
    cut = cut % len(data)  # a strict prefix
    with pytest.raises(DataError):
        bounded(idx.parse, idx_bytes(data[:cut]), "cut")


def idx_bytes(data: bytes) -> bytes:
    """What read_bytes would hand to parse (gunzipped when it is gzip), via a file."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data if data else b"\x00")
        return idx.read_bytes(path)


class _maybe:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is None or issubclass(kind, DataError)


# -- the expression evaluator ----------------------------------------------------------------------

ATOMS = st.one_of(st.sampled_from(["x", "y", "pi", "e", "z", "foo", "__import__", "True", "'s'"]),
                  st.floats(allow_nan=False, allow_infinity=False).map(repr),
                  st.integers(min_value=-10**30, max_value=10**30).map(str))
FUNCTIONS = ["sin", "exp", "log", "sqrt", "atan2", "abs", "sigmoid", "open", "eval", "print"]


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "%", "//", "@", "^", "<", "and"]),
                       children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    unary = st.tuples(st.sampled_from(["-", "+", "~", "not "]), children).map(lambda t: f"{t[0]}{t[1]}")
    call = st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")
    other = st.tuples(children, st.sampled_from([".real", "[0]", ".__class__"])).map("".join)
    return st.one_of(binary, unary, call, other, children.map(lambda c: f"lambda: {c}"))


EXPRESSIONS = st.recursive(ATOMS, _combine, max_leaves=25)


def _evaluate(text: str):
    expression = compile_expression(text)
    point = torch.tensor([0.3, -1.7], dtype=torch.float64)
    return expression(point[0], point[1])


@given(EXPRESSIONS)
def test_expression_trees_give_a_value_or_a_config_error(text):
    try:
        value = bounded(_evaluate, text)
    except ConfigError as exc:
        assert len(exc.problems) == 1 and "\n" not in exc.problems[0]
        return
    assert isinstance(value, torch.Tensor) and value.dtype == torch.float64


@given(st.text(max_size=80))
def test_random_strings_give_a_value_or_a_config_error(text):
    try:
        value = bounded(_evaluate, text)
    except ConfigError:
        return
    assert isinstance(value, torch.Tensor)


@given(st.text(alphabet="xy0123456789.+-*/()^e ", max_size=60))
def test_strings_from_the_expression_alphabet(text):
    try:
        value = bounded(_evaluate, text)
    except ConfigError:
        return
    assert math.isnan(float(value)) or isinstance(float(value), float)


# -- the config validators -------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.lists(st.one_of(st.integers(-5, 10**12), st.floats(), st.text(max_size=3)), max_size=4),
    st.tuples(st.floats(), st.floats()), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def configs(draw, cls, fixed=None):
    fixed = dict(fixed or {})
    names = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
    required = [f.name for f in dataclasses.fields(cls) if f.name not in fixed
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names))) if names else []
    chosen = sorted(set(chosen) | set(required))
    values = {name: draw(ANY_VALUE) for name in chosen}
    if "optimizer" in values:
        spec_fields = [f.name for f in dataclasses.fields(OptimizerSpec)]
        values["optimizer"] = OptimizerSpec(**{n: draw(ANY_VALUE) for n in spec_fields if draw(st.booleans())})
    return cls(**(values | fixed))


@pytest.mark.parametrize("strategy", [
    configs(LinRegConfig, {"plots": False}),
    configs(MnistConfig, {"plots": False}),
    configs(SurfaceConfig, {"plots": False}),
    configs(SweepSpec, {"problem": "linreg"}),
], ids=["linreg", "mnist", "surface", "sweep"])
def test_config_validators_accept_or_raise_config_error(strategy):
    @given(strategy)
    def check(config):
        try:
            bounded(config.validate)
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) for p in exc.problems)

    check()
