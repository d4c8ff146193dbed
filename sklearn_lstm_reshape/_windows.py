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
    folder = WindowFolder(np.empty((n_timesteps, n_features), windows.dtype), window, how)
    folder.add(0, windows)
    return folder.out


class WindowFolder:
    """Folds the windows of a series into ``out`` as they come, in batches.

    Batches must come last windows first, each ending where the one before
    it began, the last one starting at window 0; the rows come out exactly as
    :func:`fold_windows` gives them for all the windows at once, while only
    a band of ``window`` rows beyond the batch is held. A long series is
    thereby rewritten without its ``(n_windows, window, n_features)`` array.

    Parameters
    ----------
    out : ndarray of shape (n_timesteps, n_features)
        Receives the rows, cast to its dtype.
    window : int
    how : {"mean", "last"}
    """

    def __init__(self, out, window, how="mean"):
        self.out, self.window, self.how = out, window, how
        self.n_windows = len(out) - window + 1
        self._stop = self.n_windows  # the first window of the last batch added
        # "mean": the rows of the last batch still awaiting earlier windows,
        # their reference value and their deviation from it so far.
        self._reference = self._deviation = None

    def add(self, start, windows):
        """Fold windows ``start .. start + len(windows) - 1``."""
        stop, window = start + len(windows), self.window
        if stop != self._stop or len(windows) == 0:
            raise ValueError(
                f"windows {start}..{stop - 1} do not end where the previous batch "
                f"began (window {self._stop}); add batches last windows first."
            )
        self._stop = start
        if self.how == "last":
            self.out[start + window - 1 : stop + window - 1] = windows[:, -1]
            if start == 0:
                self.out[: window - 1] = windows[0, :-1]
            return
        # Rows start .. stop + window - 2; each row's reference is the first
        # window covering it, and its deviations are added in the order of
        # their position in the window (smallest first), as fold_windows does.
        if self._reference is None:  # the rows after the last window's first
            self._reference = windows[-1, 1:]
            self._deviation = np.zeros(self._reference.shape, dtype=np.float64)
        reference = np.concatenate([windows[:, 0], self._reference])
        deviation = np.concatenate([np.zeros((len(windows), reference.shape[1])), self._deviation])
        for offset in range(window):
            deviation[offset : offset + len(windows)] += (
                windows[:, offset] - reference[offset : offset + len(windows)]
            )
        # The first window - 1 rows still await the windows before this batch.
        waiting = 0 if start == 0 else window - 1
        self._finish(start + waiting, reference[waiting:], deviation[waiting:])
        self._reference, self._deviation = reference[:waiting], deviation[:waiting]

    def _finish(self, start, reference, deviation):
        rows = np.arange(start, start + len(reference))
        counts = np.minimum(rows, self.n_windows - 1) - np.maximum(0, rows - self.window + 1) + 1
        deviation /= counts[:, None]
        # Only where the windows disagree: adding a zero would turn -0.0 into 0.0.
        np.add(reference, deviation, out=reference, where=deviation != 0, casting="unsafe")
        self.out[start : start + len(reference)] = reference
