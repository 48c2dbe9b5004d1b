"""The edge-of-stability verdicts in Chinese as well as English (issue 20: every verdict, reason
and theory text in both languages): `analyse` gives each verdict as a catalog key and its numbers
beside the English `verdict`; `sgdlab sharpness` under LANG=zh_* prints them in Chinese, while
`--json` keeps the English."""

from __future__ import annotations

import re

import pytest

from sgdlab.theory.edge import analyse, verdict_text

CJK = re.compile(r"[\u4e00-\u9fff]")


def curve(values, every=10):
    return [{"step": i * every, "value": v} for i, v in enumerate(values)]


# one input per verdict: (sharpness values every 10 steps, status, threshold) -> the key expected
CASES = [
    ([1, 1.05, 1.02], "completed", None, "eos.stable"),
    ([1, 2, 3], "completed", None, "eos.sharpening"),
    ([1, 2, 21, 20, 19, 21], "completed", None, "eos.edge"),
    ([1, 40, 41, 39, 42], "completed", None, "eos.above"),
    ([1, 2, 25], "completed", None, "eos.reached"),
    ([1, 50], "diverged", None, "eos.diverged_gd"),
    ([1, 50], "diverged", 38.0, "eos.diverged"),
    ([1, 2], "diverged", 38.0, "eos.diverged_below"),
    ([], "diverged", 38.0, "eos.diverged_unmeasured"),
    ([30, 40, 38, 37], "completed", 38.0, "eos.edge"),
]


@pytest.mark.parametrize("values, status, threshold, key", CASES)
def test_every_verdict_reads_the_same_in_english_and_has_its_chinese(values, status, threshold, key):
    lr = 0.1  # 2/lr = 20
    losses = [1.0 - 0.01 * i + (0.02 if i % 7 == 3 else 0) for i in range(60)]
    entry = analyse(lr, curve(values), losses, status, threshold, "38/lr" if threshold else "2/lr")
    assert entry["verdict_key"] == key
    assert verdict_text(key, entry["verdict_fields"], "en") == entry["verdict"]
    chinese = verdict_text(key, entry["verdict_fields"], "zh")
    assert CJK.search(chinese) and chinese != entry["verdict"]
    for number in re.findall(r"\d+\.\d+", entry["verdict"]):  # the same numbers in both
        assert number in chinese, (number, chinese)


def test_sharpness_prints_its_verdicts_in_chinese_under_lang_zh(cli, monkeypatch):
    args = ["sharpness", "--limit-train", "100", "--hidden", "8", "--lr", "0.3", "--steps", "4", "--every", "2",
            "--no-plots"]
    english = cli(*args).stdout
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    chinese = cli(*args)
    assert chinese.exit_code == 0, chinese.stderr
    (line,) = [x for x in chinese.stdout.splitlines() if x.startswith("  结论: ")]
    assert CJK.search(line[len("  结论: "):])
    assert "  verdict: " in english and "结论" not in english
    doc = cli.json(*args)  # --json: the English verdict, whatever LANG says
    assert not CJK.search(doc["runs"][0]["verdict"]) and doc["runs"][0]["verdict_key"].startswith("eos.")
