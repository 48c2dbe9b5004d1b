"""`sgdlab serve` in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium).

After every test: the browser's console has no error, and its network log shows no request that
left the server on 127.0.0.1. Screenshots of each page go to out/browser/ (paths printed).
Without chromium these tests are skipped, loudly (see conftest's summary banner).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP = "BROWSER TESTS SKIPPED: install chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
if not (DRIVER.exists() and CHROMIUM):
    pytest.skip(SKIP, allow_module_level=True)

from selenium import webdriver  # noqa: E402  (only where a browser exists)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from sgdlab.core.store import Store  # noqa: E402
from sgdlab.serve.app import create_app  # noqa: E402
from sgdlab.serve.server import start_background  # noqa: E402

WAIT_S = 90  # a loaded 2-core machine: generous, always bounded
SHOTS = ROOT / "out" / "browser"
XSS_X = "<script>window.xss=1</script>"
XSS_Y = "<img src=x onerror=window.xss=2>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store with runs made by the CLI, and the server on a free loopback port."""
    from typer.testing import CliRunner

    from sgdlab.cli import app

    folder = tmp_path_factory.mktemp("serve-lab")
    store = folder / "store" / "runs.db"
    csv = folder / "hostile.csv"
    csv.write_text(f"{XSS_X},{XSS_Y}\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(6)))

    def cli(*args):
        result = CliRunner().invoke(app, [*args, "--store", str(store), "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    runs = {"linreg": cli("linreg", "--out", str(store.parent / "tutorial")),
            "hostile": cli("linreg", "--csv", str(csv), "--no-plots"),
            "sweep": cli("sweep", "linreg", "--lr", "0.005,0.02", "--batch-size", "5,15", "--steps", "30",
                         "--executor", "serial")}
    server = start_background(create_app(store))
    yield {"url": server.url, "store": store, **runs}
    server.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--disable-dev-shm-usage", "--window-size=1300,950", "--disable-gpu",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, lab):
    """The browser, checked after the test: no console error, nothing fetched from elsewhere."""
    browser.get_log("browser"), browser.get_log("performance")  # start from clean logs
    allowed: list[str] = []
    yield browser, allowed
    errors = [e["message"] for e in browser.get_log("browser")
              if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]
    assert not errors, errors
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            assert url.startswith(lab["url"]) or url.startswith(("data:", "blob:")), url


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def wait(driver, condition, what: str):
    # pages redraw their tables while they poll: an element read between two redraws is stale,
    # which means "look again", not "failed"
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: condition(d), message=what)


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def verdict(driver, optimizer: str = "sgd"):
    return js(driver, "const v = document.querySelector(`#verdicts tr[data-optimizer='${arguments[0]}'] "
                      ".verdict`); return v && v.textContent;", optimizer)


def answers(driver) -> int:
    return int(js(driver, "return document.body.dataset.answers || 0"))


def pixel_offset(driver, x: float, y: float):
    """Where the data point (x, y) is, as an offset from the plot area's centre."""
    return js(driver, """const r = document.querySelector('#contour .nsewdrag').getBoundingClientRect();
        const b = contour.box, x = arguments[0], y = arguments[1];
        return [((x - b[0]) / (b[1] - b[0]) - 0.5) * r.width, (0.5 - (y - b[2]) / (b[3] - b[2])) * r.height];""", x, y)


# -- the playground ------------------------------------------------------------------------------
def test_dragging_the_start_on_bowl_redraws_the_path_and_the_verdict(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.05&x=-3&y=2&steps=200&opt=sgd")
    wait(driver, lambda d: verdict(d) == "slow", "verdict slow at (-3, 2), lr 0.05")
    first = js(driver, "return [document.getElementById('contour').data[1].x[0], document.getElementById('contour').data[1].y[0]]")
    assert first == [-3, 2]
    area = driver.find_element(By.CSS_SELECTOR, "#contour .nsewdrag")
    (sx, sy), (tx, ty) = pixel_offset(driver, -3, 2), pixel_offset(driver, 0.1, 1.0)
    before = answers(driver)
    chain = ActionChains(driver).move_to_element_with_offset(area, int(sx), int(sy)).click_and_hold().pause(0.3)
    for i in range(1, 9):
        chain.move_to_element_with_offset(area, int(sx + (tx - sx) * i / 8), int(sy + (ty - sy) * i / 8)).pause(0.35)
    chain.release().perform()
    wait(driver, lambda d: verdict(d) == "converged", "verdict converged after the drag to (0.1, 1)")
    assert answers(driver) - before >= 3  # trajectories were redrawn while dragging, not only at the end
    x0, y0 = js(driver, "const d = document.getElementById('contour').data[1]; return [d.x[0], d.y[0]]")
    assert abs(x0 - 0.1) < 0.1 and abs(y0 - 1.0) < 0.1
    assert "x=" in driver.current_url and "x=-3" not in driver.current_url
    shot(driver, "playground-drag")
    # the address holds the state: a fresh load of it shows the same descent
    link = driver.current_url
    driver.get(link)
    wait(driver, lambda d: verdict(d) == "converged", "the link reproduces the view")
    assert js(driver, "return [state.x, state.y]") == [x0, y0]


def test_moving_the_lr_slider_past_the_bound_makes_it_diverge(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.1&x=-3&y=2&steps=200&opt=sgd")
    wait(driver, lambda d: verdict(d) == "converged", "lr 0.1 converges on bowl")
    assert driver.find_element(By.ID, "bound-label").text == "2/λmax = 0.2"
    slider = driver.find_element(By.ID, "lr")
    slider.click()  # focus; a click lands the thumb where it is (the middle of its range)
    wait(driver, lambda d: verdict(d) is not None, "a verdict after the click")
    js(driver, "arguments[0].value = Math.log10(0.1); arguments[0].dispatchEvent(new Event('input'))", slider)
    wait(driver, lambda d: verdict(d) == "converged", "back at lr 0.1")
    slider.send_keys(*[Keys.ARROW_RIGHT] * 70)  # 70 x 0.005 decades: lr 0.1 -> 0.22 > 2/lambda_max
    wait(driver, lambda d: verdict(d) == "diverged", "lr past 2/lambda_max diverges")
    assert float(driver.find_element(By.ID, "lr-value").text) > 0.2
    assert "diverged" in driver.find_element(By.CSS_SELECTOR, "#verdicts tr[data-optimizer='sgd']").text
    shot(driver, "playground-diverged")


def test_a_bad_expression_shows_its_error_beside_the_field(page, lab):
    driver, allowed = page
    allowed.append("422")  # the refused expressions: the browser logs each 422 answer
    driver.get(lab["url"] + "?s=bowl")
    wait(driver, lambda d: verdict(d) is not None, "bowl drawn")
    Select(driver.find_element(By.ID, "surface")).select_by_value("custom")
    field = driver.find_element(By.ID, "f")
    field.send_keys("x + foo(y)")
    error = driver.find_element(By.ID, "f-error")
    wait(driver, lambda d: "unknown function 'foo' at column 5" in error.text, "the error with its column")
    assert "bad" in field.get_attribute("class")
    shot(driver, "playground-bad-expression")
    field.clear()
    field.send_keys(XSS_Y)
    wait(driver, lambda d: XSS_Y in error.text, "user text shown as text")
    assert js(driver, "return window.xss") is None
    field.clear()
    field.send_keys("x**2 + 3*sin(y)")
    wait(driver, lambda d: error.text == "" and verdict(d) is not None, "a valid expression draws")
    assert "s=custom" in driver.current_url and js(driver, "return state.f") == "x**2 + 3*sin(y)"


def test_play_animates_the_trajectory(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=saddle&opt=sgd,momentum")
    wait(driver, lambda d: verdict(d) == "escaped saddle", "saddle escapes")
    driver.find_element(By.ID, "play").click()
    seen = set()

    def ended(d) -> bool:
        at, playing = js(d, "return [step === null ? -1 : step, playing]")
        seen.add(int(at))
        return len(seen) > 3 and not playing

    wait(driver, ended, "the animation runs to the end")
    assert max(seen) == 60 and 0 <= min(seen) < 60, seen


# -- the run store ---------------------------------------------------------------------------------
def test_the_runs_list_shows_a_cli_run_and_its_curve(page, lab):
    driver, _ = page
    run_id = lab["linreg"]["run_id"]
    driver.get(lab["url"] + "runs")
    row = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-run='{run_id}']"), "the CLI run listed")[0]
    assert "linreg" in row.text and "final_loss = 0.220202" in row.text
    shot(driver, "runs")
    row.find_element(By.LINK_TEXT, run_id).click()
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data[0].y.length") == 32,
         "the run's 32 losses drawn")
    assert js(driver, "return document.getElementById('curves').data[0].y[0]") == pytest.approx(10.2335, abs=1e-4)
    wait(driver, lambda d: js(d, "const i = [...document.images]; return i.length >= 3 && i.every(x => x.complete && x.naturalWidth > 0)"),
         "the run's figures load")
    js(driver, "document.getElementById('logy').click()")  # log axis off and on again: still drawn
    assert js(driver, "return document.getElementById('curves').layout.yaxis.type") == "linear"
    shot(driver, "run")


def test_user_text_is_shown_as_text_everywhere(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "run?id=" + lab["hostile"]["run_id"])
    metrics = driver.find_element(By.ID, "metrics")
    wait(driver, lambda d: XSS_X in metrics.text and XSS_Y in metrics.text, "column names shown literally")
    assert js(driver, "return window.xss") is None
    assert js(driver, "return document.querySelectorAll('img[src=\"x\"], main script').length") == 0
    shot(driver, "run-hostile-columns")


def test_a_sweep_page_and_an_overlay(page, lab):
    driver, _ = page
    sweep = lab["sweep"]
    driver.get(lab["url"] + "sweep?id=" + sweep["sweep_id"])
    wait(driver, lambda d: js(d, "const g = document.getElementById('heatmap'); return g.data && g.data[0].type") == "heatmap",
         "the heatmap")
    assert js(driver, "return document.getElementById('heatmap').data[0].z.length") == 2
    assert js(driver, "return document.getElementById('curves').data.length") == 4
    shot(driver, "sweep")
    ids = [c["run_id"] for c in sweep["cells"][:2]]
    driver.get(lab["url"] + "overlay?ids=" + ",".join(ids))
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data.length") == 2,
         "two runs overlaid")
    shot(driver, "overlay")


def test_the_api_docs_page_works_offline(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "docs")
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10, "Swagger UI lists the routes")
    shot(driver, "docs")


# -- training from the page -------------------------------------------------------------------------
def fill(driver, values: dict):
    for name, value in values.items():
        field = driver.find_element(By.ID, "opt-" + name)
        if field.get_attribute("type") == "checkbox":
            if field.is_selected() != value:
                field.click()
        else:
            field.clear()
            field.send_keys(str(value))


def live(driver):
    return js(driver, "return [Number(document.body.dataset.livePoints || 0), document.body.dataset.liveStatus]")


def test_train_live_queue_stop_and_land_in_the_store(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "train")
    wait(driver, lambda d: d.find_elements(By.ID, "opt-lr"), "the form")
    Select(driver.find_element(By.ID, "problem")).select_by_value("mnist")
    fill(driver, {"batch_size": 1, "epochs": 3, "plots": False})  # 12,000 steps: long enough to watch
    driver.find_element(By.ID, "start").click()
    wait(driver, lambda d: live(d)[0] >= 10 and live(d)[1] == "running", "at least 10 points streamed")
    first = live(driver)[0]
    wait(driver, lambda d: live(d)[0] > first + 10, "the curve grows while it trains")
    long_id = int(js(driver, "return following.id"))
    Select(driver.find_element(By.ID, "problem")).select_by_value("mnist")
    fill(driver, {"batch_size": 10, "epochs": 1, "limit_train": 1000, "limit_test": 200})
    driver.find_element(By.ID, "start").click()  # the second run waits its turn, visibly
    row = f"tr[data-job='{long_id + 1}']"  # found afresh each time: the job table is redrawn as it polls
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row), "listed")
    wait(driver, lambda d: "queued" in d.find_element(By.CSS_SELECTOR, row).text
         and "number 1 in line" in d.find_element(By.CSS_SELECTOR, row).text, "shown as waiting")
    shot(driver, "train-queue")
    # stop the long one (found and clicked in one go: the table may be redrawn in between)
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-job='{long_id}'] button").click() or True,
         "the stop button")
    wait(driver, lambda d: live(d) == [100, "completed"], "the second run streams all 100 steps and completes")
    wait(driver, lambda d: js(d, "const g = document.getElementById('live'); return g.data[0].y.length === 100 "
                                 "&& g.layout.xaxis.range[1] >= 99"), "the live plot shows every point")
    shot(driver, "train")
    store = Store(lab["store"])
    by_command = [r for r in store.list_runs() if r.command == "mnist"]
    statuses = sorted(r.status for r in by_command)
    assert statuses == ["completed", "stopped"], statuses
    done = next(r for r in by_command if r.status == "completed")
    assert len(store.get(done.id).curves["step_loss"]) == 100
    stopped = next(r for r in by_command if r.status == "stopped")
    assert 20 < len(store.get(stopped.id).curves["step_loss"]) < 12_000
    link = driver.find_element(By.PARTIAL_LINK_TEXT, "open run " + done.id)
    link.click()
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data[0].y.length") == 100,
         "the trained run's page")
