"""The theory beside a run in words, in the reader's language (``LANG``): lambda_max of the loss
Hessian and the run's own update rule's largest stable learning rate from it (``optim.bounds``),
or, for an adaptive rule, why there is none. For documents that carry ``lambda_max``,
``lr_bound`` and ``lr_bound_rule`` beside their config's ``optimizer`` (linreg, logreg); the
rule is recomputed from them so that it can be said in Chinese too, while ``--json`` keeps the
English ``lr_bound_rule``."""

from __future__ import annotations

from typing import Any


def applies(r: dict[str, Any]) -> bool:
    """Whether ``r`` has what ``lines`` needs."""
    return ("lambda_max" in r and "lr_bound_rule" in r
            and isinstance((r.get("config") or {}).get("optimizer"), dict))


def lines(r: dict[str, Any], lang: str | None = None) -> list[str]:
    """Two lines: lambda_max (and whether it is exact or local), then the bound and lr against it."""
    from ..i18n import language_from_env, text
    from ..optim import bounds
    from ..optim.spec import OptimizerSpec

    lang = lang or language_from_env()
    out = []
    lam, kind = r["lambda_max"], r.get("lambda_max_kind")
    if lam is not None:
        out.append(text("cli.lambda_line", lang, lam=lam, kind=text(f"cli.lambda_{kind}", lang))
                   if kind in ("exact", "local") else text("cli.lambda_bare", lang, lam=lam))
    spec = OptimizerSpec.from_dict(r["config"]["optimizer"])
    own = bounds.lr_bound(spec.name, spec.hyperparameters(), float("nan") if lam is None else lam)
    rule = text(own["lr_bound_key"], lang, **own["lr_bound_fields"])
    bound, lr = r.get("lr_bound"), r["config"].get("lr")
    if bound is None or lr is None:
        out.append(text("cli.own_bound_none", lang, rule=rule))
    else:
        out.append(text("cli.own_bound", lang, rule=rule, bound=bound, lr=lr, ratio=lr / bound))
    return out
