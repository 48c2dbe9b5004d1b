"""The descent playground's API: a surface's contour, and trajectories with their verdicts.

Every number comes from ``sgdlab.surface`` (the same compiled expressions, ``run``, ``judge`` and
theory as `sgdlab surface`); the page only draws. Each request is checked by ``SurfaceConfig``'s
own validation (the CLI's messages) and by the server's bounds below, before any work.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from .. import i18n
from ..core.errors import ConfigError, Problems
from .responses import json_response
from .strict import Strict

router = APIRouter(prefix="/api", tags=["playground"])

MAX_STEPS = 5000  # updates per trajectory
MAX_OPTIMIZERS = 7  # trajectories per request (every preset of the page at once)
MAX_UPDATES = 15_000  # steps x optimizers per request (~2 us per update since issue 20: ~30 ms)
GRID_MIN, GRID_MAX = 10, 201  # contour grid points per axis
MAX_BOX = 1e6  # |coordinate| of the contour's view box
LOG_RANGE = 100.0  # f spanning more than this on the view: contour drawn as log(1 + f - min f)
NOISE_SAMPLES = 1000  # noisy gradients drawn at the start to check E[J] = grad f


class OptimizerIn(Strict):
    """One update rule and its hyperparameters (None: the rule's own default)."""

    name: str = Field("sgd", description="sgd, adagrad, rmsprop, adam, adamw, or torch-NAME")
    lr: float | None = Field(None, description="this optimizer's own learning rate (default: the "
                             "request's lr): adaptive rules usually want another lr than sgd")
    momentum: float | None = None
    nesterov: bool = False
    betas: tuple[float, float] | None = None
    eps: float | None = None
    weight_decay: float | None = None


class SurfaceIn(Strict):
    surface: str | None = Field(None, description="a built-in: bowl, saddle, x4-y3, rosenbrock, himmelblau")
    f: str | None = Field(None, description="or your own f(x, y), e.g. 'x**2 + 3*sin(y)' (safe evaluator)")
    curvature: tuple[float, float] = Field((1.0, 10.0), description="bowl only: curvatures along x and y")


class ContourIn(SurfaceIn):
    box: tuple[float, float, float, float] | None = Field(None, description="xmin, xmax, ymin, ymax")
    n: int = Field(101, description=f"grid points per axis, {GRID_MIN} to {GRID_MAX}")


class DescentIn(SurfaceIn):
    start: tuple[float, float] | None = None
    lr: float | None = Field(None, description="learning rate (default: the surface's own)")
    steps: int | None = Field(None, description=f"updates per trajectory, at most {MAX_STEPS}")
    optimizers: list[OptimizerIn] = Field(default_factory=lambda: [OptimizerIn()])
    noise: float = Field(0.0, description="sigma: SGD as noisy descent, grad + sigma * N(0, I)")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="seed of the gradient noise")
    escape_radius: float = 1.0
    lang: str | None = Field(None, description="en or zh: the language of the *_text fields "
                             "(default: the ?lang= query, then Accept-Language)")


def _config(body: SurfaceIn, **fields: Any):
    from ..optim.spec import OptimizerSpec
    from ..surface.config import SurfaceConfig

    return SurfaceConfig(name=body.surface, expr=body.f, curvature=tuple(body.curvature),
                         plots=False, optimizer=fields.pop("optimizer", OptimizerSpec()), **fields)


def _surface(body: SurfaceIn):
    """Validate (the CLI's checks and messages) and compile the surface."""
    from ..surface.run import build_surface

    config = _config(body)
    config.validate()
    return config, build_surface(config)


@router.get("/surfaces", summary="The built-in surfaces, optimizers, expression grammar and limits")
def surfaces() -> Any:
    from ..optim.spec import names as optimizer_names
    from ..surface import expr, functions

    builtins = []
    for name in functions.names():
        s = functions.get(name)
        builtins.append(s.describe() | {"start": s.start, "lr": s.lr, "steps": s.steps, "box": s.box})
    return json_response({
        "surfaces": builtins, "optimizers": optimizer_names(),
        "expression": {"functions": sorted(expr.FUNCTIONS), "variables": list(expr.VARIABLES),
                       "constants": sorted(expr.CONSTANTS), "max_length": expr.MAX_LENGTH},
        "limits": {"max_steps": MAX_STEPS, "max_optimizers": MAX_OPTIMIZERS,
                   "max_updates": MAX_UPDATES, "grid": [GRID_MIN, GRID_MAX]},
    })


@router.post("/contour", summary="f on a grid over the view box, for the contour plot")
def contour(body: ContourIn) -> Any:
    import torch

    problems = Problems()
    problems.check(GRID_MIN <= body.n <= GRID_MAX, f"n must be {GRID_MIN} to {GRID_MAX}, got {body.n}")
    if body.box is not None:
        x0, x1, y0, y1 = body.box
        problems.check(all(math.isfinite(v) and abs(v) <= MAX_BOX for v in body.box),
                       f"box must be four finite numbers within +-{MAX_BOX:g}")
        problems.check(x0 < x1 and y0 < y1, "box must be xmin < xmax, ymin < ymax")
    problems.raise_if_any(ConfigError)
    _, surface = _surface(body)
    x0, x1, y0, y1 = (float(v) for v in (body.box or surface.box))
    xs = torch.linspace(x0, x1, body.n, dtype=torch.float64)
    ys = torch.linspace(y0, y1, body.n, dtype=torch.float64)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")  # rows follow y, as a contour wants
    with torch.no_grad():
        z = torch.broadcast_to(surface.f(grid_x, grid_y), grid_x.shape)
    finite = z[torch.isfinite(z)]
    shown, shown_as = z, "f"
    if finite.numel() and float(finite.max() - finite.min()) > LOG_RANGE:
        shown, shown_as = torch.log1p(z - finite.min()), "log(1 + f - min f)"
    return json_response({
        **surface.describe(), "start": surface.start, "lr": surface.lr, "steps": surface.steps,
        "box": [x0, x1, y0, y1], "x": xs.tolist(), "y": ys.tolist(), "z": _nulls(z),
        "z_shown": _nulls(shown), "shown_as": shown_as,
    })


@router.post("/descent", summary="Trajectories from a start point, one per optimizer, with verdicts")
def descent(body: DescentIn, request: Request = None, lang: str | None = None) -> Any:
    """The same document as `sgdlab surface --json`, one trajectory per optimizer (one lr), and
    the words for a reader in ``lang`` (en or zh): each trajectory's ``verdict_text``,
    ``why_text`` and ``lr_bound_text``, and ``theory_text`` (see ``_texts``)."""
    from ..surface.run import compute

    problems = Problems()
    problems.check(1 <= len(body.optimizers) <= MAX_OPTIMIZERS,
                   f"optimizers: give 1 to {MAX_OPTIMIZERS}, got {len(body.optimizers)}")
    if body.steps is not None:
        problems.check(body.steps <= MAX_STEPS, f"--steps must be <= {MAX_STEPS} here (the server "
                       "bounds each request; `sgdlab surface` runs longer ones)")
    problems.raise_if_any(ConfigError)
    configs = [_config(body, start=body.start, lrs=[o.lr] if o.lr is not None else (
                           None if body.lr is None else [body.lr]),
                       steps=body.steps, optimizer=_spec(o), noise=body.noise, seed=body.seed,
                       escape_radius=body.escape_radius, noise_samples=NOISE_SAMPLES)
               for o in body.optimizers]
    for config in configs:  # every problem of every optimizer, reported together
        try:
            config.validate()
        except ConfigError as exc:
            problems.items.extend(p for p in exc.problems if p not in problems.items)
    problems.raise_if_any(ConfigError)
    config, surface = _surface(body)
    steps = body.steps or surface.steps
    if steps * len(configs) > MAX_UPDATES:
        raise ConfigError(f"{steps} steps x {len(configs)} optimizers = {steps * len(configs)} "
                          f"updates; one request may make at most {MAX_UPDATES}")
    # every optimizer stepped together from one theory at the start (`sgdlab surface`'s compute)
    lr = float(body.lr if body.lr is not None else surface.lr)
    own = [float(o.lr) if o.lr is not None else lr for o in body.optimizers]
    first = compute(configs[0], surface, settings=[(v, c.optimizer) for v, c in zip(own, configs)])
    keys = ("surface", "start", "steps", "noise", "seed", "escape_radius", "hessian_start",
            "start_point", "lr_bound", "lr_bound_kind", "critical_point", "noise_check", "definitions")
    trajectories = [r | {"optimizer": o.model_dump()} for o, r in zip(body.optimizers, first["runs"])]
    document = {k: first[k] for k in keys} | {"lr": lr, "trajectories": trajectories}
    header = request.headers.get("accept-language") if request is not None else None
    chosen = i18n.language(body.lang or lang) if (body.lang or lang) else i18n.language_from_header(header)
    return _fast_json(_texts(document, [c.optimizer for c in configs], chosen))


def _texts(document: dict[str, Any], specs, lang: str) -> dict[str, Any]:
    """The reader's words in ``lang`` beside the English JSON values (which never change)."""
    from ..surface.run import reason_in, run_bound

    eigenvalues = document["hessian_start"]["eigenvalues"]
    for t, spec in zip(document["trajectories"], specs):
        own = run_bound(spec, eigenvalues)
        t["verdict_text"] = i18n.text("verdict." + t["verdict"], lang)
        t["why_text"] = reason_in(t["why"], lang)
        t["lr_bound_text"] = i18n.text(own["lr_bound_key"], lang, **own["lr_bound_fields"])
    kind = document["lr_bound_kind"].split(" ")[0]
    theory = {"lr_bound_kind": i18n.text(f"theory.bound_{kind}", lang),
              "curvature": i18n.translate(document["hessian_start"]["curvature"], "curvature.", lang),
              "shared_lr": i18n.text("theory.shared_lr", lang)}
    if document["critical_point"] is not None:
        theory["critical_kind"] = i18n.translate(document["critical_point"]["kind"], "critical.", lang)
    return document | {"lang": lang, "theory_text": theory}


def _fast_json(document: dict[str, Any]):
    """``json_response`` without its walk over every number when all are finite (the usual
    case: a path is 200 to 5,000 points); NaN or infinities take the strict path."""
    import json

    from starlette.responses import Response

    try:
        body = json.dumps(document, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        return json_response(document)
    return Response(body, media_type="application/json")


def warm() -> None:
    """Import and run everything a first request needs (torch, the surfaces, the descent, the
    contour), so the first drag on the page is as fast as the next; `sgdlab serve` calls it at
    start (``app.py``'s lifespan)."""
    contour(ContourIn(surface="bowl", n=GRID_MIN))
    descent(DescentIn(surface="rosenbrock", steps=10, optimizers=[
        OptimizerIn(), OptimizerIn(momentum=0.9), OptimizerIn(momentum=0.9, nesterov=True),
        OptimizerIn(name="adam")], noise=0.1))
    descent(DescentIn(f="x^2 + 3*sin(y)", steps=10))


def _spec(o: OptimizerIn):
    from ..optim.spec import OptimizerSpec

    return OptimizerSpec(name=o.name, momentum=o.momentum, nesterov=o.nesterov,
                         betas=tuple(o.betas) if o.betas is not None else None, eps=o.eps,
                         weight_decay=o.weight_decay)


def _nulls(t) -> list[list[float | None]]:
    """A 2-D tensor as nested lists with every non-finite value as null (a gap in the plot)."""
    import torch

    clean = torch.where(torch.isfinite(t), t, torch.nan).tolist()
    return [[None if v != v else v for v in row] for row in clean]
