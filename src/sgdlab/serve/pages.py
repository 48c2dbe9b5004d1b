"""The HTML pages: one shared head and header, and each page's own body from static/pages/, in
English or 中文.

Pages are assembled from sgdlab's own files only (no data, no user text), so nothing a user typed
can ever become markup here; each page's script fetches its data as JSON and shows it as text.
Text to translate is written ``{{English}}`` in the page files and looked up in
static/i18n/zh.json (English -> 中文), the same catalog the scripts read through ``/i18n/zh.js``.
The language is ``?lang=en|zh`` when given (kept in every link), else the browser's
``Accept-Language``, else English.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from .. import __version__

STATIC = Path(__file__).parent / "static"
PLOTLY = "vendor/plotly-cartesian-4.1.1.min.js"
# Plotly's own zh-CN dictionary (its toolbar's buttons, dates), from the same release; it calls
# Plotly.register itself, and common.js's plotConfig then asks for locale "zh-CN" on zh pages
PLOTLY_LOCALES = {"zh": "vendor/plotly-locale-zh-cn-4.1.1.js"}
LANGS = {"en": "en", "zh": "zh-CN"}  # ours -> the html lang attribute

# route -> (body file and script name, title, plots?); each script reads its own query string
PAGES = {
    "/": ("playground", "descent playground", True), "/runs": ("runs", "runs and sweeps", False),
    "/run": ("run", "run", True), "/sweep": ("sweep", "sweep", True),
    "/overlay": ("overlay", "overlay of runs", True), "/train": ("train", "train", True),
}
NAV = (("/", "Playground"), ("/runs", "Runs"), ("/train", "Train"), ("/docs", "API"))

HEAD = """<!DOCTYPE html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sgdlab · {title}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
{scripts}
</head>
<body data-lang="{lang}" data-version="{version}">
<a class="skip" href="#main">{skip}</a>
<header><span class="brand">sgdlab</span>
  <nav aria-label="{nav_label}">{nav}</nav>
  <a id="lang-switch" class="lang" href="{switch_href}" hreflang="{other}" lang="{other_html}">{other_name}</a>
</header>
<main id="main">
"""


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """English -> the language's text (empty for English: the key is the text)."""
    if lang == "en":
        return {}
    return json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def t(text: str, lang: str) -> str:
    return catalog(lang).get(text, text)


def choose_lang(query_lang: str | None, accept_language: str | None) -> tuple[str, bool]:
    """(language, whether the address named it): ``?lang=`` when it is one we speak, else
    ``Accept-Language`` through ``i18n.language_from_header`` (one rule for pages and JSON)."""
    from .. import i18n

    primary = (query_lang or "").strip().lower().replace("_", "-").split("-")[0]
    if primary in LANGS:  # ?lang=zh, and zh-CN or zh_TW as a reader may type them
        return primary, True
    return i18n.language_from_header(accept_language), False


@lru_cache(maxsize=None)
def version(relative: str) -> str:
    """A static file's address with its content hash: cached for good, refetched when it changes."""
    digest = hashlib.sha256((STATIC / relative).read_bytes()).hexdigest()[:12]
    return f"/static/{relative}?v={digest}"


@lru_cache(maxsize=None)
def catalog_version(lang: str) -> str:
    digest = hashlib.sha256((STATIC / "i18n" / f"{lang}.json").read_bytes()).hexdigest()[:12]
    return f"/i18n/{lang}.js?v={digest}"


def catalog_script(lang: str) -> str:
    """The catalog as a script (the pages' policy runs no inline script): ``sg.MESSAGES``."""
    return f'"use strict";\nsg.MESSAGES = {json.dumps(catalog(lang), ensure_ascii=False)};\n'


def _translate(text: str, lang: str) -> str:
    return re.sub(r"\{\{(.+?)\}\}", lambda m: html.escape(t(m.group(1), lang)), text)


@lru_cache(maxsize=None)
def _body(name: str, lang: str) -> str:
    return _translate((STATIC / "pages" / f"{name}.html").read_text(encoding="utf-8"), lang)


def render(route: str, lang: str = "en", named: bool = False, query: tuple = ()) -> str:
    """The page at ``route`` in ``lang``; ``named``: the address chose the language, so every
    link keeps it. ``query``: the request's own (key, value) pairs, for the language switch."""
    name, title, plots = PAGES[route]
    keep = f"?lang={lang}" if named else ""
    nav = " · ".join(f'<a href="{href}{keep}">{html.escape(t(text, lang))}</a>' for href, text in NAV)
    other = "zh" if lang == "en" else "en"
    switch = urlencode([(k, v) for k, v in query if k != "lang"] + [("lang", other)])
    scripts = ([version(PLOTLY)] if plots else []) + [version("js/common.js")]
    scripts[1:1] = [version(PLOTLY_LOCALES[lang])] if plots and lang in PLOTLY_LOCALES else []
    scripts += [catalog_version(lang)] if lang != "en" else []
    scripts += [version(f"js/{name}.js")]
    head = HEAD.format(
        html_lang=LANGS[lang], lang=lang, version=html.escape(__version__), title=html.escape(t(title, lang)), css=version("css/sgdlab.css"),
        scripts="\n".join(f'<script src="{html.escape(s)}" defer></script>' for s in scripts),
        skip=html.escape(t("Skip to the content", lang)), nav_label=html.escape(t("pages", lang)), nav=nav,
        switch_href=html.escape(route + "?" + switch), other=other, other_html=LANGS[other],
        other_name="中文" if other == "zh" else "English")
    return head + _body(name, lang) + "</main>\n</body>\n</html>\n"
