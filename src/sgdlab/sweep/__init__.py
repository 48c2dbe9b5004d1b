"""Sweeps: a grid of ordinary runs (learning rate x batch size x optimizer x seed x ...),
executed serially, in worker processes, or vectorized as one stacked model, recorded under one
sweep id, summarised and drawn.
"""

from .grid import AXES, MAX_CELLS_WITHOUT_YES, SweepSpec, cell_key, expand
from .runner import run_sweep

__all__ = ["AXES", "MAX_CELLS_WITHOUT_YES", "SweepSpec", "cell_key", "expand", "run_sweep"]
