"""How live the playground feels: drag-to-redraw latency and Play's frames per second, measured in
headless Chromium (Debian's chromium + chromedriver, via Selenium) against `sgdlab serve`.

Starts `python -m sgdlab serve --port 0` on 127.0.0.1, opens the playground with 4 optimizers x
200 steps on bowl and on rosenbrock, and then, inside the page (times from performance.now()):

- drag to redraw: press on the contour, then move the pointer to --samples new points, one at a
  time; each latency is from the pointermove to the first animation frame whose picture shows a
  path starting at the new point (the page's own `state.x, state.y`);
- Play: press Play and count the animation frames in which the drawn paths grew, over the
  animation's wall time.

    PYTHONPATH=src python3 benchmarks/serve_live.py --samples 15

Works on any version of the page that keeps `state` (the start) and either draws paths as Plotly
"lines" traces in #contour (before issue 20) or paints them on a canvas and lists them in `painted`
(after), so the same script measured the page before and after.
Every wait is bounded (--timeout seconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import start_server  # noqa: E402  (the same loopback server start)

OPTIMIZERS = "sgd,momentum,nesterov,adam"

# the paths drawn now: the page's `painted` (the canvas overlay, issue 20) or, before it, the
# Plotly "lines" traces of #contour
PATHS = """
const gd = document.getElementById('contour');
const drawnPaths = () => typeof painted !== 'undefined' ? painted :
  (gd && gd.data || []).filter(t => t.type === 'scatter' && String(t.mode).includes('lines'));
const paths = drawnPaths();
"""

DRAG = PATHS.replace("const gd", "const done = arguments[arguments.length - 1]; const gd") + """
const area = gd.querySelector('.nsewdrag').getBoundingClientRect();
const u = arguments[0], v = arguments[1];
const point = {clientX: area.left + u * area.width, clientY: area.top + v * area.height,
               bubbles: true, pointerId: 1, pointerType: 'mouse', isPrimary: true, buttons: 1};
const t0 = performance.now();
const target = arguments[2] === 'down' ? gd : window;
target.dispatchEvent(new PointerEvent(arguments[2] === 'down' ? 'pointerdown' : 'pointermove', point));
const want = [state.x, state.y];
const check = () => {
  const live = drawnPaths();
  const ok = live.length && live.every(t => t.x[0] === want[0] && t.y[0] === want[1]);
  if (ok) { done(performance.now() - t0); return; }
  if (performance.now() - t0 > arguments[3] * 1000) { done(-1); return; }
  requestAnimationFrame(check);
};
requestAnimationFrame(check);
"""

PLAY = PATHS.replace("const gd", "const done = arguments[arguments.length - 1]; const gd") + """
const longest = () => Math.max(...drawnPaths().map(t => t.x.length));
document.getElementById('play').click();
const t0 = performance.now();
let frames = 0, last = -1, first = null;
const tick = (now) => {
  const n = longest();
  if (n !== last) { frames += 1; last = n; if (first === null) first = performance.now(); }
  if (!playing || performance.now() - t0 > arguments[0] * 1000) {
    const seconds = (performance.now() - (first || t0)) / 1000;
    done([frames, seconds]);
    return;
  }
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                 "--disable-gpu", "--no-first-run", "--disable-background-networking"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def ready(driver, timeout: float) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(PATHS + "return paths.length === 4 && document.querySelectorAll("
                                   "'#verdicts tr').length === 5"), message="the first descent")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(driver, url: str, surface: str, args) -> dict:
    driver.get(f"{url}?s={surface}&steps=200&opt={OPTIMIZERS}")
    ready(driver, args.timeout)
    driver.set_script_timeout(args.timeout + 5)
    latencies = []
    driver.execute_async_script(DRAG, 0.5, 0.5, "down", args.timeout)
    for i in range(args.samples):  # a zig-zag over the middle of the view
        u = 0.25 + 0.5 * ((i * 7) % args.samples) / max(1, args.samples - 1)
        v = 0.3 + 0.4 * (i % 2)
        ms = driver.execute_async_script(DRAG, u, v, "move", args.timeout)
        if ms < 0:
            raise SystemExit(f"{surface}: no redraw within {args.timeout} s")
        latencies.append(ms)
    driver.execute_script("window.dispatchEvent(new PointerEvent('pointerup', {bubbles: true, pointerId: 1}))")
    ready(driver, args.timeout)
    frames, seconds = driver.execute_async_script(PLAY, args.timeout)
    return {"surface": surface, "p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
            "fps": frames / seconds if seconds > 0 else float("nan"), "frames": frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=15, help="pointer moves per surface")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds any one wait may take")
    parser.add_argument("--surfaces", default="bowl,rosenbrock")
    parser.add_argument("--size", default="1280x800", help="browser window, WIDTHxHEIGHT")
    parser.add_argument("--device", default="cpu", help="accepted for uniformity; the page is CPU work")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        proc, url = start_server(Path(folder) / "runs.db")
        driver = browser(width, height)
        try:
            rows = [measure(driver, url, s, args) for s in args.surfaces.split(",")]
        finally:
            driver.quit()
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"4 optimizers x 200 steps, {args.samples} drags per surface, window {args.size}, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'surface':<12} {'drag p50 ms':>12} {'drag p95 ms':>12} {'Play fps':>9} {'frames':>7}")
    for r in rows:
        print(f"{r['surface']:<12} {r['p50']:>12.0f} {r['p95']:>12.0f} {r['fps']:>9.1f} {r['frames']:>7}")


if __name__ == "__main__":
    main()
