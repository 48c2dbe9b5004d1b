"""A safe evaluator for user functions f(x, y): checked, differentiated once, compiled to closures.

``compile_expression("x**2 + 3*sin(y)")`` parses the text with :mod:`ast` (the parser only), walks
the tree against a whitelist and builds an expression tree (``symbolic.py``), which becomes a closure
over torch operations (``fn``: grids, autograd) and closures over Python floats for f, its gradient
and its Hessian, differentiated symbolically once (``value``, ``gradient``, ``hessian``). Nothing is ever
handed to ``eval``, ``exec`` or ``compile``; a node that is not on the list is refused before any
part of the expression runs. Errors are one line, and name the 1-based column of the offending
token.

Allowed:

- numbers (``2``, ``0.5``, ``1e-3``), the variables ``x`` and ``y``, the constants ``pi`` and ``e``;
- ``+  -  *  /  **``, ``^`` as a power (``x^2`` is ``x**2``), unary ``-`` and ``+``, parentheses;
- calls to the functions in ``FUNCTIONS`` (positional arguments only).

Everything else (attributes, subscripts, other names and calls, lambdas, comprehensions, strings,
comparisons, ...) is refused. A constant exponent is limited to ``MAX_EXPONENT`` in absolute value
(``9**9**9`` is refused), the text to ``MAX_LENGTH`` characters and the tree to ``MAX_DEPTH``
levels, so no expression can make the evaluator hang or recurse without bound.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from ..core.errors import ConfigError
from . import symbolic

MAX_LENGTH = 500  # characters in one expression
MAX_DEPTH = 60  # nesting levels of the syntax tree
MAX_EXPONENT = 64.0  # largest |exponent| written as a constant, e.g. x**64; 9**9**9 is refused

# name -> (torch function name, number of arguments, what it is)
FUNCTIONS: dict[str, tuple[str, int, str]] = {
    "sin": ("sin", 1, "sine"), "cos": ("cos", 1, "cosine"), "tan": ("tan", 1, "tangent"),
    "asin": ("asin", 1, "arcsine"), "acos": ("acos", 1, "arccosine"),
    "atan": ("atan", 1, "arctangent"), "atan2": ("atan2", 2, "atan2(a, b): angle of (b, a)"),
    "sinh": ("sinh", 1, "hyperbolic sine"), "cosh": ("cosh", 1, "hyperbolic cosine"),
    "tanh": ("tanh", 1, "hyperbolic tangent"), "exp": ("exp", 1, "e to the power"),
    "log": ("log", 1, "natural logarithm"), "log2": ("log2", 1, "base-2 logarithm"),
    "log10": ("log10", 1, "base-10 logarithm"), "sqrt": ("sqrt", 1, "square root"),
    "abs": ("abs", 1, "absolute value"), "sigmoid": ("sigmoid", 1, "1 / (1 + exp(-a))"),
}
VARIABLES = ("x", "y")
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_UNARY = (ast.USub, ast.UAdd)
# friendly words for refused nodes
_REFUSED = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript ([...])",
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "a conditional expression",
    ast.List: "a list", ast.Tuple: "a tuple", ast.Set: "a set", ast.Dict: "a dict",
    ast.NamedExpr: "an assignment (:=)", ast.Starred: "a starred argument", ast.JoinedStr: "an f-string",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}
_OP_SYMBOL = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitXor: "xor", ast.BitAnd: "&",
              ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>", ast.Not: "not", ast.Invert: "~"}

Fn = Callable[[Any, Any], Any]  # (x, y) -> value; tensors in, tensor out


@dataclass(frozen=True)
class Expression:
    """A compiled f(x, y): call it with two float64 tensors of any (equal) shape; ``value``,
    ``gradient`` and ``hessian`` take two Python floats."""

    text: str
    fn: Fn
    uses: frozenset[str]  # which of x, y the expression mentions
    tree: Any = None  # the expression tree (symbolic.py) that fn and the float closures come from

    def __call__(self, x, y):
        return self.fn(x, y)

    @cached_property
    def derivatives(self) -> tuple:
        """(df/dx, df/dy) and the Hessian's ((fxx, fxy), (fyx, fyy)) as trees, built once."""
        d = symbolic.derivative
        folded = symbolic.fold(self.tree)  # 0.5*1.0*x**2: constants first, so f'' is a number
        grad = (d(folded, "x"), d(folded, "y"))
        return grad, tuple(tuple(d(g, v) for v in VARIABLES) for g in grad)

    @cached_property
    def value(self) -> Callable[[float, float], float]:
        return symbolic.to_float(self.tree)

    @cached_property
    def gradient(self) -> Callable[[float, float], tuple[float, float]]:
        gx, gy = (symbolic.to_float(t) for t in self.derivatives[0])
        return lambda x, y: (gx(x, y), gy(x, y))

    @cached_property
    def hessian(self) -> Callable[[float, float], list[list[float]]]:
        rows = [[symbolic.to_float(t) for t in row] for row in self.derivatives[1]]
        return lambda x, y: [[h(x, y) for h in row] for row in rows]

    @cached_property
    def constant_hessian(self) -> bool:
        """The Hessian's trees are all numbers: f is (at most) quadratic, exactly."""
        return all(t[0] == "num" for row in self.derivatives[1] for t in row)


def compile_expression(text: str, flag: str = "--f") -> Expression:
    """Parse, check and compile ``text``; a ConfigError (one line, with the column) if refused."""
    import torch

    text = str(text)
    where = f"{flag} {text!r}"
    original = text
    text, origin = _carets(text)  # x^2 -> x**2; origin maps columns back to the user's text
    if not text.strip():
        raise ConfigError(f"{flag} is empty; write a function of x and y, e.g. \"x**2 + 3*sin(y)\"")
    if len(original) > MAX_LENGTH:
        raise ConfigError(f"{flag} is {len(original)} characters long; the limit is {MAX_LENGTH}")
    if "\n" in text or "\r" in text:
        raise ConfigError(f"{where}: write the expression on one line")
    stripped = text.lstrip()
    shift = len(text) - len(stripped)  # ast sees the text without its leading blanks
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        column = shift + (exc.offset or len(stripped) + 1)
        column = _back(origin, min(max(column, 1), len(text) + 1))
        message = exc.msg.split(" (")[0]
        raise ConfigError(
            f"{where}: syntax error at column {column} ({_point(original, column)}): {message}"
        ) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ConfigError(f"{where}: cannot be parsed ({type(exc).__name__}); simplify it") from None
    compiler = _Compiler(original, stripped, shift, where, origin)
    built = compiler.build(tree.body, depth=0)
    return Expression(text=original, fn=symbolic.to_torch(built, torch), uses=frozenset(compiler.uses),
                      tree=built)


def _carets(text: str) -> tuple[str, list[int]]:
    """``^`` written as ``**`` (Python's ``^`` is xor, and binds looser than +), and for each
    character of the result the index of the character of ``text`` it came from."""
    out, origin = [], []
    for i, ch in enumerate(text):
        if ch == "^":
            out.append("**")
            origin += [i, i]
        else:
            out.append(ch)
            origin.append(i)
    return "".join(out), origin


def _back(origin: list[int], column: int) -> int:
    """A 1-based column of the rewritten text as a column of the user's text."""
    if column - 1 < len(origin):
        return origin[column - 1] + 1
    return (origin[-1] + 2) if origin else 1


def _point(text: str, column: int) -> str:
    """The text with ``>>`` in front of the offending column: ``x + >>foo(y)``."""
    i = column - 1
    if i >= len(text):
        return f"at the end of {text!r}"
    return f"{text[:i]}>>{text[i:]}"


class _Compiler:
    """Checks the syntax tree against the whitelist and builds the expression tree."""

    def __init__(self, text: str, stripped: str, shift: int, where: str, origin: list[int]):
        self.text, self.stripped, self.shift, self.where = text, stripped, shift, where
        self.origin = origin
        self.uses: set[str] = set()

    def column(self, node: ast.AST) -> int:
        offset = getattr(node, "col_offset", 0)
        if isinstance(node, ast.Attribute):  # point at the attribute's name, not its object
            offset = (node.end_col_offset or offset) - len(node.attr.encode("utf-8"))
        # col_offset counts UTF-8 bytes; turn it into a 1-based character column
        raw = self.stripped.encode("utf-8")[:offset]
        return _back(self.origin, self.shift + len(raw.decode("utf-8", errors="ignore")) + 1)

    def fail(self, node: ast.AST, what: str, hint: str = "") -> ConfigError:
        column = self.column(node)
        hint = f"; {hint}" if hint else ""
        return ConfigError(f"{self.where}: {what} at column {column} ({_point(self.text, column)}){hint}")

    def operator(self, node: ast.BinOp) -> ast.AST:
        """A stand-in node placed on a binary operator's symbol (ast does not record it)."""
        raw = self.stripped.encode("utf-8")
        offset = node.left.end_col_offset or 0
        while offset < len(raw) and raw[offset : offset + 1] in (b" ", b"\t", b")"):
            offset += 1
        marker = ast.AST()
        marker.col_offset = offset
        return marker

    def build(self, node: ast.AST, depth: int) -> tuple:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
                raise self.fail(node, f"{kind} is not allowed", "use numbers, x, y, pi, e")
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise self.fail(node, "a number too large to represent")
            return symbolic.num(number)
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                self.uses.add(node.id)
                return ("var", node.id)
            if node.id in CONSTANTS:
                return symbolic.num(CONSTANTS[node.id])
            hint = "; functions need parentheses, e.g. sin(x)" if node.id in FUNCTIONS else ""
            raise self.fail(node, f"unknown name {node.id!r}", f"use x, y, pi, e{hint}")
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = _OP_SYMBOL.get(type(node.op), type(node.op).__name__)
                raise self.fail(self.operator(node), f"operator {symbol!r} is not allowed", "use + - * / ** ^")
            left = self.build(node.left, depth + 1)
            right = self.build(node.right, depth + 1)
            if op == "pow":
                self.check_exponent(node.right, right)
            return (op, left, right)
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                symbol = _OP_SYMBOL.get(type(node.op), type(node.op).__name__)
                raise self.fail(node, f"operator {symbol!r} is not allowed", "use + - * / ** ^")
            operand = self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return operand
            return ("neg", operand)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        what = _REFUSED.get(type(node), f"{type(node).__name__} expressions")
        raise self.fail(node, f"{what} is not allowed", "use numbers, x, y, + - * / ** and functions")

    def call(self, node: ast.Call, depth: int) -> tuple:
        if isinstance(node.func, ast.Attribute):
            raise self.fail(node.func, f"attribute access ('.{node.func.attr}') is not allowed",
                            "use numbers, x, y, + - * / ** and functions")
        if not isinstance(node.func, ast.Name):
            what = _REFUSED.get(type(node.func), "calling anything but a named function")
            raise self.fail(node.func, f"{what} is not allowed", "call a function by name, e.g. sin(x)")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node.func, f"unknown function {name!r}", f"known functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.fail(node.keywords[0].value, f"{name}() takes no keyword arguments")
        _, arity, _ = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.fail(node.func, f"{name}() takes {arity} argument{'s' * (arity > 1)}, got {len(node.args)}")
        return ("call", name, *(self.build(a, depth + 1) for a in node.args))

    def check_exponent(self, node: ast.AST, exponent: tuple) -> None:
        """A constant exponent must be finite and at most MAX_EXPONENT in absolute value."""
        uses = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in VARIABLES:
                uses.add(sub.id)
        if uses:
            return  # x**y and the like: torch gives inf at worst, never a hang
        value = float(symbolic.to_float(exponent)(0.0, 0.0))
        if not (math.isfinite(value) and abs(value) <= MAX_EXPONENT):
            raise self.fail(
                node, f"the constant exponent {value:g} is too large",
                f"at most {MAX_EXPONENT:g} in absolute value is allowed",
            )
