"""``/docs`` (Swagger UI, vendored) and ``/openapi.json`` in the reader's language.

The words we write are translated: the API's description and every operation's summary and
description (a problem's page hook brings its own, ``PageHook.summaries``). Swagger UI's own
buttons and labels have no translation (the library ships none) and stay English, as do the
field descriptions of the request models. The language comes from ``?lang=`` or
``Accept-Language`` (``pages.choose_lang``), as for every page; ``/docs?lang=zh`` asks Swagger UI
for ``/openapi.json?lang=zh``.
"""

from __future__ import annotations

import copy
from typing import Any

from . import pages

SWAGGER = "vendor/swagger-ui-bundle-5.35.0.js", "vendor/swagger-ui-5.35.0.css"

TITLE = {"en": "sgdlab API", "zh": "sgdlab API 文档"}

ZH = {
    # the API's description (app.DESCRIPTION)
    """The JSON API behind `sgdlab serve`'s pages, usable from scripts.

Errors are `{"status": "error", "errors": ["one line per problem", ...]}`: 422 for bad input (the
command line's own messages), 404 for an unknown run, sweep or job, 413 for a body over 64 KiB,
429 when too many training runs wait. Numbers are strict JSON: NaN and infinities are the
strings "NaN", "Infinity", "-Infinity", as with `--json`.
""": """`sgdlab serve` 各页面背后的 JSON 接口，脚本也可以直接调用。

出错时返回 `{"status": "error", "errors": ["每个问题一行", ...]}`：输入有误为 422（与命令行的提示相同），
未知的运行、扫描或任务为 404，请求体超过 64 KiB 为 413，等待中的训练太多为 429。数字是严格的 JSON：
NaN 和无穷大写成字符串 "NaN"、"Infinity"、"-Infinity"，与 `--json` 一致。
""",
    "The built-in surfaces, optimizers, expression grammar and limits": "内置曲面、优化器、表达式语法与各项上限",
    "f on a grid over the view box, for the contour plot": "视窗网格上的 f 值，用于画等高线图",
    "Trajectories from a start point, one per optimizer, with verdicts": "从起点出发的轨迹，每个优化器一条，附判定",
    """The same document as `sgdlab surface --json`, one trajectory per optimizer (one lr), and
the words for a reader in ``lang`` (en or zh): each trajectory's ``verdict_text``,
``why_text`` and ``lr_bound_text``, and ``theory_text`` (see ``_texts``).""":
        """与 `sgdlab surface --json` 相同的文档，每个优化器一条轨迹（同一个 lr），并附上 ``lang``（en 或 zh）
语言的说明文字：每条轨迹的 ``verdict_text``、``why_text`` 和 ``lr_bound_text``，以及 ``theory_text``。""",
    "Recorded runs, newest first, filtered by command, status, sweep": "已记录的运行，最新的在前，可按命令、状态、扫描筛选",
    "One run: what `sgdlab runs show ID --json` prints": "一次运行：即 `sgdlab runs show ID --json` 的输出",
    "A run's curves, thinned to max_points for drawing": "一次运行的曲线，抽稀到 max_points 个点用于绘图",
    "The curves of several runs (ids comma separated), for overlaying": "多次运行的曲线（id 以逗号分隔），用于叠加比较",
    "A run's n-th figure (PNG), if the store owns it": "一次运行的第 n 张图（PNG），仅限运行库自己保存的文件",
    "Recorded sweeps and batch-size studies, newest first": "已记录的扫描与批大小研究，最新的在前",
    "A sweep's summary (as `sgdlab sweep --json`) and curves": "一次扫描的汇总（同 `sgdlab sweep --json`）与曲线",
    "Every job this server knows, newest first": "本服务器知道的所有任务，最新的在前",
    "One job, with its loss points from index `since` on": "一个任务，以及从下标 `since` 起的损失点",
    "Cancel a waiting job, or stop a running one at its next step": "取消等待中的任务，或让运行中的任务在下一步停止",
    "Server-sent events: new loss points and status, until it ends": "服务器推送事件（SSE）：新的损失点与状态，直到任务结束",
}


def catalog(lang: str) -> dict[str, str]:
    """English -> ``lang`` for the API's texts: ours, and each page hook's own summary."""
    from .. import problems

    if lang != "zh":
        return {}
    words = dict(ZH)
    for entry in problems.with_hook("page"):
        hook = entry.hook("page")
        translated = dict(getattr(hook, "summaries", ()) or ()).get(lang)
        if translated:
            words[hook.summary] = translated
    return words


def openapi(app, lang: str) -> dict[str, Any]:
    """The app's OpenAPI document with our words in ``lang`` (a copy: FastAPI caches the English)."""
    document = app.openapi()
    words = catalog(lang)
    if not words:
        return document
    document = copy.deepcopy(document)
    info = document["info"]
    info["description"] = words.get(info.get("description", ""), info.get("description", ""))
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for key in ("summary", "description"):
                if key in operation:
                    operation[key] = words.get(operation[key], operation[key])
    return document


def swagger_page(lang: str) -> str:
    """Swagger UI's page for ``lang``: its ``lang`` attribute, our title, the document in ``lang``,
    and our contrast fixes and link fix (css/docs.css, js/docs.js)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(openapi_url="/openapi.json" + ("" if lang == "en" else f"?lang={lang}"),
                               title=TITLE[lang], swagger_js_url=pages.version(SWAGGER[0]),
                               swagger_css_url=pages.version(SWAGGER[1]),
                               swagger_favicon_url="/static/favicon.svg",
                               swagger_ui_parameters={"validatorUrl": None})
    # Swagger UI's page names no language and some of its greys are too light to read: say which
    # language it is, and add our own few contrast fixes after its stylesheet
    return page.body.decode("utf-8").replace("<html>", f'<html lang="{pages.LANGS[lang]}">', 1).replace(
        "</head>", f'<link rel="stylesheet" href="{pages.version("css/docs.css")}">\n'
        f'<script src="{pages.version("js/docs.js")}" defer></script>\n</head>', 1)
