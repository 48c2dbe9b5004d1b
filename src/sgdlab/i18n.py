"""中文 and English for the texts the back end writes: verdicts, their reasons, the theory.

``text(key, lang, **fields)`` formats the catalog entry ``key`` of language ``lang`` ("en" or
"zh") with ``str.format``; a key missing from a catalog falls back to English, and an unknown
language to English. ``--json`` keys and the English ``reason``/``lr_bound_rule`` values never
change with the language; only the words meant for a reader do.

The language comes from ``lang`` (a query or body field), else ``Accept-Language``
(``language_from_header``), and on the command line from ``LANG`` (``language_from_env``:
zh_* is Chinese). No torch here: importing this module is free.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("en", "zh")

EN: dict[str, str] = {
    # verdicts (the words; the JSON value stays the English name)
    "verdict.converged": "converged", "verdict.slow": "slow", "verdict.oscillating": "oscillating",
    "verdict.diverged": "diverged", "verdict.escaped saddle": "escaped saddle",
    "verdict.stuck near saddle": "stuck near saddle",
    # why a trajectory got its verdict
    "why.escaped": "left the radius {radius:g} around the saddle {saddle} at step {step}",
    "why.escaped_then": "left the radius {radius:g} around the saddle {saddle} at step {step}; then {then}",
    "why.diverged": "diverged: {then}",
    "why.stuck": ("still within {radius:g} of the saddle {saddle} after {steps} steps "
                  "(distance {distance:.3g}, |grad f| = {grad_norm:.3g})"),
    "why.converged_noise": ("|grad f| = {tail_grad:.3g} at the mean of the last {tail} points, below the "
                            "noise sigma {sigma:g} (+ {tol:g})"),
    "why.converged": "|grad f| = {grad_norm:.3g} <= {tol:g} after {steps} steps",
    "why.rose": ("f rose above its start value at step {step} and ended higher "
                 "({last:.4g} > {first:.4g})"),
    "why.oscillating": ("{percent:.0f}% of the last {pairs} moves reverse direction "
                        "(|grad f| = {grad_norm:.3g} at the end)"),
    "why.slow": "|grad f| = {grad_norm:.3g} after {steps} steps, still above {tol:g}",
    # why a trajectory stopped early
    "stop.nonfinite_point": "the point became non-finite at step {step}",
    "stop.radius": "|(x, y)| = {radius:.3g} passed the blow-up radius {limit:g} at step {step}",
    "stop.nonfinite_f": "f became {value} at step {step}",
    # the stable learning rate of each rule
    "bound.gd": "gd: 2/lambda_max (plain gradient descent)",
    "bound.heavy-ball": "heavy-ball: 2(1+beta)/lambda_max with beta = {beta:g} (PyTorch's momentum)",
    "bound.nesterov": "nesterov: 2(1+beta)/((1+2beta) lambda_max) with beta = {beta:g}",
    "bound.none.adam": ("none: {optimizer} divides each step by a running root mean square of the "
                        "gradient, so no fixed lr is stable or unstable; its preconditioned sharpness "
                        "settles near {threshold:g}/lr instead (beta1 = {beta1:.10g}; Cohen et al. 2022)"),
    "bound.none.rmsprop": ("none: rmsprop divides each step by a running root mean square of the "
                           "gradient, so no fixed lr is stable or unstable; its preconditioned "
                           "sharpness settles near {threshold:g}/lr instead (Cohen et al. 2022)"),
    "bound.none.adagrad": ("none: adagrad's step shrinks with the sum of past squared gradients, so "
                           "any lr is eventually stable; no fixed bound"),
    "bound.no_curvature": "none: no positive curvature at the start, so {rule} has no bound here",
    "bound.infinite_curvature": ("none: lambda_max is infinite (the Hessian overflows float64: values too "
                                 "large to square), so no lr is stable for {rule}"),
    # SGD's weight decay adds to the curvature the rule sees (optim.bounds): the words say so
    "bound.gd.decay": ("gd: 2/(lambda_max + weight_decay) with weight_decay = {weight_decay:g} "
                       "(gradient descent; the decay adds to the curvature)"),
    "bound.heavy-ball.decay": ("heavy-ball: 2(1+beta)/(lambda_max + weight_decay) with beta = {beta:g} "
                               "(PyTorch's momentum), weight_decay = {weight_decay:g}"),
    "bound.nesterov.decay": ("nesterov: 2(1+beta)/((1+2beta) (lambda_max + weight_decay)) with beta = "
                             "{beta:g}, weight_decay = {weight_decay:g}"),
    "bound.nesterov_unstable": ("none: Nesterov momentum beta = {beta:g} > 1 is unstable at every lr along "
                                "the flat directions (its roots multiply to beta (1 - lr lambda), above 1 "
                                "where lr lambda < 1 - 1/beta); give --momentum <= 1"),
    "bound.momentum_unstable": ("none: heavy-ball momentum beta = {beta:g} >= 1 is stable at no learning "
                                "rate (the two roots of its iteration multiply to beta); give --momentum < 1"),
    # the theory panel
    "theory.bound_exact": "exact (f is quadratic: the Hessian is the same everywhere)",
    "theory.bound_local": "local (from the Hessian at the start; f is not quadratic)",
    "theory.bound_none": "none (no positive curvature at the start)",
    "theory.lr_over_bound": "lr / bound = {ratio:.3g}: {side} the stable limit",
    "theory.below": "below", "theory.above": "above",
    "theory.shared_lr": ("one lr is shared by every optimizer: adaptive rules (adam, rmsprop, adagrad) "
                         "have no fixed bound and usually want a different lr than sgd"),
    "curvature.positive": "positive definite (curves up in every direction)",
    "curvature.negative": "negative definite (curves down in every direction)",
    "curvature.indefinite": "indefinite (up in one direction, down in another)",
    "curvature.degenerate": "degenerate (a zero eigenvalue: the Hessian alone cannot tell)",
    "curvature.undefined": "undefined (non-finite Hessian)",
    "critical.minimum": "minimum (positive definite Hessian)",
    "critical.maximum": "maximum (negative definite Hessian)",
    "critical.saddle": "saddle (indefinite Hessian)",
    "critical.degenerate": "degenerate critical point (Hessian has a zero eigenvalue; higher-order terms decide)",
    "critical.not": "not a critical point (the gradient is not zero)",
    # the CLI's human text
    "cli.bound_line": "stable learning rate bound 2/lambda_max = {bound:.6g}, {kind}",
    "cli.bound_none": "stable learning rate bound: {kind}",
    "cli.run_bound": "{optimizer} bound{value}: {rule}",
    # linreg's and logreg's human text: lambda_max, and the run's own rule's bound from it
    "cli.lambda_line": "largest Hessian eigenvalue lambda_max = {lam:.6g} ({kind})",
    "cli.lambda_bare": "largest Hessian eigenvalue lambda_max = {lam:.6g}",
    "cli.lambda_exact": "exact: the loss is quadratic, its Hessian the same everywhere",
    "cli.lambda_local": "local: the Hessian at the initialisation; the loss is not quadratic",
    "cli.own_bound": "largest stable learning rate ({rule}): {bound:.6g}; lr {lr:g} is {ratio:.3g}x it",
    "cli.own_bound_none": "largest stable learning rate: {rule}",
    # a diverged run in words, made from its record's numbers (the pages; ``divergence_text``)
    "div.nonfinite": "the loss became {value}",
    "div.blowup": "the loss grew past {factor} times its first value ({loss})",
    "div.head": "diverged at step {step}: {reason} (last finite loss {last}) with learning rate {lr}",
    "div.over_bound": ", {ratio:.3g}x the largest stable learning rate of this update rule on this problem, {bound:.6g}",
    "div.advice": ": use a smaller --lr",
    # lambda_max inf: the features' squares overflow, so no lr is small enough (core.loop)
    "div.advice.rescale": ": no --lr is small enough; rescale the features{how}",
}

ZH: dict[str, str] = {
    "verdict.converged": "收敛", "verdict.slow": "缓慢", "verdict.oscillating": "振荡",
    "verdict.diverged": "发散", "verdict.escaped saddle": "逃离鞍点",
    "verdict.stuck near saddle": "困在鞍点附近",
    "why.escaped": "在第 {step} 步离开了鞍点 {saddle} 周围半径 {radius:g} 的范围",
    "why.escaped_then": "在第 {step} 步离开了鞍点 {saddle} 周围半径 {radius:g} 的范围；随后{then}",
    "why.diverged": "发散：{then}",
    "why.stuck": ("{steps} 步后仍在鞍点 {saddle} 的 {radius:g} 范围内"
                  "（距离 {distance:.3g}，|grad f| = {grad_norm:.3g}）"),
    "why.converged_noise": ("最后 {tail} 个点的均值处 |grad f| = {tail_grad:.3g}，低于噪声 "
                            "sigma {sigma:g}（+ {tol:g}）"),
    "why.converged": "{steps} 步后 |grad f| = {grad_norm:.3g} <= {tol:g}",
    "why.rose": "f 在第 {step} 步升到起始值之上，最终更高（{last:.4g} > {first:.4g}）",
    "why.oscillating": "最后 {pairs} 次移动中有 {percent:.0f}% 反向（结束时 |grad f| = {grad_norm:.3g}）",
    "why.slow": "{steps} 步后 |grad f| = {grad_norm:.3g}，仍大于 {tol:g}",
    "stop.nonfinite_point": "第 {step} 步时点变为非有限值",
    "stop.radius": "第 {step} 步时 |(x, y)| = {radius:.3g} 超过了爆炸半径 {limit:g}",
    "stop.nonfinite_f": "第 {step} 步时 f 变为 {value}",
    "bound.gd": "gd：2/lambda_max（普通梯度下降）",
    "bound.heavy-ball": "重球动量：2(1+beta)/lambda_max，beta = {beta:g}（PyTorch 的动量形式）",
    "bound.nesterov": "Nesterov：2(1+beta)/((1+2beta) lambda_max)，beta = {beta:g}",
    "bound.none.adam": ("无：{optimizer} 把每一步除以梯度的滑动均方根，所以没有固定的稳定学习率；"
                        "它的预条件锐度会停在 {threshold:g}/lr 附近（beta1 = {beta1:.10g}；Cohen 等 2022）"),
    "bound.none.rmsprop": ("无：rmsprop 把每一步除以梯度的滑动均方根，所以没有固定的稳定学习率；"
                           "它的预条件锐度会停在 {threshold:g}/lr 附近（Cohen 等 2022）"),
    "bound.none.adagrad": "无：adagrad 的步长随过去梯度平方和不断缩小，任何 lr 最终都会稳定；没有固定界",
    "bound.no_curvature": "无：起点处没有正曲率，{rule} 在这里没有界",
    "bound.infinite_curvature": "无：lambda_max 为无穷大（Hessian 超出 float64 范围：数值太大，平方溢出），{rule} 没有稳定的 lr",
    "bound.gd.decay": "gd：2/(lambda_max + weight_decay)，weight_decay = {weight_decay:g}（梯度下降；衰减加到曲率上）",
    "bound.heavy-ball.decay": ("重球动量：2(1+beta)/(lambda_max + weight_decay)，beta = {beta:g}（PyTorch 的动量形式），"
                               "weight_decay = {weight_decay:g}"),
    "bound.nesterov.decay": ("Nesterov：2(1+beta)/((1+2beta) (lambda_max + weight_decay))，beta = {beta:g}，"
                             "weight_decay = {weight_decay:g}"),
    "bound.nesterov_unstable": ("无：Nesterov 动量 beta = {beta:g} > 1 在任何学习率下沿平坦方向都不稳定"
                                "（其根之积为 beta (1 - lr lambda)，当 lr lambda < 1 - 1/beta 时大于 1）；请给 --momentum <= 1"),
    "bound.momentum_unstable": ("无：重球动量 beta = {beta:g} >= 1 在任何学习率下都不稳定（其迭代的两个根之积为 beta）；"
                                "请给 --momentum < 1"),
    "theory.bound_exact": "精确（f 是二次函数：处处 Hessian 相同）",
    "theory.bound_local": "局部（由起点处的 Hessian 得到；f 不是二次函数）",
    "theory.bound_none": "无（起点处没有正曲率）",
    "theory.lr_over_bound": "lr / 界 = {ratio:.3g}：{side}稳定极限",
    "theory.below": "低于", "theory.above": "高于",
    "theory.shared_lr": ("所有优化器共用一个 lr：自适应方法（adam、rmsprop、adagrad）没有固定的界，"
                         "通常需要与 sgd 不同的 lr"),
    "curvature.positive": "正定（各个方向都向上弯）",
    "curvature.negative": "负定（各个方向都向下弯）",
    "curvature.indefinite": "不定（一个方向向上弯，另一个方向向下弯）",
    "curvature.degenerate": "退化（有零特征值：仅凭 Hessian 无法判断）",
    "curvature.undefined": "未定义（Hessian 非有限）",
    "critical.minimum": "极小值点（Hessian 正定）",
    "critical.maximum": "极大值点（Hessian 负定）",
    "critical.saddle": "鞍点（Hessian 不定）",
    "critical.degenerate": "退化临界点（Hessian 有零特征值；由更高阶项决定）",
    "critical.not": "不是临界点（梯度不为零）",
    "cli.bound_line": "稳定学习率上界 2/lambda_max = {bound:.6g}，{kind}",
    "cli.bound_none": "稳定学习率上界：{kind}",
    "cli.run_bound": "{optimizer} 的上界{value}：{rule}",
    "cli.lambda_line": "Hessian 的最大特征值 lambda_max = {lam:.6g}（{kind}）",
    "cli.lambda_bare": "Hessian 的最大特征值 lambda_max = {lam:.6g}",
    "cli.lambda_exact": "精确：损失是二次函数，Hessian 处处相同",
    "cli.lambda_local": "局部：初始点处的 Hessian；损失不是二次函数",
    "cli.own_bound": "最大稳定学习率（{rule}）：{bound:.6g}；lr {lr:g} 是它的 {ratio:.3g} 倍",
    "cli.own_bound_none": "最大稳定学习率：{rule}",
    "div.nonfinite": "损失变为 {value}",
    "div.blowup": "损失超过了初值的 {factor} 倍（{loss}）",
    "div.head": "在第 {step} 步发散：{reason}（最后一个有限的损失为 {last}），学习率 {lr}",
    "div.over_bound": "，是该更新规则在此问题上最大稳定学习率 {bound:.6g} 的 {ratio:.3g} 倍",
    "div.advice": "：请使用更小的 --lr",
    "div.advice.rescale": "：再小的 --lr 也不够小；请缩放特征{how}",
}

from . import i18n_eos  # noqa: E402  (the study's verdicts: a catalog of their own, same keys)

EN |= i18n_eos.EN
ZH |= i18n_eos.ZH
CATALOGS = {"en": EN, "zh": ZH}


def language(value: str | None) -> str:
    """"zh", "zh-CN", "zh_TW.UTF-8" -> "zh"; anything else (None included) -> "en"."""
    if value and str(value).strip().lower().replace("_", "-").startswith("zh"):
        return "zh"
    return "en"


def language_from_header(header: str | None) -> str:
    """The preferred of en/zh in an ``Accept-Language`` header: tags by q-value (highest first),
    then by their order; the first whose primary subtag is en or zh wins ("zh-TW" -> zh). q=0 is
    "not this one"; a q that is not a number is ignored (the tag counts as q=1). English when no
    tag names a language we speak. The page (``serve.pages.choose_lang``) and the playground's
    JSON both use this one function."""
    tags = []
    for order, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:  # "q=bad": ignored, as if absent
                    q = 1.0
        primary = tag.strip().lower().replace("_", "-").split("-")[0]
        if primary in LANGUAGES and q > 0:
            tags.append((-q, order, primary))
    return min(tags)[2] if tags else "en"


def language_from_env(environ=None) -> str:
    """The CLI's language: LC_ALL, then LC_MESSAGES, then LANG (zh_* is Chinese)."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return language(environ[name])
    return "en"


def key_of(english: str, prefix: str) -> str | None:
    """The catalog key under ``prefix`` whose English text is ``english`` (None if there is none):
    for texts made in English elsewhere (the curvature classes) that a reader wants in zh."""
    for key, value in EN.items():
        if key.startswith(prefix) and value == english:
            return key
    return None


def translate(english: str, prefix: str, lang: str) -> str:
    """``english`` in ``lang`` when the catalog has it under ``prefix``; unchanged otherwise."""
    key = key_of(english, prefix)
    return english if key is None else text(key, lang)


def text(key: str, lang: str = "en", **fields: Any) -> str:
    """The catalog entry ``key`` in ``lang``, formatted with ``fields``."""
    template = CATALOGS.get(language(lang), EN).get(key) or EN[key]
    return template.format(**fields)


def divergence_text(divergence: dict[str, Any], lang: str) -> str | None:
    """A run's ``divergence`` record in ``lang``: the English ``message`` as the run wrote it, or
    the same facts in Chinese, made from the record's numbers (step, reason, last finite loss, lr
    and, where the update rule has one, the bound). Records of every problem and age carry these
    (the reason is one of ``core.loop.divergence_reason``'s two sentences); None without them."""
    import re

    if not isinstance(divergence, dict):
        return None
    message = divergence.get("message") or divergence.get("reason")
    if language(lang) == "en" or divergence.get("step") is None:
        return message if isinstance(message, str) else None
    reason = str(divergence.get("reason") or "")
    found = re.fullmatch(r"the loss became (\S+)", reason)
    grew = re.fullmatch(r"the loss grew past (\S+) times its first value \((\S+)\)", reason)
    if found:
        reason = text("div.nonfinite", lang, value=found.group(1))
    elif grew:
        reason = text("div.blowup", lang, factor=grew.group(1), loss=grew.group(2))
    last, lr = divergence.get("last_finite_loss"), divergence.get("lr")
    out = text("div.head", lang, step=divergence["step"], reason=reason,
               last="none" if not isinstance(last, (int, float)) else f"{last:.6g}",
               lr="?" if not isinstance(lr, (int, float)) else f"{lr:g}")
    bound = divergence.get("lr_bound")
    if isinstance(bound, (int, float)) and bound > 0 and isinstance(lr, (int, float)):
        out += text("div.over_bound", lang, ratio=lr / bound, bound=bound)
    if isinstance(divergence.get("rescale"), str):  # the Hessian overflowed: no lr helps
        return out + rescale_advice(divergence["rescale"], lang)
    return out + text("div.advice", lang)


def rescale_advice(flag: str, lang: str) -> str:
    """What helps a run whose Hessian overflowed: rescaling the features, with the problem's
    ``flag`` for it (linreg, logreg: --standardize; "" for none) in ``lang``'s brackets."""
    how = "" if not flag else (f"（{flag}）" if language(lang) == "zh" else f" ({flag})")
    return text("div.advice.rescale", lang, how=how)
