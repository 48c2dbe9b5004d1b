"""The fifth hostile round: the faults it found, each as a test that fails on the code before it."""

from __future__ import annotations

import pytest


def _refused(result, *pieces: str) -> list[str]:
    """One `error: ...` line per problem, exit 2, nothing on stdout, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    for piece in pieces:
        assert any(piece in line for line in lines), (piece, lines)
    return lines


# 1. --noise-every past the run's last update measured step 0 alone, silently
@pytest.mark.parametrize("args,updates,where", [
    (["--max-steps", "4", "--noise-every", "5"], 2, ""),  # 200 images at batch 100: 2 updates
    (["--batch-size", "10,full", "--noise-every", "3"], 1, " at batch size full"),  # the study
])
def test_noise_every_past_the_last_update_is_refused_before_anything_is_written(cli, tmp_path, args,
                                                                                updates, where):
    store = tmp_path / "runs.db"
    result = cli("mnist", "--limit-train", "200", "--store", store, *args)
    every = args[-1]
    _refused(result, f"--noise-every {every} is more than the {updates} update"
             f"{'' if updates == 1 else 's'} of the run{where}: the gradient noise scale would be "
             f"measured at initialisation only; give --noise-every <= {updates}")
    assert not store.exists() and not (tmp_path / "runs").exists()


def test_noise_and_sharpness_every_are_both_named_in_one_refusal(cli):
    result = cli("mnist", "--limit-train", "200", "--max-steps", "2", "--noise-every", "3",
                 "--sharpness-every", "4", "--no-plots")
    lines = _refused(result, "--sharpness-every 4 is more than", "--noise-every 3 is more than")
    assert len(lines) == 2
