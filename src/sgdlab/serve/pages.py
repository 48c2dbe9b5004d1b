"""The HTML pages: one shared head and header, and each page's own body from static/pages/.

Pages are assembled from sgdlab's own files only (no data, no user text), so nothing a user typed
can ever become markup here; each page's script fetches its data as JSON and shows it as text.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
PLOTLY = "/static/vendor/plotly-cartesian-4.1.1.min.js"

# route -> (body file and script name, title); each script reads its own query string
PAGES = {
    "/": ("playground", "descent playground"), "/runs": ("runs", "runs and sweeps"),
    "/run": ("run", "run"), "/sweep": ("sweep", "sweep"), "/overlay": ("overlay", "overlay of runs"),
    "/train": ("train", "train"),
}

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sgdlab · {title}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/sgdlab.css">
<script src="{plotly}"></script>
<script src="/static/js/common.js"></script>
<script src="/static/js/{name}.js" defer></script>
</head>
<body>
<header><span class="brand">sgdlab</span>
  <nav><a href="/">Playground</a> · <a href="/runs">Runs</a> · <a href="/train">Train</a> · <a href="/docs">API</a></nav>
</header>
<main>
"""


@lru_cache(maxsize=None)
def render(route: str) -> str:
    name, title = PAGES[route]
    body = (STATIC / "pages" / f"{name}.html").read_text(encoding="utf-8")
    return HEAD.format(title=html.escape(title), plotly=PLOTLY, name=name) + body + "</main>\n</body>\n</html>\n"
