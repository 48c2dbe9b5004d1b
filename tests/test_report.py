"""`sgdlab report`: one self-contained HTML file, user text escaped, clear errors."""

from __future__ import annotations

import re


def test_sweep_report_is_self_contained(cli, tmp_path):
    sweep = cli.json("sweep", "linreg", "--lr", "0.01,0.05", "--batch-size", "5,15", "--steps", "10",
                     "--no-plots", "--executor", "vectorized")
    doc = cli.json("report", "--sweep", sweep["sweep_id"], "--out", "r.html")
    page = (tmp_path / "r.html").read_text()
    assert doc["report"].endswith("r.html")
    assert sweep["sweep_id"] in page
    for cell in sweep["cells"]:
        assert cell["run_id"] in page
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == 5 and all(src.startswith("data:image/png;base64,") for src in images)
    # nothing to fetch: no external references of any kind
    assert not re.search(r'(src|href)="(http|//)', page) and "<script" not in page
    assert "diverged" in page  # lr 0.05 is above 2/lambda_max and is shown as such


def test_user_text_is_escaped(cli, tmp_path):
    hostile = '<script>alert("x")</script>'
    (tmp_path / "d.csv").write_text(f'"{hostile.replace(chr(34), chr(34) * 2)}",y\n1,2\n2,4.1\n3,5.9\n')
    run = cli.json("linreg", "--csv", "d.csv", "--steps", "3")
    assert run["data"]["features"] == [hostile]
    cli.json("report", run["run_id"], "--out", "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page
    assert "&lt;script&gt;" in page


def test_report_of_runs_embeds_their_figures(cli, tmp_path):
    a = cli.json("linreg", "--steps", "3")
    b = cli.json("linreg", "--steps", "5", "--lr", "0.02")
    cli.json("report", a["run_id"], b["run_id"], "--out", "runs.html")
    page = (tmp_path / "runs.html").read_text()
    assert a["run_id"] in page and b["run_id"] in page
    # each run: its recorded curves plus its four figures
    assert page.count("data:image/png;base64,") == 2 * (1 + 4)


def test_report_bad_input(cli):
    assert cli("report").exit_code == 2
    cli.json("linreg", "--no-plots")
    result = cli("report", "--sweep", "s-none")
    assert result.exit_code == 2 and "no sweep 's-none'" in result.stderr
    result = cli("report", "nope")
    assert result.exit_code == 2 and "no run 'nope'" in result.stderr
