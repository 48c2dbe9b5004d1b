"""2-D functions f(x, y) to descend: the built-ins of tutorial section 2, and the user's own.

Every surface is an expression in x and y compiled by :mod:`sgdlab.surface.expr`: onto torch
operations (grids, autograd) and, differentiated symbolically once, into float closures for f, its
exact gradient and Hessian (the descent's hot path); the built-ins carry a sensible start, learning rate,
number of steps and view box, and (for the saddles) the saddle point the escape is measured from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.errors import ConfigError
from .expr import Expression, compile_expression

Point = tuple[float, float]


@dataclass
class Surface:
    """f(x, y) with what the descent needs to know about it."""

    name: str  # a built-in's name, or "expression"
    formula: str  # the expression text, as compiled
    expression: Expression
    start: Point  # default start
    lr: float  # default learning rate
    steps: int  # default number of updates
    box: tuple[float, float, float, float]  # default view: xmin, xmax, ymin, ymax
    saddle: Point | None = None  # a known saddle point (escape is measured from it)
    minima: list[Point] = field(default_factory=list)  # known minima, drawn on the contour plot
    note: str = ""

    def f(self, x, y):
        """f on tensors x, y of any shape (float64)."""
        return self.expression(x, y)

    def at(self, point):
        """f at a point tensor of shape (2,); always part of the autograd graph of ``point``."""
        value = self.expression(point[0], point[1])
        if point.requires_grad and not value.requires_grad:
            value = value + 0.0 * point.sum()  # a constant f: zero gradient, not an error
        return value

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "formula": self.formula, "saddle": self.saddle,
                "minima": self.minima, "note": self.note}


def _bowl(curvature: Point) -> tuple[str, str]:
    a, b = (float(c) for c in curvature)
    return f"0.5*{a!r}*x**2 + 0.5*{b!r}*y**2", (
        f"quadratic bowl: curvature {a:g} along x, {b:g} along y (Hessian diag({a:g}, {b:g}))"
    )


# name -> (formula or formula builder, start, lr, steps, box, saddle, minima, note)
BUILTINS: dict[str, dict[str, Any]] = {
    "bowl": dict(formula=_bowl, start=(-3.0, 2.0), lr=0.1, steps=200, box=(-4, 4, -3, 3),
                 minima=[(0.0, 0.0)]),
    "saddle": dict(formula="x**2 - y**2", start=(0.5, 1e-3), lr=0.1, steps=60, box=(-1.5, 1.5, -1.5, 1.5),
                   saddle=(0.0, 0.0), note="saddle at the origin: a minimum along x, a maximum along y"),
    "x4-y3": dict(formula="x**4 - y**3", start=(0.5, 0.05), lr=0.1, steps=150, box=(-1.5, 1.5, -1.5, 1.5),
                  saddle=(0.0, 0.0),
                  note="degenerate saddle at the origin: the Hessian there is zero"),
    "rosenbrock": dict(formula="(1 - x)**2 + 100*(y - x**2)**2", start=(-1.5, 2.0), lr=1e-3, steps=2000,
                       box=(-2, 2, -1, 3), minima=[(1.0, 1.0)],
                       note="a long curved valley; minimum f(1, 1) = 0"),
    "himmelblau": dict(formula="(x**2 + y - 11)**2 + (x + y**2 - 7)**2", start=(0.0, 0.0), lr=0.01,
                       steps=200, box=(-5, 5, -5, 5),
                       minima=[(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                               (3.584428, -1.848126)],
                       note="four minima, all with f = 0"),
}

DEFAULT_CURVATURE: Point = (1.0, 10.0)
EXPRESSION_DEFAULTS = dict(start=(1.0, 1.0), lr=0.01, steps=100, box=(-3, 3, -3, 3))


def names() -> list[str]:
    return list(BUILTINS)


def get(name: str, curvature: Point = DEFAULT_CURVATURE) -> Surface:
    """A built-in surface by name; an unknown name lists the known ones."""
    if name not in BUILTINS:
        raise ConfigError(f"unknown surface {name!r}; built-ins: {', '.join(BUILTINS)}; "
                          "or give your own with --f EXPR")
    spec = dict(BUILTINS[name])
    formula: str | Callable = spec.pop("formula")
    note = spec.pop("note", "")
    if callable(formula):
        formula, note = formula(curvature)
    return Surface(name=name, formula=formula, expression=compile_expression(formula, name),
                   note=note, **spec)


def from_expression(text: str, saddle: Point | None = None) -> Surface:
    """The user's f(x, y), through the safe evaluator."""
    expression = compile_expression(text, "--f")
    return Surface(name="expression", formula=text, expression=expression, saddle=saddle,
                   **EXPRESSION_DEFAULTS)
