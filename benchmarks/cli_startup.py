"""How long `sgdlab --help` takes, next to a bare Python start and an `import torch`, in one run.

Usage: python benchmarks/cli_startup.py [--repeats 7] [--json]
Prints the best of N wall-clock times of each command and the ratio to a bare `python -c pass`.
The point: `sgdlab --help` must not import torch (it is imported lazily, inside commands).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def best_of(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "sgdlab --help": [py, "-m", "sgdlab", "--help"],
        "python -c 'import torch'": [py, "-c", "import torch"],
    }
    results = {name: best_of(cmd, args.repeats) for name, cmd in commands.items()}
    if args.json:
        print(json.dumps({"help_s": results["sgdlab --help"], "python_s": results["python -c pass"],
                          "import_torch_s": results["python -c 'import torch'"]}))
        return
    base = results["python -c pass"]
    print(f"{'command':<28} {'best s':>8} {'x bare python':>14}")
    for name, seconds in results.items():
        print(f"{name:<28} {seconds:8.3f} {seconds / base:14.1f}")


if __name__ == "__main__":
    main()
