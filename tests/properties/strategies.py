"""Hypothesis strategies shared by the property tests."""

import numpy as np
from hypothesis import strategies as st

DTYPES = [np.dtype(np.float32), np.dtype(np.float64)]


def values(dtype):
    """Finite, moderate, normal floats of ``dtype``."""
    return st.floats(
        -1e3,
        1e3,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=8 * np.dtype(dtype).itemsize,
    )
