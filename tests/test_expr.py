"""The safe evaluator: right values and gradients (torch as the oracle), hostile input refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sgdlab.core.errors import ConfigError
from sgdlab.surface.expr import FUNCTIONS, MAX_LENGTH, compile_expression

# numbers compared to a tolerance or bit for bit: `make test-numeric` runs these on every kernel path
pytestmark = pytest.mark.numeric

X = torch.tensor([0.3, -1.2, 2.5], dtype=torch.float64)
Y = torch.tensor([0.7, 0.4, -0.9], dtype=torch.float64)

CASES = [  # (expression, the same function written in torch)
    ("x**2 + 3*sin(y)", lambda x, y: x**2 + 3 * torch.sin(y)),
    ("-x + +y - 2/x*y", lambda x, y: -x + y - 2 / x * y),
    ("2**x * exp(-y) / (1 + abs(x))", lambda x, y: 2**x * torch.exp(-y) / (1 + torch.abs(x))),
    ("x**-2 + (y**2)**0.5**2", lambda x, y: x**-2 + (y**2) ** 0.25),
    ("atan2(y, x) + tanh(x*y) + pi*e", lambda x, y: torch.atan2(y, x) + torch.tanh(x * y) + math.pi * math.e),
    ("log(1 + x**2) + sqrt(1 + y**2) + cosh(y) - sigmoid(x)",
     lambda x, y: torch.log(1 + x**2) + torch.sqrt(1 + y**2) + torch.cosh(y) - torch.sigmoid(x)),
    ("  1e-3 * x * y", lambda x, y: 1e-3 * x * y),
]


@pytest.mark.parametrize("text,oracle", CASES)
def test_values_and_gradients_match_torch(text, oracle):
    x = X.clone().requires_grad_(True)
    y = Y.clone().requires_grad_(True)
    ours = compile_expression(text)(x, y)
    gx, gy = torch.autograd.grad(ours.sum(), [x, y])
    x2 = X.clone().requires_grad_(True)
    y2 = Y.clone().requires_grad_(True)
    theirs = oracle(x2, y2)
    tx, ty = torch.autograd.grad(theirs.sum(), [x2, y2])
    # the evaluator calls the same torch functions in the same order as the oracle; only the
    # transcendental kernels (<= 1 ulp, SLEEF or libm by kernel path) may round differently: a
    # dozen operations of a few eps each is < 1e-14, and 1e-12 (4,500 eps) leaves room for
    # cancellation in the sums of terms of size ~10
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, tx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gy, ty, rtol=1e-12, atol=1e-12)


def test_power_is_right_associative_like_python():
    e = compile_expression("2**3**2")
    assert float(e(X, Y)) == 2.0**9


@pytest.mark.parametrize("caret,stars", [("x^2", "x**2"), ("-x^2 + 2^3^2", "-x**2 + 2**3**2"),
                                         ("x^2*y^-1", "x**2*y**-1"), ("(x + y)^0.5^2", "(x + y)**0.5**2")])
def test_caret_is_power_with_the_same_precedence(caret, stars):
    # the same tree as with **: the values are bit for bit the same
    torch.testing.assert_close(compile_expression(caret)(X, Y), compile_expression(stars)(X, Y),
                               rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("text,message", [
    ("x^^2", "syntax error at column 3 (x^>>^2)"),  # the second ^, as the user wrote it
    ("x^2 + foo(y)", "unknown function 'foo' at column 7 (x^2 + >>foo(y))"),
    ("x^2 +* y", "syntax error at column 6 (x^2 +>>* y)"),
    ("y^2^3 % 2", "operator '%' is not allowed at column 7 (y^2^3 >>% 2)"),
    ("x^", "syntax error at column 3 (at the end of 'x^')"),
])
def test_errors_after_a_caret_point_at_the_users_column(text, message):
    with pytest.raises(ConfigError) as info:
        compile_expression(text)
    assert message in str(info.value)


HOSTILE = [
    ("__import__('os').system('touch PWNED')", "attribute access ('.system') is not allowed at column 18"),
    ("__import__('os')", "unknown function '__import__'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('open(\"PWNED\", \"w\")')", "unknown function 'exec'"),
    ("open('PWNED', 'w')", "unknown function 'open'"),
    ("x.__class__", "attribute access is not allowed at column 3"),
    ("(lambda: 1)()", "a lambda is not allowed"),
    ("lambda x: x", "a lambda is not allowed at column 1"),
    ("[x for x in (1, 2)]", "a comprehension is not allowed"),
    ("sum(i for i in (1, 2))", "unknown function 'sum'"),
    ("x[0]", "a subscript ([...]) is not allowed"),
    ("z + 1", "unknown name 'z' at column 1"),
    ("x + y + os", "unknown name 'os' at column 9"),
    ("'touch PWNED'", "a string is not allowed"),
    ("9**9**9", "the constant exponent 3.8742e+08 is too large at column 4"),
    ("10**(2*40)", "the constant exponent 80 is too large"),
    ("x**1e300", "the constant exponent 1e+300 is too large"),
    ("x if y else 1", "a conditional expression is not allowed"),
    ("x < y", "a comparison is not allowed"),
    ("x % 2", "operator '%' is not allowed at column 3"),
    ("(y := 1)", "an assignment (:=) is not allowed"),
    ("f'{x}'", "an f-string is not allowed"),
    ("True + x", "the constant True is not allowed"),
    ("sin(x, y)", "sin() takes 1 argument, got 2"),
    ("sin(x=1)", "sin() takes no keyword arguments"),
    ("1e999 * x", "a number too large to represent"),
    ("x\n+ y", "write the expression on one line"),
    ("x" + "+x" * MAX_LENGTH, f"the limit is {MAX_LENGTH}"),
    ("-" * 200 + "x", "nesting deeper than"),
]


@pytest.mark.parametrize("text,message", HOSTILE)
def test_hostile_expressions_are_refused(text, message):
    with pytest.raises(ConfigError) as info:
        compile_expression(text)
    assert message in str(info.value)
    assert len(info.value.problems) == 1 and "\n" not in info.value.problems[0]
    assert not Path("PWNED").exists()


def test_hostile_expression_through_the_cli_creates_no_file(cli, tmp_path):
    for text in ("__import__('os').system('touch PWNED')", "open('PWNED', 'w')"):
        result = cli("surface", "--f", text, "--no-plots")
        assert result.exit_code == 2
        assert result.stderr.startswith("error: --f ")
        assert result.stdout == ""
    assert not (tmp_path / "PWNED").exists()


def test_syntax_error_points_at_the_column():
    with pytest.raises(ConfigError) as info:
        compile_expression("x**2 +* y")
    assert "syntax error at column 7 (x**2 +>>* y)" in str(info.value)
    with pytest.raises(ConfigError) as info:
        compile_expression("sin(x")
    assert "syntax error at column 4" in str(info.value)


def test_unknown_function_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        compile_expression("x + gamma(y)")
    text = str(info.value)
    assert "unknown function 'gamma' at column 5" in text
    assert "known functions: " + ", ".join(FUNCTIONS) in text


def test_uses_and_constant_expression():
    assert compile_expression("x*2").uses == {"x"}
    assert compile_expression("pi").uses == frozenset()
    assert float(compile_expression("pi")(X, Y)) == math.pi
