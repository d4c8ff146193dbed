"""Properties of sliding windows and of folding them back into rows."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lstm_reshape._windows import WindowFolder, fold_windows, sliding_windows

from .strategies import DTYPES, values


@st.composite
def series_and_window(draw):
    """A series (n_timesteps, n_features) and a window length 1..n_timesteps."""
    dtype = draw(st.sampled_from(DTYPES))
    n_timesteps = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 3))
    series = draw(arrays(dtype, (n_timesteps, n_features), elements=values(dtype)))
    window = draw(st.integers(1, n_timesteps))
    return series, window


@given(series_and_window())
def test_sliding_windows_are_read_only_views_of_the_rows(args):
    series, window = args
    windows = sliding_windows(series, window)

    n_windows = len(series) - window + 1
    assert windows.shape == (n_windows, window, series.shape[1])
    assert not windows.flags.writeable
    assert np.shares_memory(windows, series)
    for offset in range(window):
        np.testing.assert_array_equal(windows[:, offset], series[offset : offset + n_windows])


@pytest.mark.parametrize("how", ["mean", "last"])
@given(series_and_window())
def test_folding_sliding_windows_gives_the_series_back(how, args):
    series, window = args
    folded = fold_windows(sliding_windows(series, window), len(series), how=how)

    assert folded.dtype == series.dtype
    assert folded.shape == series.shape
    # Exactly, bit for bit.
    assert folded.tobytes() == np.ascontiguousarray(series).tobytes()


@pytest.mark.parametrize("how", ["mean", "last"])
@given(series_and_window(), st.floats(-1e3, 1e3, allow_subnormal=False))
def test_folding_shifted_windows_gives_the_shifted_series(how, args, shift):
    series, window = args
    shift = series.dtype.type(shift)
    folded = fold_windows(sliding_windows(series, window) + shift, len(series), how=how)

    assert folded.dtype == series.dtype
    eps = np.finfo(series.dtype).eps
    np.testing.assert_allclose(folded, series + shift, rtol=4 * eps, atol=4 * eps * 2e3)
    # Windows that all agree fold back to exactly their common value.
    np.testing.assert_array_equal(folded, series + shift)


@given(series_and_window(), st.data())
def test_folding_any_windows_averages_each_row(args, data):
    series, window = args
    n_timesteps, n_features = series.shape
    n_windows = n_timesteps - window + 1
    dtype = series.dtype
    windows = data.draw(
        arrays(dtype, (n_windows, window, n_features), elements=values(dtype)), label="windows"
    )
    folded = fold_windows(windows, n_timesteps)

    expected = np.zeros((n_timesteps, n_features))
    counts = np.zeros(n_timesteps)
    for i in range(n_windows):
        expected[i : i + window] += windows[i]
        counts[i : i + window] += 1
    expected /= counts[:, None]
    assert folded.dtype == dtype
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(folded, expected, rtol=0, atol=8 * eps * 1e3)


@given(series_and_window(), st.integers(1, 5))
def test_folding_into_the_wrong_length_is_an_error(args, error):
    series, window = args
    windows = sliding_windows(series, window)
    for n_timesteps in (len(series) + error, len(series) - error):
        with pytest.raises(ValueError, match="cannot come from a series"):
            fold_windows(windows, n_timesteps)


@given(series_and_window())
def test_last_fold_takes_each_row_from_the_window_ending_at_it(args):
    series, window = args
    windows = np.array(sliding_windows(series, window))
    windows += np.arange(len(windows), dtype=series.dtype)[:, None, None]  # tag each window
    folded = fold_windows(windows, len(series), how="last")

    ends = np.arange(window - 1, len(series))
    tags = (ends - window + 1).astype(series.dtype)[:, None]
    np.testing.assert_array_equal(folded[ends], series[ends] + tags)
    np.testing.assert_array_equal(folded[: window - 1], series[: window - 1])  # from window 0


@pytest.mark.parametrize("how", ["mean", "last"])
@given(series_and_window(), st.data())
def test_folding_in_batches_gives_what_folding_at_once_gives(how, args, data):
    series, window = args
    n_timesteps, n_features = series.shape
    n_windows = n_timesteps - window + 1
    windows = data.draw(
        arrays(series.dtype, (n_windows, window, n_features), elements=values(series.dtype)),
        label="windows",
    )
    batch = data.draw(st.integers(1, n_windows), label="batch")
    out = np.empty((n_timesteps, n_features), dtype=data.draw(st.sampled_from(DTYPES)))
    folder = WindowFolder(out, window, how)
    for start in reversed(range(0, n_windows, batch)):
        folder.add(start, windows[start : start + batch])

    expected = fold_windows(windows, n_timesteps, how=how).astype(out.dtype)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))  # -0.0 kept


def test_batches_out_of_order_are_an_error():
    folder = WindowFolder(np.empty((10, 1)), 3)
    with pytest.raises(ValueError, match=r"windows 0\.\.3 do not end where the previous batch"):
        folder.add(0, np.zeros((4, 3, 1)))
