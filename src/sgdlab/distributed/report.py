"""One human line about a data-parallel run's processes and communication."""

from __future__ import annotations


def describe(r: dict) -> str:
    if r.get("world") == 1:  # --emulate: one process computed the shards
        return (f"{r['nproc']} workers emulated by one process (the chunked reference): "
                "no communication")
    every = "update" if r.get("local_steps") == 1 else f"{r.get('local_steps')} updates"
    how = {"ddp": "DDP", "manual": "all_reduce + divide",
           "local-sgd": f"local SGD, an average every {every}"}.get(r["allreduce"], r["allreduce"])
    per = r.get("comm_seconds_per_step") or 0.0
    share = r.get("comm_fraction")
    return (f"{r['nproc']} processes ({r['backend']}, {how}): {r['communications']} communications, "
            f"{1e3 * per:.2f} ms per step communicating"
            + (f", {100 * share:.0f}% of the training time" if share is not None else ""))
