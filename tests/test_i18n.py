"""中文 and English for the back end's words: the catalogs agree, the language is chosen from
lang / Accept-Language / LANG, and the JSON (keys and English values) never changes with it."""

from __future__ import annotations

import json
import string

import pytest
from fastapi.testclient import TestClient

from sgdlab import i18n
from sgdlab.serve.app import create_app


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogs_have_every_key_with_the_same_fields():
    assert set(i18n.EN) == set(i18n.ZH)
    for key, english in i18n.EN.items():
        assert fields_of(i18n.ZH[key]) == fields_of(english), key


@pytest.mark.parametrize("header,lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("fr-FR, zh-TW;q=0.5", "zh"),
    ("en;q=0.2, zh;q=0.7", "zh"), ("", "en"), (None, "en"), ("de-DE", "en"), ("zh;q=bad", "zh"),
    ("zh;q=0, en", "en"), ("zh;q=0", "en"), ("english, zh", "zh"), ("ZH-hk;Q=0.4, fr", "zh"),
    ("en;q=0.5, zh;q=0.5", "en"),  # a tie: the first named wins
])
def test_accept_language(header, lang):
    from sgdlab.serve import pages

    assert i18n.language_from_header(header) == lang
    # the pages choose with the same function: one rule for the page and the playground's JSON
    assert pages.choose_lang(None, header) == (lang, False)
    assert pages.choose_lang("zh", header) == ("zh", True)
    # ?lang= as a reader may type it: the region and the case do not matter; an unknown one is
    # not a choice, so the header decides
    assert pages.choose_lang("zh-CN", header) == pages.choose_lang("ZH_tw", header) == ("zh", True)
    assert pages.choose_lang("en-GB", header) == ("en", True)
    assert pages.choose_lang("fr", header) == (lang, False)


def test_lang_from_the_environment():
    assert i18n.language_from_env({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert i18n.language_from_env({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}) == "en"
    assert i18n.language_from_env({"LANG": "C.UTF-8"}) == "en" and i18n.language_from_env({}) == "en"


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "runs.db"), base_url="http://127.0.0.1") as c:
        yield c


BODY = {"surface": "saddle", "optimizers": [{"name": "sgd"}, {"name": "sgd", "momentum": 0.9}, {"name": "adam"}]}


def test_the_api_speaks_the_language_asked_for(client):
    zh = client.post("/api/descent", json=BODY, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()
    en = client.post("/api/descent", json=BODY | {"lang": "en"}, headers={"Accept-Language": "zh-CN"}).json()
    query = client.post("/api/descent?lang=zh", json=BODY).json()
    assert (zh["lang"], en["lang"], query["lang"]) == ("zh", "en", "zh")
    assert zh["trajectories"][0]["verdict_text"] == "逃离鞍点" and en["trajectories"][0]["verdict_text"] == "escaped saddle"
    assert zh["trajectories"][0]["why_text"] == "在第 38 步离开了鞍点 (0.0, 0.0) 周围半径 1 的范围"
    assert en["trajectories"][0]["why_text"] == en["trajectories"][0]["reason"]  # the English reason
    assert zh["trajectories"][1]["lr_bound_text"].startswith("重球动量：2(1+beta)/lambda_max")
    assert zh["trajectories"][2]["lr_bound_text"].startswith("无：adam")
    assert zh["theory_text"]["critical_kind"] == "鞍点（Hessian 不定）"
    assert en["theory_text"]["curvature"] == en["hessian_start"]["curvature"]
    # everything but the words for the reader is the same in both languages
    drop = ("lang", "theory_text")
    strip = lambda d: {k: v for k, v in d.items() if k not in drop} | {"trajectories": [
        {k: v for k, v in t.items() if not k.endswith("_text") and k != "seconds"} for t in d["trajectories"]]}
    assert strip(zh) == strip(en) == strip(query)


def test_the_cli_follows_lang_and_json_does_not(cli, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    result = cli("surface", "saddle", "--no-plots")
    assert result.exit_code == 0
    assert "逃离鞍点 (step 38)" in result.stdout and "鞍点（Hessian 不定）" in result.stdout
    assert "稳定学习率上界 2/lambda_max = 1，精确" in result.stdout
    zh = cli.json("surface", "saddle", "--no-plots")
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    en = cli.json("surface", "saddle", "--no-plots")
    for doc in (zh, en):
        doc.pop("run_id")
        for r in doc["runs"]:
            r.pop("seconds")
    assert json.dumps(zh, sort_keys=True) == json.dumps(en, sort_keys=True)
    assert en["runs"][0]["verdict"] == "escaped saddle"


def test_each_optimizer_may_have_its_own_lr(client, cli):
    body = {"surface": "rosenbrock", "lr": 0.001, "steps": 100,
            "optimizers": [{"name": "sgd"}, {"name": "adam", "lr": 0.05}]}
    doc = client.post("/api/descent", json=body).json()
    sgd, adam = doc["trajectories"]
    assert (doc["lr"], sgd["lr"], adam["lr"]) == (0.001, 0.001, 0.05)
    want = cli.json("surface", "rosenbrock", "--optimizer", "adam", "--lr", "0.05", "--steps", "100", "--no-plots")
    assert adam["path"] == want["runs"][0]["path"] and adam["verdict"] == want["runs"][0]["verdict"]
    bad = client.post("/api/descent", json=body | {"optimizers": [{"name": "adam", "lr": -1}]})
    assert bad.status_code == 422 and bad.json()["errors"] == ["--lr must be a finite number > 0, got -1.0"]
