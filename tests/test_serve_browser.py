"""`sgdlab serve` in a real headless Chromium (Debian's chromium + chromium-driver, via Selenium).

After every test: the browser's console has no error, and its network log shows no request that
left the server on 127.0.0.1. Screenshots of each page go to out/browser/ (paths printed).
Without chromium these tests are skipped, loudly (see conftest's summary banner).

Sizes: a desktop (1280x800) and a phone (390x844, touch), set through Chrome's device metrics.
Languages: English and 中文 (``?lang=``). Accessibility: axe-core (vendored under
tests/vendor/axe-core, MPL-2.0) finds no serious or critical violation on any page.
"""

from __future__ import annotations

import json
import os
import re
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
AXE = (ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
DESKTOP, PHONE = (1280, 800), (390, 844)
TOUCH_PX = 44  # a touch target's least height (Apple HIG / WCAG 2.5.5), in CSS pixels
CJK = re.compile(r"[\u4e00-\u9fff]")
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
                         "--executor", "serial"),
            "study": cli("mnist", "--batch-size", "10,50", "--epochs", "1", "--limit-train", "500",
                         "--limit-test", "100", "--no-plots")}
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


def resize(driver, size) -> None:
    """The viewport at ``size``; a phone is a touch screen."""
    width, height = size
    phone = width < 600
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": phone, "maxTouchPoints": 1})


@pytest.fixture
def page(browser, lab):
    """The browser, checked after the test: no console error, nothing fetched from elsewhere."""
    resize(browser, DESKTOP)
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
    first = js(driver, "return [painted[0].x[0], painted[0].y[0]]")
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
    x0, y0 = js(driver, "return [painted[0].x[0], painted[0].y[0]]")
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
    assert float(driver.find_element(By.ID, "lr-input").get_attribute("value")) > 0.2
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
    # 12 epochs of 1,000 updates: long enough to watch, an epoch's test accuracy every 1,000 steps
    fill(driver, {"batch_size": 1, "epochs": 12, "limit_train": 1000, "plots": False})
    driver.find_element(By.ID, "start").click()
    wait(driver, lambda d: live(d)[0] >= 10 and live(d)[1] == "running", "at least 10 points streamed")
    first = live(driver)[0]
    wait(driver, lambda d: live(d)[0] > first + 10, "the curve grows while it trains")
    # each epoch's test accuracy joins the live curve as it comes, not once the run ends
    wait(driver, lambda d: js(d, "return Number(document.body.dataset.liveEpochs || 0)") >= 1,
         "epoch 1's test accuracy drawn")
    name, xs, ys, axis = js(driver, "const t = document.getElementById('live').data.slice(-1)[0]; "
                                    "return [t.name, t.x, t.y, t.yaxis]")
    assert live(driver)[1] == "running" and name == "test accuracy" and axis == "y2"
    assert xs[:1] == [1000] and all(0 <= y <= 1 for y in ys)  # at the step epoch 1 ended
    shot(driver, "train-live-accuracy")
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
                                 "&& (g.layout.xaxis.range || [])[1] >= 99"), "the live plot shows every point")
    shot(driver, "train")
    store = Store(lab["store"])
    by_command = [r for r in store.list_runs() if r.command == "mnist" and r.sweep_id is None]  # (not the study's)
    statuses = sorted(r.status for r in by_command)
    assert statuses == ["completed", "stopped"], statuses
    done = next(r for r in by_command if r.status == "completed")
    assert len(store.get(done.id).curves["step_loss"]) == 100
    stopped = next(r for r in by_command if r.status == "stopped")
    assert 20 < len(store.get(stopped.id).curves["step_loss"]) < 12_000
    # once it ends, the run's test accuracy (one epoch: one point) joins the curve on its own axis
    wait(driver, lambda d: js(d, "return document.getElementById('live').data.map(t => t.name)")[-1] == "test accuracy",
         "test accuracy drawn")
    accuracy = js(driver, "return document.getElementById('live').data.slice(-1)[0].y")
    assert accuracy == [store.get(done.id).metrics["test_accuracy"]]
    link = driver.find_element(By.PARTIAL_LINK_TEXT, "open run " + done.id)
    link.click()
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data[0].y.length") == 100,
         "the trained run's page")


# -- issue 20: live, truthful, phones, accessibility, 中文 ----------------------------------------
def axe_violations(driver) -> list:
    """axe-core's serious and critical violations on the page as it is now."""
    driver.set_script_timeout(WAIT_S)
    if not js(driver, "return typeof axe !== 'undefined'"):
        js(driver, AXE)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>"
        " [v.id, v.impact, v.nodes.slice(0, 5).map(n => n.target.join(' '))])), e => done([['axe', 'critical', [String(e)]]]));")
    return [v for v in found if v[1] in ("serious", "critical")]


def small_targets(driver) -> list:
    """Visible controls shorter than a finger (checkboxes: their label is the target)."""
    return js(driver, """const out = [], min = arguments[0] - 0.5;
        const seen = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 &&
          getComputedStyle(e).visibility !== 'hidden'; };
        for (const e of document.querySelectorAll('button, select, summary, header a, input')) {
          if (!seen(e) || e.closest('.swagger-ui') || e.type === 'hidden') continue;
          const target = e.type === 'checkbox' || e.type === 'radio' ? (e.closest('label') || e) : e;
          const r = target.getBoundingClientRect();
          if (r.height < min) out.push((e.id || e.name || e.tagName) + ': ' + r.height.toFixed(1));
          if ((e.type === 'checkbox') && e.getBoundingClientRect().width < 20) out.push(e.id + ' box ' + e.getBoundingClientRect().width);
        }
        return out;""", TOUCH_PX)


PAGES = {  # page -> what shows it is drawn
    "": lambda d: verdict(d) is not None,
    "runs": lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-run]"),
    "run": lambda d: js(d, "const g = document.getElementById('curves'); return !!(g.data && g.data.length)"),
    "sweep": lambda d: js(d, "const g = document.getElementById('heatmap'); return !!(g.data && g.data.length)"),
    "overlay": lambda d: js(d, "const g = document.getElementById('curves'); return !!(g.data && g.data.length)"),
    "train": lambda d: d.find_elements(By.ID, "opt-lr"),
    "docs": lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10,
}


def address(lab, name: str, lang: str) -> str:
    query = {"run": "?id=" + lab["linreg"]["run_id"], "sweep": "?id=" + lab["sweep"]["sweep_id"],
             "overlay": "?ids=" + ",".join(c["run_id"] for c in lab["sweep"]["cells"][:2]),
             "": "?s=bowl&opt=sgd,momentum"}.get(name, "")
    return lab["url"] + name + query + ("&" if query else "?") + "lang=" + lang


def check_page(driver, lab, name, size, lang):
    resize(driver, size)
    driver.get(address(lab, name, lang))
    wait(driver, PAGES[name], f"{name or 'playground'} drawn")
    width, inner = js(driver, "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{name}: {width} px wide in a {inner} px window"
    assert js(driver, "return document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")
    if name != "docs":
        heading = driver.find_element(By.TAG_NAME, "h1").text
        assert bool(CJK.search(heading)) == (lang == "zh"), heading
    else:  # Swagger UI's own buttons stay English; our title and operation summaries are translated
        summary = driver.find_element(By.CSS_SELECTOR, ".opblock-summary-description").text
        assert bool(CJK.search(summary)) == (lang == "zh"), summary
    # Plotly's toolbar in the page's language (its zh-CN locale, vendored)
    titles = js(driver, "return [...document.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))")
    if titles:
        assert all(bool(CJK.search(t)) == (lang == "zh") for t in titles), titles
    assert axe_violations(driver) == []
    if size == PHONE:
        assert small_targets(driver) == []
    shot(driver, f"{name or 'playground'}-{size[0]}-{lang}")


@pytest.mark.parametrize("name, size, lang", [("", PHONE, "zh"), ("runs", DESKTOP, "en"), ("docs", PHONE, "en"),
                                             ("docs", DESKTOP, "zh")])
def test_a_page_fits_speaks_its_language_and_passes_axe(page, lab, name, size, lang):
    check_page(page[0], lab, name, size, lang)


@pytest.mark.slow  # every page x both sizes x both languages: about two minutes
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_speaks_its_language_and_passes_axe(page, lab, name, size, lang):
    check_page(page[0], lab, name, size, lang)


def painted_start(driver):
    return js(driver, "return painted.length ? [painted[0].x[0], painted[0].y[0]] : null")


def test_a_touch_drag_moves_the_start_and_does_not_scroll(page, lab):
    driver, _ = page
    resize(driver, PHONE)
    driver.get(lab["url"] + "?s=bowl&lr=0.05&x=-3&y=2&steps=200&opt=sgd")
    wait(driver, lambda d: painted_start(d) == [-3, 2], "the path from (-3, 2)")
    js(driver, "document.getElementById('contour').scrollIntoView({block: 'center'})")
    scrolled = js(driver, "return window.scrollY")
    box = js(driver, "const r = document.querySelector('#contour .nsewdrag').getBoundingClientRect();"
                     "return [r.left, r.top, r.width, r.height]")
    (sx, sy), (tx, ty) = pixel_offset(driver, -3, 2), pixel_offset(driver, 1, -1)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2

    def touch(kind, x, y):
        points = [] if kind == "touchEnd" else [{"x": cx + x, "y": cy + y, "id": 1}]
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", sx, sy)
    for i in range(1, 9):
        touch("touchMove", sx + (tx - sx) * i / 8, sy + (ty - sy) * i / 8)
        time.sleep(0.05)
    touch("touchEnd", tx, ty)
    # pixels -> data: one pixel is 8 / width units at most; the page rounds to 4 digits
    wait(driver, lambda d: (p := painted_start(d)) and abs(p[0] - 1) < 0.1 and abs(p[1] + 1) < 0.1,
         "the path now starts where the finger lifted")
    assert js(driver, "return window.scrollY") == scrolled  # the page did not move under the finger
    assert js(driver, "return getComputedStyle(document.getElementById('contour-wrap')).touchAction") == "none"


def test_the_keyboard_moves_the_start_and_the_verdict_is_announced(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.05&x=-3&y=2&steps=200&opt=sgd")
    wait(driver, lambda d: painted_start(d) == [-3, 2], "the path from (-3, 2)")
    plot = driver.find_element(By.ID, "contour")
    assert plot.get_attribute("tabindex") == "0"
    # the label is written with the table, a frame after the paths
    label = wait(driver, lambda d: "Arrow keys" in (plot.get_attribute("aria-label") or "") and plot.get_attribute("aria-label"),
                 "the contour's label")
    assert label.startswith("Contour of bowl with the paths of sgd slow, from the start (-3, 2)"), label
    plot.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_DOWN)
    # each press: 1/50 of the view (8 wide, 6 high), rounded to 4 digits by the page
    wait(driver, lambda d: painted_start(d) == [-2.68, 1.88], "two steps right, one down")
    assert js(driver, "return [state.x, state.y]") == [-2.68, 1.88]
    announce = driver.find_element(By.ID, "announce")
    assert announce.get_attribute("aria-live") == "polite"
    wait(driver, lambda d: js(d, "return document.getElementById('announce').textContent") == "sgd: slow", "announced")
    field = driver.find_element(By.ID, "lr-input")
    field.clear()
    field.send_keys("0.25", Keys.TAB)  # past 2/λmax = 0.2
    wait(driver, lambda d: verdict(d) == "diverged", "diverged at lr 0.25")
    wait(driver, lambda d: "sgd: diverged" in js(d, "return document.getElementById('announce').textContent"),
         "the new verdict announced")


def test_a_typed_lr_is_exact_and_the_slider_says_its_value(page, lab):
    driver, _ = page
    for lang, words in (("en", "learning rate 0.2"), ("zh", "学习率 0.2")):
        driver.get(lab["url"] + f"?s=bowl&lr=0.1&x=-3&y=2&steps=200&opt=sgd&lang={lang}")
        wait(driver, lambda d: verdict(d) is not None, "drawn")
        field = driver.find_element(By.ID, "lr-input")
        field.clear()
        field.send_keys("0.2", Keys.TAB)  # exactly 2/λmax, which the slider's steps cannot hit
        wait(driver, lambda d: js(d, "return result && result.trajectories[0].lr") == 0.2, "lr 0.2 sent as typed")
        assert js(driver, "return state.lr") == 0.2 and "lr=0.2&" in driver.current_url
        assert driver.find_element(By.ID, "lr").get_attribute("aria-valuetext") == words
        assert f"lang={lang}" in driver.current_url  # the language stays in the address


def test_an_invalid_f_clears_the_picture_and_x_caret_2_is_a_power(page, lab):
    driver, allowed = page
    allowed.append("422")
    driver.get(lab["url"] + "?s=custom&f=x**2%2By**2&opt=sgd")
    wait(driver, lambda d: verdict(d) is not None, "a valid f drawn")
    field = driver.find_element(By.ID, "f")
    field.clear()
    field.send_keys("x + foo(y)")
    wait(driver, lambda d: "foo" in d.find_element(By.ID, "f-error").text, "the error")
    assert js(driver, "return [painted.length, !!document.getElementById('contour').data, "
                      "document.querySelectorAll('#verdicts tr').length, document.getElementById('theory').textContent]") == [0, False, 0, ""]
    field.clear()
    field.send_keys("x^2 + y^2")  # `^` is power once the back end accepts it; until then, its error
    wait(driver, lambda d: verdict(d) is not None or d.find_element(By.ID, "f-error").text, "drawn or refused")


def test_the_contour_is_drawn_once_one_to_one_and_zooms(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.25&x=-3&y=2&steps=50&opt=sgd")
    wait(driver, lambda d: verdict(d) == "diverged", "diverged")
    x_scale, y_scale = js(driver, """const gd = document.getElementById('contour'), r = gd.querySelector('.nsewdrag').getBoundingClientRect();
        const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
        return [r.width / (xr[1] - xr[0]), r.height / (yr[1] - yr[0])];""")
    assert abs(x_scale - y_scale) < 1, (x_scale, y_scale)  # 1:1, up to Plotly's whole-pixel layout
    # the filled contour is not redrawn while the start moves: the same DOM node stays
    js(driver, "window.contourNode = document.querySelector('#contour .contourlayer')")
    plot = driver.find_element(By.ID, "contour")
    plot.send_keys(Keys.ARROW_UP)
    wait(driver, lambda d: painted_start(d) == [-3, 2.12], "moved")
    assert js(driver, "return document.querySelector('#contour .contourlayer') === window.contourNode")
    wait(driver, lambda d: "leaves the view" in d.find_element(By.ID, "off-view").text, "the path leaving the view named")
    driver.find_element(By.ID, "zoom-in").click()
    wait(driver, lambda d: js(d, "return contour && contour.box.join()") == "-2,2,-1.5,1.5", "zoomed in")
    assert "box=-2%2C2%2C-1.5%2C1.5" in driver.current_url
    driver.find_element(By.ID, "fit").click()
    wait(driver, lambda d: js(d, "return contour && contour.box[1] - contour.box[0]") > 8, "the view follows the paths")
    driver.find_element(By.ID, "reset-view").click()
    wait(driver, lambda d: js(d, "return contour && contour.box.join()") == "-4,4,-3,3", "the surface's own view")


def test_each_optimizer_has_its_own_lr_and_its_own_bound(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.05&x=-3&y=2&steps=200&opt=sgd,momentum,adam&olr=adam:0.5")
    wait(driver, lambda d: verdict(d, "adam") is not None, "three runs")
    assert js(driver, "return result.trajectories.map(t => t.lr)") == [0.05, 0.05, 0.5]
    row = lambda name: driver.find_element(By.CSS_SELECTOR, f"#verdicts tr[data-optimizer='{name}']").text  # noqa: E731
    assert "0.2, " in row("sgd")  # 2/λmax on bowl (λmax = 10)
    assert "0.38" in row("momentum")  # heavy-ball: 2(1 + 0.9)/10
    assert "none: " in row("adam")  # no fixed bound, said in words
    assert driver.find_element(By.ID, "lr-adam").get_attribute("value") == "0.5"


def test_train_start_is_in_view_and_the_curve_is_smoothed(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "train")
    wait(driver, lambda d: d.find_elements(By.ID, "opt-lr"), "the form")
    for problem in ("linreg", "mnist"):
        Select(driver.find_element(By.ID, "problem")).select_by_value(problem)
        bottom = js(driver, "return document.getElementById('start').getBoundingClientRect().bottom")
        assert bottom <= 800, f"{problem}: Start at {bottom} px in an 800 px window"
    Select(driver.find_element(By.ID, "problem")).select_by_value("linreg")
    fill(driver, {"steps": 40, "plots": False})
    driver.find_element(By.ID, "start").click()
    wait(driver, lambda d: live(d)[1] == "completed", "the run completes")
    wait(driver, lambda d: js(d, "return document.getElementById('live').data.length") == 2, "raw and smoothed")
    raw, smooth = js(driver, "const d = document.getElementById('live').data; return [d[0].y, d[1].y]")
    assert driver.find_element(By.ID, "live-why").text == ""
    beta, avg = 0.98, 0.0  # the page's EMA, bias-corrected like Adam's: recomputed here
    for n, v in enumerate(raw, 1):
        avg = beta * avg + (1 - beta) * v
        assert smooth[n - 1] == pytest.approx(avg / (1 - beta ** n), rel=1e-12)  # float64 both sides, same order


def test_runs_are_named_by_their_hyperparameters(page, lab):
    driver, _ = page
    run_id = lab["linreg"]["run_id"]
    driver.get(lab["url"] + "runs?lang=zh")
    row = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-run='{run_id}']"), "listed")[0]
    assert "linreg · " in row.text and "lr 0.01" in row.text
    assert "已完成" in row.text  # the status in 中文
    link = row.find_element(By.LINK_TEXT, run_id)
    assert "lang=zh" in link.get_attribute("href")
    ids = [c["run_id"] for c in lab["sweep"]["cells"][:2]]
    driver.get(lab["url"] + "overlay?ids=" + ",".join(ids))
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data.length") == 2, "overlaid")
    names = js(driver, "return document.getElementById('curves').data.map(t => t.name)")
    assert all(" · lr " in n and "b " in n for n in names), names
    driver.get(lab["url"] + "run?id=" + run_id)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#figures img"), "figures")
    for alt in js(driver, "return [...document.querySelectorAll('#figures img')].map(i => i.alt)"):
        assert alt.startswith("Figure ") and "/" not in alt, alt  # words, not a server path


def test_sweep_curves_against_samples_seen(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "sweep?id=" + lab["sweep"]["sweep_id"])
    wait(driver, lambda d: js(d, "const g = document.getElementById('curves'); return g.data && g.data.length") == 4, "curves")
    steps = js(driver, "return document.getElementById('curves').data.map(t => t.x.slice(0, 3))")
    driver.find_element(By.ID, "samples").click()
    samples = js(driver, "return document.getElementById('curves').data.map(t => [t.x.slice(0, 3), t.name])")
    for s, (x, name) in zip(steps, samples):
        batch = int(re.search(r"b (\d+)", name).group(1))
        assert x == [(v + 1) * batch for v in s], name  # step v counts from 0: v + 1 batches seen
    assert "samples seen" in js(driver, "return document.getElementById('curves').layout.xaxis.title.text")
    assert js(driver, "return document.getElementById('heatmap').data[0].x.every(v => v !== 'undefined')")


def test_a_batch_size_study_has_its_lr_axis_and_samples_seen(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "sweep?id=" + lab["study"]["study_id"])
    wait(driver, lambda d: js(d, "const g = document.getElementById('heatmap'); return g.data && g.data.length") == 1, "heatmap")
    assert js(driver, "return document.getElementById('heatmap').data[0].x") == ["0.01"]  # the study's one lr
    assert js(driver, "return document.getElementById('heatmap').layout.xaxis.title.text") == "learning rate"
    assert js(driver, "return document.getElementById('heatmap').data[0].y") == ["10", "50"]
    driver.find_element(By.ID, "samples").click()
    last = js(driver, "return document.getElementById('curves').data.map(t => t.x[t.x.length - 1])")
    assert last == [500, 500]  # one epoch of 500 images, whatever the batch: 50 x 10 and 10 x 50


def test_a_diverged_run_on_train_says_why(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "train?lang=zh")
    wait(driver, lambda d: d.find_elements(By.ID, "opt-lr"), "the form")
    fill(driver, {"lr": 5, "steps": 40, "plots": False})  # far past linreg's stable lr
    driver.find_element(By.ID, "start").click()
    wait(driver, lambda d: live(d)[1] == "diverged", "the run diverges")
    why = wait(driver, lambda d: d.find_element(By.ID, "live-why").text, "the reason shown")
    # the run's own facts in the page's language (the record keeps the CLI's English words)
    assert why.startswith("在第 ") and "发散" in why and "学习率 5" in why, why


def test_the_contour_is_fetched_once_per_surface(page, lab):
    driver, _ = page
    address = lab["url"] + "?s=himmelblau&opt=sgd&steps=30"
    driver.get(address)
    wait(driver, lambda d: verdict(d) is not None, "drawn")
    driver.get_log("performance")  # forget the first visit's requests
    driver.get(address)
    wait(driver, lambda d: verdict(d) is not None, "drawn again")
    asked = [json.loads(e["message"])["message"]["params"]["request"]["url"] for e in driver.get_log("performance")
             if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"]
    assert any("/api/descent" in u for u in asked) and not any("/api/contour" in u for u in asked), asked


def test_verdicts_and_their_reasons_in_chinese(page, lab):
    driver, _ = page
    driver.get(lab["url"] + "?s=bowl&lr=0.05&x=-3&y=2&steps=200&opt=sgd,adam&lang=zh")
    wait(driver, lambda d: verdict(d, "adam") is not None, "drawn")
    assert CJK.search(verdict(driver)), verdict(driver)  # 缓慢 (slow), from the API or the page's catalog
    row = driver.find_element(By.CSS_SELECTOR, "#verdicts tr[data-optimizer='sgd']").text
    assert "步" in driver.find_element(By.CSS_SELECTOR, "#verdicts thead").text  # the headers too
    why = js(driver, "return result.trajectories[0].why_text || null")
    if why is not None:  # an API that speaks the reader's language: its words are the ones shown
        assert why in row and CJK.search(why), (why, row)
    # the page asked in its language: in the body when the API takes it there, else in the query
    assert js(driver, "return langInBody") or "lang=zh" in js(
        driver, "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/descent')).join(' ')")
