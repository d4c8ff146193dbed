"""Sliding windows over a series, and folding windows back into rows.

A 2-D array ``(n_timesteps, n_features)`` is one series. Its windows are a
read-only view of shape ``(n_timesteps - window + 1, window, n_features)``:
window ``i`` holds rows ``i .. i + window - 1``, so it *ends* at row
``i + window - 1``. No window array is ever materialised here; the prediction
engine copies one batch at a time.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sliding_windows(series, window):
    """Read-only view of every window of ``series``, channels last.

    Parameters
    ----------
    series : ndarray of shape (n_timesteps, n_features)
    window : int
        Rows per window, at most ``n_timesteps``.

    Returns
    -------
    windows : ndarray view of shape (n_timesteps - window + 1, window, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape._windows import sliding_windows
    >>> series = np.arange(10.0).reshape(5, 2)
    >>> w = sliding_windows(series, 3)
    >>> w.shape
    (3, 3, 2)
    >>> w[1]
    array([[2., 3.],
           [4., 5.],
           [6., 7.]])
    """
    # sliding_window_view appends the window axis last; move it before the
    # features to get the (batch, timesteps, features) layout Keras expects.
    return sliding_window_view(series, window, axis=0).transpose(0, 2, 1)


def fold_windows(windows, n_timesteps, *, how="mean"):
    """Fold windows back into rows.

    With ``how="mean"`` (overlap-add averaging), row ``t`` becomes the mean of
    every window's value for row ``t``. With ``how="last"``, row ``t`` is the
    last row of the window that ends at ``t`` (the first window gives the
    rows before it): each row comes from the one window whose end it is.
    Either way, folding the unmodified windows of a series gives the series
    back exactly.

    Parameters
    ----------
    windows : ndarray of shape (n_timesteps - window + 1, window, n_features)
        Window ``i`` covers rows ``i .. i + window - 1``.
    n_timesteps : int
        Rows of the series the windows were cut from.
    how : {"mean", "last"}, default="mean"
        How the windows that cover a row are combined.

    Returns
    -------
    series : ndarray of shape (n_timesteps, n_features), dtype of ``windows``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape._windows import fold_windows, sliding_windows
    >>> series = np.arange(12.0).reshape(6, 2)
    >>> np.array_equal(fold_windows(sliding_windows(series, 4), 6), series)
    True
    """
    n_windows, window, n_features = windows.shape
    if n_windows != n_timesteps - window + 1:
        raise ValueError(
            f"{n_windows} windows of length {window} cannot come from a series "
            f"of {n_timesteps} rows; expected {n_timesteps - window + 1} windows."
        )
    if how == "last":
        return np.concatenate([windows[0, :-1], windows[:, -1]])
    # Average as "reference + mean deviation from it", the reference being the
    # first window that covers each row: windows that agree then fold back to
    # exactly their value, which a plain sum / count does not guarantee.
    reference = np.concatenate([windows[:, 0, :], windows[-1, 1:, :]])
    deviation = np.zeros((n_timesteps, n_features), dtype=np.float64)
    # One vectorised pass per position inside the window, not one per window.
    for offset in range(window):
        deviation[offset : offset + n_windows] += (
            windows[:, offset, :] - reference[offset : offset + n_windows]
        )
    rows = np.arange(n_timesteps)
    counts = np.minimum(rows, n_windows - 1) - np.maximum(0, rows - window + 1) + 1
    deviation /= counts[:, None]
    # Only where the windows disagree: adding a zero would turn -0.0 into 0.0.
    np.add(reference, deviation, out=reference, where=deviation != 0, casting="unsafe")
    return reference
