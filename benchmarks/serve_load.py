"""Load on `sgdlab serve`'s playground: latency of /api/descent, one client vs many at once.

Starts `python -m sgdlab serve --port 0` as a subprocess on 127.0.0.1 (loopback only), then for a
fixed time sends what dragging the start point sends: POST /api/descent from random starts. It
stops by itself: each phase lasts --seconds, then the server is shut down.

    PYTHONPATH=src python3 benchmarks/serve_load.py --seconds 5 --concurrency 16

Prints requests, errors, requests/s and latency p50/p95/p99 for 1 client and for N clients side by
side. --device is accepted for uniformity with the other benchmarks; the playground's descent is
scalar work on the CPU, so it is reported and not used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]


def start_server(store: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the server did not start (got {url!r})")
    return proc, url


def body(rng: random.Random, args) -> bytes:
    return json.dumps({"surface": args.surface, "start": [rng.uniform(-3.5, 3.5), rng.uniform(-2.5, 2.5)],
                       "lr": args.lr, "steps": args.steps,
                       "optimizers": [{"name": "sgd"}] * args.optimizers}).encode()


def phase(url: str, clients: int, seconds: float, args) -> dict:
    """``clients`` threads, each with one keep-alive connection, sending until the deadline."""
    parsed = urlparse(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        mine, bad = [], []
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                conn.request("POST", "/api/descent", body=body(rng, args),
                             headers={"Content-Type": "application/json"})
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 200 or not json.loads(data)["trajectories"]:
                    bad.append(f"HTTP {answer.status}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                bad.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ms = sorted(v * 1000 for v in latencies)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))] if ms else float("nan")  # noqa: E731
    return {"clients": clients, "requests": len(ms), "errors": len(errors), "per_s": len(ms) / wall,
            "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": ms[-1] if ms else float("nan"),
            "mean": statistics.fmean(ms) if ms else float("nan"), "error_kinds": sorted(set(errors))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once in phase 2 (default 16)")
    parser.add_argument("--surface", default="bowl")
    parser.add_argument("--steps", type=int, default=200, help="updates per trajectory (default 200)")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--optimizers", type=int, default=1, help="trajectories per request (default 1)")
    parser.add_argument("--device", default="cpu", help="accepted for uniformity; the playground runs on the CPU")
    args = parser.parse_args()
    if not (0 < args.seconds <= 120 and 1 <= args.concurrency <= 256):
        raise SystemExit("--seconds must be in (0, 120] and --concurrency in [1, 256]: the benchmark is bounded")

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "runs.db")
        try:
            phase(url, 2, min(1.0, args.seconds), args)  # warm-up: imports, first compilations
            results = [phase(url, 1, args.seconds, args), phase(url, args.concurrency, args.seconds, args)]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"sgdlab serve on {url} (loopback), POST /api/descent: {args.surface}, {args.steps} steps, "
          f"{args.optimizers} trajectory(ies) per request, {args.seconds:g} s per phase; device: "
          f"{args.device} requested, the descent runs on the CPU; {os.cpu_count()} CPUs")
    print(f"{'clients':>8} {'requests':>9} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    for r in results:
        print(f"{r['clients']:>8} {r['requests']:>9} {r['errors']:>7} {r['per_s']:>8.1f} {r['p50']:>8.1f} "
              f"{r['p95']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f}" +
              (f"  errors: {', '.join(r['error_kinds'])}" if r["errors"] else ""))
    one, many = results
    print(f"throughput {many['per_s'] / one['per_s']:.2f}x with {many['clients']} clients; "
          f"p50 latency {many['p50'] / one['p50']:.2f}x that of one client")
    if one["errors"] or many["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
