"""Linear regression's data: the tutorial's 15 points, or a user's CSV file (``core.tabular``,
re-exported here for the callers that know it by this name)."""

from __future__ import annotations

import numpy as np

from ..core.tabular import Table, read_csv, read_text, split_columns  # noqa: F401  (re-exported)

# Section 3.2.1 of the tutorial, verbatim (float32, as it was written).
TUTORIAL_X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313,
              7.997, 3.1]
TUTORIAL_Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65,
              2.904, 1.3]


def tutorial_points() -> Table:
    x = np.array(TUTORIAL_X, dtype=np.float32).reshape(-1, 1)
    y = np.array(TUTORIAL_Y, dtype=np.float32)
    return Table(x=x, y=y, x_names=["x"], y_name="y", source="tutorial (15 points, section 3.2.1)")
