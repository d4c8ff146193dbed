"""Strategies, input layouts and assertions shared by the property tests."""

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


LAYOUTS = ["C", "F", "strided"]


def with_layout(X, layout):
    """X as a C-ordered, Fortran-ordered or non-contiguous (strided) array."""
    if layout == "C":
        return np.ascontiguousarray(X)
    if layout == "F":
        return np.asfortranarray(X)
    return np.repeat(X, 2, axis=0)[::2]


def memory_of(X):
    """Copies of X and of the array owning its memory, to detect writes."""
    owner = X.base if isinstance(X.base, np.ndarray) else X
    return X.copy(), owner, owner.copy()


def assert_unmodified(X, memory):
    X_copy, owner, owner_copy = memory
    assert_bits_equal(X, X_copy)
    assert_bits_equal(owner, owner_copy)


def assert_bits_equal(actual, expected):
    """Equal values (NaN equal to NaN), bit for bit (so 0.0 differs from -0.0)."""
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes()
