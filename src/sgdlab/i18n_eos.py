"""The edge-of-stability study's verdicts in English and Chinese (``theory.edge.analyse`` gives
a key and its numbers; ``sgdlab sharpness`` prints them in LANG's language): a catalog of its own
beside ``sgdlab.i18n``, which merges it into its two catalogs. The English is the study's
document and record, word for word."""

EN = {
    "eos.how_started": "started above {label} = {bound:.4g} (sharpness {first:.4g})",
    "eos.how_reached": "reached {label} = {bound:.4g} at step {hit}",
    "eos.diverged_below": ("diverged: the loss blew up while the sharpness measured stayed below {label} = "
                           "{bound:.4g} (last {last:.4g}, at step {step}): the blow-up came between "
                           "measurements or from outside the curvature measured"),
    "eos.diverged_unmeasured": ("diverged: the loss blew up before the sharpness was first measured, so the "
                                "study cannot say how it compared with {label}; give a smaller --every"),
    "eos.diverged_gd": "diverged: the loss blew up (lr far above 2 / sharpness, and no catapult saved it)",
    "eos.diverged": "diverged: the loss blew up (the sharpness far above {label}, and no catapult saved it)",
    "eos.reached": ("reached the edge: the sharpness {how}; too few measurements after it to tell whether "
                    "it stays there (give more --steps)"),
    "eos.edge": ("at the edge of stability: the sharpness {how} and then hovered around it (median "
                 "{ratio_name} = {median:.3f}) while the loss went on falling, {falling}"),
    "eos.nonmonotone": "non-monotonically ({rises} of the {after} steps after it raised the loss)",
    "eos.monotone": "monotonically",
    "eos.above": "above the edge: the sharpness {how} and stayed at {median:.3f} x {times} (median)",
    "eos.sharpening": ("progressive sharpening: the sharpness rose from {first:.4g} to {last:.4g}, still "
                       "below {label} = {bound:.4g} ({part:.2f} of it); more steps would reach it"),
    "eos.stable": "stable below the edge: the sharpness stayed near {last:.4g}, below {label} = {bound:.4g}",
}

ZH = {
    "eos.how_started": "一开始就高于 {label} = {bound:.4g}（锐度 {first:.4g}）",
    "eos.how_reached": "在第 {hit} 步达到 {label} = {bound:.4g}",
    "eos.diverged_below": ("发散：损失爆炸了，而测得的锐度一直低于 {label} = {bound:.4g}（最后一次 {last:.4g}，"
                           "第 {step} 步）：爆炸发生在两次测量之间，或来自所测曲率之外"),
    "eos.diverged_unmeasured": "发散：第一次测量锐度之前损失就爆炸了，无法判断它与 {label} 的关系；请给更小的 --every",
    "eos.diverged_gd": "发散：损失爆炸了（lr 远高于 2 / 锐度，也没有弹射效应把它拉回来）",
    "eos.diverged": "发散：损失爆炸了（锐度远高于 {label}，也没有弹射效应把它拉回来）",
    "eos.reached": "到达边缘：锐度{how}；之后的测量太少，无法判断它是否停在那里（请给更多 --steps）",
    "eos.edge": "处于稳定性边缘：锐度{how}，随后在它附近徘徊（{ratio_name} 的中位数 = {median:.3f}），而损失继续下降，{falling}",
    "eos.nonmonotone": "但不单调（之后的 {after} 步中有 {rises} 步损失上升）",
    "eos.monotone": "而且单调",
    "eos.above": "高于边缘：锐度{how}，并停在 {median:.3f} × {times}（中位数）",
    "eos.sharpening": "渐进锐化：锐度从 {first:.4g} 升到 {last:.4g}，仍低于 {label} = {bound:.4g}（为它的 {part:.2f}）；再多几步就会到达",
    "eos.stable": "稳定、低于边缘：锐度一直在 {last:.4g} 附近，低于 {label} = {bound:.4g}",
}
