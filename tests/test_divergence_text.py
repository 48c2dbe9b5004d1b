"""A diverged run's why, on the pages, in the reader's language (issue 20: every reason in both
languages): `/api/runs/ID` adds `divergence_text`, the English message the run wrote or the same
facts in Chinese, made from the record's numbers; the record itself stays English."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sgdlab import i18n
from sgdlab.core.store import Store
from sgdlab.serve.app import create_app


def test_a_diverged_linreg_run_is_explained_in_chinese_and_in_english(cli):
    result = cli("linreg", "--lr", "0.035", "--steps", "300", "--no-plots")
    assert result.exit_code == 3  # diverged: past plain SGD's 2/lambda_max = 0.0231
    (record,) = Store().list_runs()
    divergence = Store().get(record.id).metrics["divergence"]
    with TestClient(create_app(str(Store().path)), base_url="http://127.0.0.1") as client:
        zh = client.get(f"/api/runs/{record.id}?lang=zh").json()
        by_header = client.get(f"/api/runs/{record.id}", headers={"Accept-Language": "zh-CN"}).json()
        en = client.get(f"/api/runs/{record.id}").json()
    assert en["divergence_text"] == divergence["message"]  # what the run wrote, word for word
    assert zh["divergence_text"] == by_header["divergence_text"]
    text = zh["divergence_text"]
    assert text.startswith(f"在第 {divergence['step']} 步发散：") and "学习率 0.035" in text
    ratio = 0.035 / divergence["lr_bound"]
    assert f"最大稳定学习率 {divergence['lr_bound']:.6g} 的 {ratio:.3g} 倍" in text and text.endswith("请使用更小的 --lr")
    assert zh["metrics"]["divergence"]["message"] == divergence["message"]  # the record stays English


def test_both_reasons_and_a_record_without_a_bound():
    nonfinite = {"step": 7, "reason": "the loss became nan", "last_finite_loss": 1e12, "lr": 3.0,
                 "message": "batch size 10: diverged at step 7: ..."}
    assert i18n.divergence_text(nonfinite, "zh") == (
        "在第 7 步发散：损失变为 nan（最后一个有限的损失为 1e+12），学习率 3：请使用更小的 --lr")
    assert i18n.divergence_text(nonfinite, "en") == nonfinite["message"]
    grew = dict(nonfinite, reason="the loss grew past 1e+10 times its first value (3.2e+11)", last_finite_loss=None)
    assert "损失超过了初值的 1e+10 倍（3.2e+11）（最后一个有限的损失为 none）" in i18n.divergence_text(grew, "zh")
    odd = dict(nonfinite, reason="something else")  # an unknown reason is kept as written
    assert "在第 7 步发散：something else（" in i18n.divergence_text(odd, "zh")
    assert i18n.divergence_text({"reason": "x"}, "zh") == "x" and i18n.divergence_text("bad", "zh") is None
