"""`sgdlab optimizers`: the update rules by name, with formula and defaults."""

from __future__ import annotations


from .app import JsonOption, app, emit, handle_errors


@app.command()
@handle_errors
def optimizers(as_json: bool = JsonOption) -> None:
    """List the update rules (--optimizer NAME): formula, defaults, torch.optim twin."""
    from .. import optim

    emit({"optimizers": optim.describe(), "names": optim.names()}, as_json, _print)


def _print(doc: dict) -> None:
    for row in doc["optimizers"]:
        defaults = ", ".join(f"{k}={_show(v)}" for k, v in row["defaults"].items())
        print(f"{row['name']} - {row['summary']}")
        print(f"  defaults: {defaults}")
        for line in row["formula"].splitlines():
            print(f"    {line}")
        print(f"  same as {row['torch_class']} ({row['torch']}); batched: {row['batched']}")
        print()
    print("use: --optimizer NAME with --momentum, --nesterov, --betas, --eps, --weight-decay")


def _show(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)
