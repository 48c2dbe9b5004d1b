"""A model file trained data-parallel (`sgdlab train FILE.py --nproc N`) against one process:
the largest relative difference of the per-step losses (float64), whether N real gloo processes
equal the chunked reference (`--emulate`) bit for bit, and the communication fraction.

The model file is the tests' (tests/test_distributed_modelfile.py): a 5-16-1 tanh MLP on 96
seeded random rows, batch 16, 2 epochs (12 steps), lr 0.1. One BLAS thread in this process, as
each worker has. The communication fraction depends on the machine's load; the differences do not.

    PYTHONPATH=src python3 benchmarks/modelfile_parallel.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402

from sgdlab.core.store import Store  # noqa: E402
from sgdlab.modelfile.config import ModelFileConfig  # noqa: E402
from sgdlab.modelfile.run import run  # noqa: E402
from test_distributed_modelfile import BASE, TANH  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.py"
        path.write_text(TANH)
        store = Store(Path(tmp) / "runs.db")
        one = run(ModelFileConfig(file=str(path), **BASE), store=store)["step_losses"]
        print("nproc allreduce  rel. diff vs 1 process  == --emulate  max |diff| vs --emulate  comm fraction")
        for n, how in ((2, "ddp"), (2, "manual"), (4, "ddp")):
            procs = run(ModelFileConfig(file=str(path), **BASE, nproc=n, allreduce=how), store=store)
            emulated = run(ModelFileConfig(file=str(path), **BASE, nproc=n, allreduce=how,
                                           emulate=True), store=store)["step_losses"]
            losses = procs["step_losses"]
            rel = max(abs(a - b) / abs(a) for a, b in zip(one, losses))
            gap = max(abs(a - b) for a, b in zip(emulated, losses))
            print(f"{n:5d} {how:9s} {rel:22.1e}  {str(emulated == losses):11s} {gap:22.1e}"
                  f"  {procs['comm_fraction']:13.2f}")


if __name__ == "__main__":
    main()
