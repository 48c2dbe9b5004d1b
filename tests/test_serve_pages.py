"""`sgdlab serve`'s pages without a browser: the language (?lang= or Accept-Language), the
catalog covering every text, Plotly only where a page plots and never render-blocking, gzip,
and cache headers. (What the pages do in a browser: tests/test_serve_browser.py.)"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sgdlab.serve import pages
from sgdlab.serve.app import create_app

STATIC = pages.STATIC


@pytest.fixture
def client() -> TestClient:
    with TestClient(create_app(Path(os.environ["SGDLAB_STORE"])), base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize("query, accept, lang, named", [
    ("", None, "en", False),
    ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh", False),
    ("", "en-US,en;q=0.9,zh;q=0.8", "en", False),
    ("", "fr-FR, zh-TW;q=0.5, en;q=0.4", "zh", False),  # the best-liked language we speak
    ("", "fr-FR", "en", False),
    ("", "zh;q=0, en", "en", False),  # q=0: "not this one"
    ("?lang=zh", "en", "zh", True),  # the address wins over the browser
    ("?lang=en", "zh-CN", "en", True),
    ("?lang=xx", "zh-CN", "zh", False),  # an unknown lang in the address is ignored
])
def test_the_language_comes_from_the_address_or_the_browser(client, query, accept, lang, named):
    headers = {"Accept-Language": accept} if accept else {}
    page = client.get("/" + query, headers=headers)
    assert page.status_code == 200
    assert page.headers["content-language"] == lang
    assert "accept-language" in page.headers["vary"].lower()
    assert f'<html lang="{pages.LANGS[lang]}">' in page.text
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", page.text, re.S).group(1)
    assert ("?lang=" in nav) == named  # a language the address chose is kept in every link
    title = "梯度下降演练场" if lang == "zh" else "descent playground"
    assert f"<title>sgdlab · {title}</title>" in page.text


def test_the_language_switch_keeps_the_address(client):
    page = client.get("/run?id=abc&lang=en")
    switch = re.search(r'<a id="lang-switch"[^>]*href="([^"]+)"', page.text).group(1)
    assert switch == "/run?id=abc&amp;lang=zh"


def _keys() -> set[str]:
    """Every text the pages and scripts show: {{...}} in a page, sg.t("...") in a script."""
    keys = set()
    for path in (STATIC / "pages").glob("*.html"):
        keys |= set(re.findall(r"\{\{(.+?)\}\}", path.read_text(encoding="utf-8")))
    for path in (STATIC / "js").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        keys |= {json.loads(f'"{k}"') for k in re.findall(r'sg\.t\("((?:[^"\\]|\\.)*)"', text)}
    keys |= {title for _, title, _ in pages.PAGES.values()} | {text for _, text in pages.NAV}
    keys.discard("English text with {0}")  # the example in common.js's comment
    return keys


def test_every_text_has_its_chinese():
    catalog = pages.catalog("zh")
    missing = sorted(k for k in _keys() if k not in catalog)
    assert not missing, missing
    for key, value in catalog.items():  # the same placeholders on both sides
        assert sorted(re.findall(r"\{\d\}", key)) == sorted(re.findall(r"\{\d\}", value)), key


def test_the_catalog_script_is_the_catalog(client):
    page = client.get("/?lang=zh").text
    src = re.search(r'src="(/i18n/zh\.js\?v=[0-9a-f]+)"', page).group(1)
    script = client.get(src)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    body = script.text.split("sg.MESSAGES = ", 1)[1].rstrip().rstrip(";")
    assert json.loads(body) == pages.catalog("zh")
    assert "immutable" in script.headers["cache-control"]
    assert client.get("/i18n/fr.js").status_code == 404


@pytest.mark.parametrize("route", list(pages.PAGES))
def test_plotly_only_where_a_page_plots_and_no_script_blocks_rendering(client, route):
    page = client.get(route).text
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(" defer" in s for s in scripts), scripts
    assert ("plotly" in page) == pages.PAGES[route][2]
    assert "plotly" not in client.get("/runs").text


def test_static_files_and_json_are_compressed(client):
    page = client.get("/").text
    plotly = re.search(r'src="(/static/vendor/plotly[^"]+)"', page).group(1)
    raw = (STATIC / pages.PLOTLY).read_bytes()
    with client.stream("GET", plotly, headers={"Accept-Encoding": "gzip"}) as got:
        assert got.headers["content-encoding"] == "gzip"
        sent = b"".join(got.iter_raw())
    assert gzip.decompress(sent) == raw
    assert len(sent) < len(raw) / 2  # 1.5 MB of Plotly: about a third of it on the wire
    contour = client.post("/api/contour", json={"surface": "bowl"}, headers={"Accept-Encoding": "gzip"})
    assert contour.status_code == 200 and contour.headers["content-encoding"] == "gzip"
    plain = client.post("/api/contour", json={"surface": "bowl"}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == contour.json()
    assert len(gzip.compress(plain.content)) < len(plain.content)


def test_static_files_are_cached_by_their_hash_and_revalidated_without_it(client):
    page = client.get("/").text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+\?v=[0-9a-f]{12})"', page):
        got = client.get(src)
        assert got.status_code == 200, src
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable", src
    plain = client.get("/static/js/common.js")
    assert plain.headers["cache-control"] == "no-cache" and plain.headers["etag"]
    again = client.get("/static/js/common.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/").headers["cache-control"] == "no-cache"  # pages name the new hashes


def test_the_docs_page_names_its_language(client):
    page = client.get("/docs").text
    assert '<html lang="en">' in page and "css/docs.css?v=" in page and "js/docs.js?v=" in page


@pytest.mark.parametrize("command, config, expected", [
    ("mnist", {"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": False}, "lr": 0.01,
               "batch_size": 100, "hidden": [200, 100], "seed": 0},
     "mnist · sgd β=0.9 · lr 0.01 · b 100 · h 200,100 · seed 0"),
    ("linreg", {"optimizer": {"name": "adam"}, "lr": 0.1, "batch_size": None, "seed": 2019},
     "linreg · adam · lr 0.1 · seed 2019"),
    ("surface", {"name": "bowl", "lrs": [0.1, 0.25], "optimizer": {"name": "sgd", "momentum": 0.9,
                                                                   "nesterov": True}},
     "surface · sgd β=0.9 nesterov · bowl · lr 0.1,0.25"),
    ("report", {}, "report"),
])
def test_a_run_is_labelled_by_its_hyperparameters(command, config, expected):
    from sgdlab.serve.runs import label

    assert label(command, config) == expected


def test_zh_pages_that_plot_load_plotlys_own_zh_cn_locale(client):
    import hashlib

    def scripts(route):
        return re.findall(r'<script src="/static/([^"?]+)', client.get(route).text)

    plotly, locale = pages.PLOTLY, pages.PLOTLY_LOCALES["zh"]
    assert scripts("/?lang=zh")[:3] == [plotly, locale, "js/common.js"]  # after Plotly: it registers itself
    assert locale not in scripts("/") and locale not in scripts("/runs?lang=zh")  # en; a page without plots
    text = (STATIC / locale).read_text(encoding="utf-8")
    assert 'name:"zh-CN"' in text and "Plotly.register(locale)" in text
    digest = hashlib.sha256((STATIC / locale).read_bytes()).hexdigest()
    assert digest in (STATIC / "vendor" / "README.md").read_text()  # unmodified, as recorded
    assert 'locale: sg.lang === "zh" ? "zh-CN" : "en"' in (STATIC / "js" / "common.js").read_text()


def test_docs_and_the_openapi_document_in_chinese(client):
    cjk = re.compile(r"[\u4e00-\u9fff]")
    english = client.get("/openapi.json").json()
    chinese = client.get("/openapi.json?lang=zh").json()
    assert client.get("/openapi.json", headers={"Accept-Language": "zh-CN"}).json() == chinese
    assert english["paths"].keys() == chinese["paths"].keys()
    assert english["components"] == chinese["components"]  # the models' fields stay English
    assert not cjk.search(json.dumps(english, ensure_ascii=False))
    assert cjk.search(chinese["info"]["description"])
    for path, operations in chinese["paths"].items():
        for method, operation in operations.items():
            for key in ("summary", "description"):
                if key in operation:  # every word we wrote, translated (the page hooks' too)
                    assert cjk.search(operation[key]), (path, method, key)
                    assert operation[key] != english["paths"][path][method][key]
    page = client.get("/docs?lang=zh")
    assert page.headers["content-language"] == "zh" and '<html lang="zh-CN">' in page.text
    assert "'/openapi.json?lang=zh'" in page.text and "<title>sgdlab API 文档</title>" in page.text
    assert "/openapi.json?lang" not in client.get("/docs").text
