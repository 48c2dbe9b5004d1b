"""`sgdlab surface`: gradient descent on a 2-D function, with trajectories and verdicts."""

from __future__ import annotations

from typing import Optional

import typer

from .app import (EXIT_DIVERGED, JsonOption, StoreOption, emit, handle_errors, not_applicable,
                  note)
from . import options
from .progress import Progress

SURFACE_HELP = """Gradient descent on a 2-D function f(x, y) (tutorial section 2).

Built-ins: bowl (0.5*a*x**2 + 0.5*b*y**2, set a,b with --curvature), saddle (x**2 - y**2),
x4-y3 (x**4 - y**3), rosenbrock, himmelblau. Or your own: --f "x**2 + 3*sin(y)" with numbers,
x, y, pi, e, + - * / ** (or ^: x^2) and the functions sin cos tan asin acos atan atan2 sinh cosh tanh exp log
log2 log10 sqrt abs sigmoid (nothing else is accepted; nothing is ever eval'ed).

Verdicts: converged, slow, oscillating, diverged (exit code 3), escaped saddle, stuck near saddle.
"""


@handle_errors
def surface(
    name: Optional[str] = typer.Argument(None, help="Built-in surface (bowl, saddle, x4-y3, rosenbrock, himmelblau).", show_default=False),
    f: Optional[str] = typer.Option(None, "--f", help='Your own f(x, y), e.g. "x**2 + 3*sin(y)".', show_default=False),
    start: Optional[str] = typer.Option(None, "--start", help="Start point X,Y (default: the surface's own).", show_default=False),
    lr: Optional[str] = typer.Option(None, "--lr", help="Learning rate, or a comma list: one trajectory each (default: the surface's own).", show_default=False),
    steps: Optional[int] = typer.Option(None, "--steps", help="Updates per trajectory (default: the surface's own).", show_default=False),
    curvature: Optional[str] = typer.Option(None, "--curvature", help="bowl only: curvatures A,B along x and y (default: 1,10).", show_default=False),
    noise: float = typer.Option(0.0, "--noise", help="SIGMA: add sigma * N(0, I) to every gradient (SGD as noisy descent)."),
    noise_samples: int = typer.Option(1000, "--noise-samples", help="Noisy gradients drawn at the start to check E[J] = grad f."),
    seed: int = typer.Option(0, "--seed", help="Seed for the gradient noise."),
    escape_radius: float = typer.Option(1.0, "--escape-radius", help="Escaped a saddle = first step farther than this from it."),
    saddle: Optional[str] = typer.Option(None, "--saddle", help="With --f: a saddle point X,Y to measure the escape from.", show_default=False),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (default: <store folder>/<run id>)", show_default=False),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw figures."),
    optimizer: str = options.OPTIMIZER,
    momentum: Optional[float] = options.MOMENTUM,
    nesterov: bool = options.NESTEROV,
    betas: Optional[str] = options.BETAS,
    eps: Optional[float] = options.EPS,
    weight_decay: Optional[float] = options.WEIGHT_DECAY,
    store: Optional[str] = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    from ..core.config import parse_float_list
    from ..core.errors import ConfigError
    from ..core.store import Store
    from ..surface.config import SurfaceConfig, parse_point
    from ..surface.functions import BUILTINS
    from ..surface.run import run

    has_saddle = (name in BUILTINS and BUILTINS[name].get("saddle") is not None) or saddle is not None
    refused = not_applicable(options.output_rules() + [
        ("curvature", name == "bowl", "sets the curvatures of `bowl` only"),
        ("noise_samples", noise > 0, "is the number of noisy gradients drawn with --noise SIGMA > 0"),
        ("seed", noise > 0, "drives the gradient noise; without --noise SIGMA > 0 nothing is random"),
        ("escape_radius", has_saddle, "measures the escape from a saddle; this surface has none "
                                      "(built-ins saddle and x4-y3 have one, or --f with --saddle)"),
    ])
    if refused:
        raise ConfigError(*refused)
    config = SurfaceConfig(
        name=name, expr=f, curvature=parse_point(curvature or "1,10", "--curvature"),
        start=parse_point(start, "--start"),
        lrs=parse_float_list(lr, "--lr") if lr is not None else None, steps=steps,
        optimizer=options.optimizer_spec(optimizer, momentum, nesterov, betas, eps, weight_decay),
        noise=noise, noise_samples=noise_samples, seed=seed, escape_radius=escape_radius,
        saddle=parse_point(saddle, "--saddle"), out=out, plots=not no_plots,
    )
    bar = Progress()
    try:
        result = run(config, store=Store(store), on_progress=bar)
    finally:
        bar.close()
    emit(result, as_json, print_surface)
    if result["status"] == "diverged":
        for r in result["runs"]:
            if r["verdict"] == "diverged":
                note(f"error: lr={r['lr']:g} {r['reason']}")
        raise typer.Exit(EXIT_DIVERGED)


def _pt(values) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def print_surface(r: dict) -> None:
    """The human text, in the language of LANG (zh_*: Chinese; the numbers and table are the same)."""
    from rich.console import Console
    from rich.table import Table

    from ..i18n import language_from_env, text, translate
    from ..optim.spec import OptimizerSpec
    from ..surface.run import reason_in, run_bound

    lang = language_from_env()
    s = r["surface"]
    print(f"f(x, y) = {s['formula']}" + (f"   [{s['name']}: {s['note']}]" if s["note"] else ""))
    sp, h = r["start_point"], r["hessian_start"]
    print(f"start {_pt(r['start'])}: f = {sp['f']:.6g}, grad f = {_pt(sp['gradient'])}")
    print(f"Hessian at the start: [{_pt(h['matrix'][0])}, {_pt(h['matrix'][1])}], "
          f"eigenvalues {_pt(h['eigenvalues'])}: {translate(h['curvature'], 'curvature.', lang)}")
    kind = text("theory.bound_" + r["lr_bound_kind"].split(" ")[0], lang)
    if r["lr_bound"] is not None:
        print(text("cli.bound_line", lang, bound=r["lr_bound"], kind=kind))
    else:
        print(text("cli.bound_none", lang, kind=kind))
    c = r["critical_point"]
    if c is not None:
        print(f"critical point {_pt(c['point'])}: Hessian eigenvalues {_pt(c['eigenvalues'])}: "
              f"{translate(c['kind'], 'critical.', lang)}")
    n = r["noise_check"]
    if n is not None:
        ci = ", ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(n["ci95_low"], n["ci95_high"]))
        print(f"noise sigma {n['sigma']:g}: mean of {n['samples']} noisy gradients {_pt(n['mean'])}, "
              f"95% CI {ci}; true gradient {_pt(n['true_gradient'])} "
              f"{'inside' if n['agrees'] else 'NOT inside'}: E[J] = grad f")
    table = Table(title=f"{len(r['runs'])} trajectories, {r['steps']} steps each")
    for column in ("lr", "optimizer", "lr / bound", "final (x, y)", "f", "|grad f|", "steps", "verdict"):
        table.add_column(column)
    for t in r["runs"]:
        verdict = text("verdict." + t["verdict"], lang)
        if t["escape_step"] is not None:
            verdict += f" (step {t['escape_step']})"
        elif t["diverged_step"] is not None:
            verdict += f" (step {t['diverged_step']})"
        fin = t["final"]
        ratio = "-" if t.get("lr_over_bound") is None else f"{t['lr_over_bound']:.3g}"
        table.add_row(f"{t['lr']:g}", t["optimizer"], ratio, _pt((fin["x"], fin["y"])), f"{fin['f']:.6g}",
                      f"{fin['grad_norm']:.3g}", str(t["steps"]), verdict)
    console = Console()
    console.width = max(console.width, 130)
    console.print(table)
    spec = OptimizerSpec.from_dict(r["config"]["optimizer"])
    own = run_bound(spec, h["eigenvalues"])
    for t in r["runs"]:
        print(f"lr={t['lr']:g}: {reason_in(t['why'], lang)}")
        value = "" if t.get("lr_bound") is None else f" = {t['lr_bound']:.6g}"
        rule = text(own["lr_bound_key"], lang, **own["lr_bound_fields"])
        print("  " + text("cli.run_bound", lang, optimizer=t["optimizer"], value=value, rule=rule))
    for path in r["figures"]:
        print(f"figure: {path}")
    print(f"run id: {r['run_id']}")


def register(app) -> None:
    """Add this problem's own command to the Typer app (its registry entry's ``command`` hook)."""
    app.command(help=SURFACE_HELP)(surface)
