"""`sgdlab lr-find PROBLEM`: the learning-rate range test beside the bound 2/lambda_max."""

from __future__ import annotations

from typing import Optional

import typer

from typer.core import TyperGroup

from .app import JsonOption, StoreOption, app, emit, handle_errors, not_applicable
from . import options

class LrFindGroup(TyperGroup):
    """`sgdlab lr-find PROBLEM`: one subcommand per problem with an ``lr_find`` hook, its flags
    the config fields the entry names (``Entry.lr_find_options``), built when asked for, so
    `sgdlab --help` imports no problem. A model file's path (``mynet.py``) is a problem too."""

    def list_commands(self, ctx) -> list[str]:
        from .. import problems

        return [e.name for e in problems.with_hook("lr_find")]

    def get_command(self, ctx, name: str):
        from .. import problems
        from ..core.errors import ConfigError

        entry = problems.find(name)
        path = None
        if entry is None and name.endswith(".py"):
            try:
                entry, path = problems.resolve(name), name
            except ConfigError:
                entry = None
        if entry is None or not entry.lr_find:
            return None
        return _command(entry, path)


lr_find_app = typer.Typer(
    cls=LrFindGroup,
    help="The learning-rate range test (fastai's lr_find: 1e-7 to 10 over 100 steps, loss smoothed "
         "with beta 0.98, stop at 4x the best) with 2/lambda_max at initialisation on the same axis.",
    no_args_is_help=True,
)
app.add_typer(lr_find_app, name="lr-find")

START = typer.Option(1e-7, "--start", help="First learning rate.")
END = typer.Option(10.0, "--end", help="Last learning rate.")
NUM = typer.Option(100, "--num", help="Steps (one batch each), lr growing exponentially.")
BETA = typer.Option(0.98, "--beta", help="Smoothing of the loss (exponential moving average, bias-corrected).")
STOP = typer.Option(4.0, "--stop-factor", help="Stop once the smoothed loss exceeds this times its best.")
OUT = typer.Option(None, "--out", help="Folder for the figure (default: <store folder>/<run id>)", show_default=False)
NO_PLOTS = typer.Option(False, "--no-plots", help="Do not draw the figure.")
SETTINGS = {"start": (float, START), "end": (float, END), "num": (int, NUM), "beta": (float, BETA),
            "stop_factor": (float, STOP), "out": (Optional[str], OUT), "no_plots": (bool, NO_PLOTS),
            "store": (Optional[str], StoreOption), "as_json": (bool, JsonOption)}


def _command(entry, path: str | None):
    """The click command of `sgdlab lr-find NAME` (or of a model file's ``path``)."""
    import inspect

    from . import fields

    cls = entry.config_class()
    names = [n for n in entry.lr_find_options if n != entry.path_field]
    params = fields.parameters(cls, names) + [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
        for n, (a, d) in SETTINGS.items()]

    def body(**given) -> None:
        kwargs = fields.values(cls, given, names)
        if path is not None and entry.path_field:
            kwargs[entry.path_field] = path
        config = cls(**kwargs, out=given["out"], plots=not given["no_plots"])
        _run(config, given["start"], given["end"], given["num"], given["beta"], given["stop_factor"],
             given["store"], given["as_json"])

    doc = (f"Range test on {entry.summary or entry.name}, plain SGD from its initialisation.")
    sub = typer.Typer(add_completion=False)
    sub.command(name=path or entry.name)(handle_errors(fields.function(params, body, doc)))
    return typer.main.get_command(sub)


def _run(config, start, end, num, beta, stop_factor, store, as_json) -> None:
    from ..core.errors import ConfigError
    from ..core.store import Store
    from ..lrfind import run

    refused = not_applicable(options.output_rules())
    if refused:
        raise ConfigError(*refused)

    from .progress import Progress

    bar = Progress()  # a bar on a terminal; else one line with the time left when it is long
    try:
        document = run(config, start=start, end=end, num=num, beta=beta, stop_factor=stop_factor,
                       store=Store(store), on_progress=lambda step, steps: bar("lr-find", step, steps))
    finally:
        bar.close()
    emit(document, as_json, print_lr_find)


def print_lr_find(doc: dict) -> None:
    s = doc["settings"]
    print(f"learning-rate range test on {doc['problem']}: lr from {s['start']:g} to {s['end']:g} over "
          f"{s['num']} steps of batch {doc['batch_size']}, plain SGD from the initialisation")
    stop = doc["stop_lr"]
    where = (f"stopped at lr {stop:.4g} after {len(doc['lrs'])} steps (smoothed loss above "
             f"{s['stop_factor']:g}x its best)" if stop else "never blew up within the range")
    print(f"loss {doc['losses'][0]:.4g} at the start; {where}")
    bound = doc["bound"]
    if bound is not None:
        print(f"largest stable learning rate at initialisation (full batch, 2 / lambda_max): {bound:.4g}")
    if doc["blowup_lr"] is not None:
        ratio = "" if bound is None else (f", {doc['blowup_over_bound']:.3g}x the bound (the lr rises "
                                          f"faster than the instability grows)")
        print(f"the loss was back above its start at lr {doc['blowup_lr']:.4g}{ratio}")
    for name, lr in doc["suggestions"].items():
        mark = " (the suggestion)" if name == doc["suggestion_rule"] else ""
        text = "-" if lr is None else f"{lr:.4g}" + ("" if bound is None else f" = {lr / bound:.3g}x the bound")
        print(f"rule {name}: {text}{mark}")
    for text in doc.get("notes", []):
        print(f"note: {text}")
    for path in doc["figures"]:
        print(f"figure: {path}")
    print(f"run id: {doc['run_id']}")
