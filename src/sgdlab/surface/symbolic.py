"""f(x, y) as a tree, differentiated once, and compiled to closures over Python floats or torch.

A tree is nested tuples: ``("num", v)``, ``("var", "x")``, ``(op, a, b)`` for op in add sub mul div
pow, ``("neg", a)``, ``("call", name, a[, b])``. ``expr.py`` builds it from the checked syntax
tree; ``derivative(tree, "x")`` gives the tree of df/dx by the chain rule, simplified as it is built
(0 + a = a, 1 * a = a, constants folded), so the gradient and Hessian of a surface are trees made
once, not an autograd graph per step.

``to_float`` compiles a tree to a closure on two Python floats: a 2-D descent step is a few dozen
scalar operations, and a float operation costs ~50 ns where a torch operation on a 0-d tensor costs
~2 us. Every operation follows IEEE arithmetic as torch does (x / 0 = inf, log(-1) = nan, exp(1000)
= inf) instead of raising. ``to_torch`` compiles the same tree onto torch functions (the contour's
grid, and autograd where theory wants it). Nothing is ever handed to eval, exec or compile.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .floats import FLOAT_BINARY, FLOAT_FUNCTIONS, f_pow

LN2, LN10 = math.log(2.0), math.log(10.0)

Tree = tuple


def num(v: float) -> Tree:
    return ("num", float(v))


ZERO, ONE = num(0.0), num(1.0)


def _is(t: Tree, value: float) -> bool:
    return t[0] == "num" and t[1] == value


# -- building trees, simplified --------------------------------------------------------------
def add(a: Tree, b: Tree) -> Tree:
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    if a[0] == b[0] == "num":
        return num(a[1] + b[1])
    if b[0] == "neg":
        return sub(a, b[1])
    if a[0] == "neg":
        return sub(b, a[1])
    return ("add", a, b)


def sub(a: Tree, b: Tree) -> Tree:
    if _is(b, 0):
        return a
    if _is(a, 0):
        return neg(b)
    if a[0] == b[0] == "num":
        return num(a[1] - b[1])
    if b[0] == "neg":
        return add(a, b[1])
    return ("sub", a, b)


def neg(a: Tree) -> Tree:
    if a[0] == "num":
        return num(-a[1])
    if a[0] == "neg":
        return a[1]
    if a[0] == "mul" and a[1][0] == "num":  # -(c u) = (-c) u
        return mul(num(-a[1][1]), a[2])
    return ("neg", a)


def mul(a: Tree, b: Tree) -> Tree:
    if _is(a, 0) or _is(b, 0):
        return ZERO
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    if a[0] == b[0] == "num":
        return num(a[1] * b[1])
    if _is(a, -1):
        return neg(b)
    if _is(b, -1):
        return neg(a)
    if a[0] == "neg" or b[0] == "neg":  # signs out: (-u) v = -(u v)
        return neg(mul(a[1] if a[0] == "neg" else a, b[1] if b[0] == "neg" else b)) \
            if (a[0] == "neg") != (b[0] == "neg") else mul(a[1], b[1])
    if b[0] == "num" or (b[0] == "mul" and b[1][0] == "num" and a[0] != "num"):
        a, b = b, a  # constants first: c * (...)
    if a[0] == "mul" and a[1][0] == "num":  # (c u) v = c (u v)
        return mul(a[1], mul(a[2], b))
    if a[0] == "num" and b[0] == "mul" and b[1][0] == "num":  # c1 * (c2 * u) = (c1 c2) * u
        return mul(num(a[1] * b[1][1]), b[2])
    return ("mul", a, b)


def div(a: Tree, b: Tree) -> Tree:
    if _is(a, 0) and not _is(b, 0):
        return ZERO
    if _is(b, 1):
        return a
    if a[0] == b[0] == "num" and b[1] != 0:
        return num(a[1] / b[1])
    return ("div", a, b)


def power(a: Tree, b: Tree) -> Tree:
    if _is(b, 1):
        return a
    if _is(b, 0):
        return ONE
    if a[0] == b[0] == "num":
        return num(f_pow(a[1], b[1]))
    return ("pow", a, b)


def call(name: str, *args: Tree) -> Tree:
    if all(a[0] == "num" for a in args):
        return num(FLOAT_FUNCTIONS[name](*(a[1] for a in args)))
    return ("call", name, *args)


def uses(tree: Tree, var: str) -> bool:
    if tree[0] == "var":
        return tree[1] == var
    if tree[0] == "num":
        return False
    return any(uses(t, var) for t in tree[1:] if isinstance(t, tuple))


def derivative(t: Tree, v: str) -> Tree:
    """d t / d v, by the chain rule; a constant sub-tree gives 0."""
    kind = t[0]
    if kind == "num":
        return ZERO
    if kind == "var":
        return ONE if t[1] == v else ZERO
    if kind == "neg":
        return neg(derivative(t[1], v))
    if kind in ("add", "sub"):
        return (add if kind == "add" else sub)(derivative(t[1], v), derivative(t[2], v))
    if kind == "mul":
        a, b = t[1], t[2]
        return add(mul(derivative(a, v), b), mul(a, derivative(b, v)))
    if kind == "div":
        a, b = t[1], t[2]
        da, db = derivative(a, v), derivative(b, v)
        return sub(div(da, b), div(mul(a, db), mul(b, b)))
    if kind == "pow":
        a, b = t[1], t[2]
        da, db = derivative(a, v), derivative(b, v)
        exponent = fold(b)
        if exponent[0] == "num":  # a ** c: c a^(c-1) a'
            return mul(mul(exponent, power(a, num(exponent[1] - 1.0))), da)
        # a ** b, b varying: a^b (b' log a + b a' / a)
        return add(mul(mul(b, power(a, sub(b, ONE))), da), mul(mul(t, call("log", a)), db))
    return _call_derivative(t[1], t[2:], v)


def _call_derivative(name: str, args: tuple, v: str) -> Tree:
    u = args[0]
    du = derivative(u, v)
    if name == "atan2":  # atan2(a, b): (b a' - a b') / (a^2 + b^2)
        a, b = args
        return div(sub(mul(b, du), mul(a, derivative(b, v))), add(mul(a, a), mul(b, b)))
    if _is(du, 0):
        return ZERO
    inner = {
        "sin": lambda: call("cos", u), "cos": lambda: neg(call("sin", u)),
        "tan": lambda: div(ONE, mul(call("cos", u), call("cos", u))),
        "asin": lambda: div(ONE, call("sqrt", sub(ONE, mul(u, u)))),
        "acos": lambda: neg(div(ONE, call("sqrt", sub(ONE, mul(u, u))))),
        "atan": lambda: div(ONE, add(ONE, mul(u, u))),
        "sinh": lambda: call("cosh", u), "cosh": lambda: call("sinh", u),
        "tanh": lambda: sub(ONE, mul(call("tanh", u), call("tanh", u))),
        "exp": lambda: call("exp", u), "log": lambda: div(ONE, u),
        "log2": lambda: div(ONE, mul(u, num(LN2))), "log10": lambda: div(ONE, mul(u, num(LN10))),
        "sqrt": lambda: div(ONE, mul(num(2.0), call("sqrt", u))),
        "abs": lambda: call("sign", u),
        "sigmoid": lambda: mul(call("sigmoid", u), sub(ONE, call("sigmoid", u))),
        "sign": lambda: ZERO,
    }[name]()
    return mul(inner, du)


def fold(t: Tree) -> Tree:
    """Constants folded (the tree rebuilt through the simplifying constructors)."""
    kind = t[0]
    if kind in ("num", "var"):
        return t
    if kind == "neg":
        return neg(fold(t[1]))
    if kind == "call":
        return call(t[1], *(fold(a) for a in t[2:]))
    build = {"add": add, "sub": sub, "mul": mul, "div": div, "pow": power}[kind]
    return build(fold(t[1]), fold(t[2]))


# -- compiling ---------------------------------------------------------------------------------
def to_float(t: Tree) -> Callable[[float, float], float]:
    """A closure (x, y) -> float; constant operands are bound in, not called."""
    kind = t[0]
    if kind == "num":
        c = t[1]
        return lambda x, y: c
    if kind == "var":
        return (lambda x, y: x) if t[1] == "x" else (lambda x, y: y)
    if kind == "neg":
        a = to_float(t[1])
        return lambda x, y: -a(x, y)
    if kind == "call":
        f = FLOAT_FUNCTIONS[t[1]]
        if len(t) == 3:
            a = to_float(t[2])
            return lambda x, y: f(a(x, y))
        a, b = to_float(t[2]), to_float(t[3])
        return lambda x, y: f(a(x, y), b(x, y))
    return _binary(kind, t[1], t[2])


def _binary(kind: str, left: Tree, right: Tree) -> Callable[[float, float], float]:
    if kind == "pow" and right[0] == "num" and right[1] == 2.0:
        if left[0] == "var":
            return (lambda x, y: x * x) if left[1] == "x" else (lambda x, y: y * y)
        a = to_float(left)

        def square(x, y):
            v = a(x, y)
            return v * v

        return square
    if kind in ("add", "sub", "mul"):
        fast = _leafy(kind, left, right)
        if fast is not None:
            return fast
    f, a, b = FLOAT_BINARY[kind], to_float(left), to_float(right)
    return lambda x, y: f(a(x, y), b(x, y))


_OPS = {"add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v}


def _leafy(kind: str, left: Tree, right: Tree):
    """+ - * with a number or a variable as an operand, written out: one closure call fewer per
    leaf on the hot path (these are most of the nodes of a derivative)."""
    a, b = to_float(left), to_float(right)
    lk, rk = left[0], right[0]
    if rk == "num":
        c = right[1]
        if lk == "var":
            return {("add", "x"): lambda x, y: x + c, ("add", "y"): lambda x, y: y + c,
                    ("sub", "x"): lambda x, y: x - c, ("sub", "y"): lambda x, y: y - c,
                    ("mul", "x"): lambda x, y: x * c, ("mul", "y"): lambda x, y: y * c}[kind, left[1]]
        return {"add": lambda x, y: a(x, y) + c, "sub": lambda x, y: a(x, y) - c,
                "mul": lambda x, y: a(x, y) * c}[kind]
    if lk == "num":
        c = left[1]
        if rk == "var":
            return {("add", "x"): lambda x, y: c + x, ("add", "y"): lambda x, y: c + y,
                    ("sub", "x"): lambda x, y: c - x, ("sub", "y"): lambda x, y: c - y,
                    ("mul", "x"): lambda x, y: c * x, ("mul", "y"): lambda x, y: c * y}[kind, right[1]]
        return {"add": lambda x, y: c + b(x, y), "sub": lambda x, y: c - b(x, y),
                "mul": lambda x, y: c * b(x, y)}[kind]
    if rk == "var" and right[1] == "y":
        return {"add": lambda x, y: a(x, y) + y, "sub": lambda x, y: a(x, y) - y,
                "mul": lambda x, y: a(x, y) * y}[kind]
    if rk == "var":
        return {"add": lambda x, y: a(x, y) + x, "sub": lambda x, y: a(x, y) - x,
                "mul": lambda x, y: a(x, y) * x}[kind]
    if lk == "var" and left[1] == "y":
        return {"add": lambda x, y: y + b(x, y), "sub": lambda x, y: y - b(x, y),
                "mul": lambda x, y: y * b(x, y)}[kind]
    if lk == "var":
        return {"add": lambda x, y: x + b(x, y), "sub": lambda x, y: x - b(x, y),
                "mul": lambda x, y: x * b(x, y)}[kind]
    return {"add": lambda x, y: a(x, y) + b(x, y), "sub": lambda x, y: a(x, y) - b(x, y),
            "mul": lambda x, y: a(x, y) * b(x, y)}[kind]


def to_torch(t: Tree, torch: Any) -> Callable:
    """A closure (x, y) -> tensor over torch functions (tensors of any equal shape)."""
    kind = t[0]
    if kind == "num":
        constant = torch.tensor(t[1], dtype=torch.float64)
        return lambda x, y: constant
    if kind == "var":
        return (lambda x, y: x) if t[1] == "x" else (lambda x, y: y)
    if kind == "neg":
        a = to_torch(t[1], torch)
        return lambda x, y: torch.neg(a(x, y))
    if kind == "call":
        f = getattr(torch, t[1])
        args = [to_torch(a, torch) for a in t[2:]]
        if len(args) == 1:
            (a,) = args
            return lambda x, y: f(a(x, y))
        a, b = args
        return lambda x, y: f(a(x, y), b(x, y))
    f = getattr(torch, kind)
    a, b = to_torch(t[1], torch), to_torch(t[2], torch)
    return lambda x, y: f(a(x, y), b(x, y))
