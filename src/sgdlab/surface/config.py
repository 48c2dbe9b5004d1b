"""``SurfaceConfig``: one `sgdlab surface` invocation (several learning rates = several trajectories)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ..core.config import is_finite, type_problems, parse_float_list
from ..core.errors import ConfigError, Problems
from ..core.paths import check_not_empty
from ..core.limits import check_count, check_seed
from ..optim.spec import OptimizerSpec

MAX_SURFACE_STEPS = 1_000_000  # each trajectory keeps every point: ~100 MB of Python floats
MAX_NOISE_SAMPLES = 10_000_000  # 160 MB of float64 noise draws


@dataclass
class SurfaceConfig:
    """Gradient descent on a 2-D function f(x, y), one trajectory per learning rate.

    Fields left as None take the chosen surface's own default (see ``sgdlab.surface.functions.BUILTINS``).
    """

    problem: ClassVar[str] = "surface"  # its name in the problem registry (sgdlab.problems)
    # `sgdlab sweep surface`'s flags for fields of another name (the sweep adapter reads them)
    sweep_aliases: ClassVar[dict[str, str]] = {"surface": "name", "f": "expr"}

    name: str | None = None  # a built-in surface: bowl, saddle, x4-y3, rosenbrock, himmelblau
    expr: str | None = None  # or the user's f(x, y), e.g. "x**2 + 3*sin(y)" (safe evaluator)
    curvature: tuple[float, float] = (1.0, 10.0)  # bowl only: f = a/2 x^2 + b/2 y^2, Hessian diag(a, b)
    start: tuple[float, float] | None = None  # starting point (x, y)
    lrs: list[float] | None = None  # learning rates (step size eta), one trajectory each
    steps: int | None = None  # updates per trajectory
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    noise: float = 0.0  # sigma: each gradient gets + sigma * N(0, I) (SGD as noisy descent)
    noise_samples: int = 1000  # N noisy gradients drawn at the start to check E[J] = grad f
    seed: int = 0  # drives every noise draw
    escape_radius: float = 1.0  # escaped a saddle = first step farther than this from it
    saddle: tuple[float, float] | None = None  # --f only: a saddle point to measure escape from
    out: str | None = None  # folder for figures; None: <store folder>/<run id>
    plots: bool = True  # draw the figures

    def validate(self) -> None:
        wrong_kinds = type_problems(self)  # first: the checks below need numbers to be numbers
        if wrong_kinds:
            raise ConfigError(*wrong_kinds)
        problems = Problems()
        check_not_empty(problems, {"--out": self.out})
        if (self.name is None) == (self.expr is None):
            problems.add("give a built-in surface name (e.g. `sgdlab surface bowl`) or --f EXPR, "
                         "exactly one of them")
        _check_point(problems, self.start, "--start")
        _check_point(problems, self.curvature, "--curvature")
        _check_point(problems, self.saddle, "--saddle")
        if self.saddle is not None and self.expr is None:
            problems.add("--saddle is for --f expressions; built-in saddles know their saddle point")
        if self.lrs is not None:
            problems.check(len(self.lrs) >= 1, "--lr needs at least one learning rate")
            for lr in self.lrs:
                problems.check(is_finite(lr) and lr > 0, f"--lr must be a finite number > 0, got {lr}")
            twice = sorted({lr for lr in self.lrs if self.lrs.count(lr) > 1})
            problems.check(not twice, f"--lr gives {', '.join(map(str, twice))} twice: the "
                                      "trajectories would be identical")
        if self.steps is not None:
            check_count(problems, self.steps, "--steps", high=MAX_SURFACE_STEPS,
                        why="every point of the path is kept in memory, drawn and stored")
        problems.check(is_finite(self.noise) and self.noise >= 0, f"--noise must be >= 0, got {self.noise}")
        check_count(problems, self.noise_samples, "--noise-samples", low=2, high=MAX_NOISE_SAMPLES,
                    why="they are drawn at once, 16 bytes each")
        check_seed(problems, self.seed, count=2)  # the noise check draws with seed + 1
        problems.check(is_finite(self.escape_radius) and self.escape_radius > 0,
                       f"--escape-radius must be > 0, got {self.escape_radius}")
        self.optimizer.check(problems)
        problems.raise_if_any(ConfigError)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_point(problems: Problems, point: Any, flag: str) -> None:
    if point is None:
        return
    if len(point) != 2 or not all(is_finite(v) for v in point):
        shown = ",".join(str(v) for v in point)
        problems.add(f"{flag} must be two finite numbers X,Y (e.g. {flag} 1.5,-0.5), got {shown!r}")


def parse_point(text: str | None, flag: str) -> tuple[float, ...] | None:
    """"1.5,-0.5" -> (1.5, -0.5); the count is checked by ``validate`` (so all problems show)."""
    if text is None:
        return None
    return tuple(parse_float_list(text, flag))
