"""The one path every estimator uses to run a Keras model over windows.

Windows are copied to float32 one chunk at a time and the model's outputs are
written into a preallocated array, so memory is bounded by the chunk and by
the forward pass's batch, not by ``n_windows * window``. Results are cached
by (model, data, window): grid candidates that change only what happens
*after* the prediction (a threshold, an action) do not run the model again.
"""

import contextlib
import contextvars
import sys

import numpy as np

from . import _cache, _keras
from ._windows import sliding_windows

# Bytes of float32 windows copied at once (then handed to Keras a batch at a
# time). Small enough to keep the memory of a long series bounded. Measured on
# 1,000,000 windows of 24 x 4: 4 MiB predicts as fast as 16 MiB (2.0 s), and a
# long transform peaked 12 MiB lower (the allocator keeps freed chunks for
# reuse).
_CHUNK_BYTES = 4 * 2**20
# Windows per forward pass unless an estimator says otherwise.
FORWARD_BATCH_SIZE = 4096
# The smallest batch a short input is padded to (see _padded_batch_size).
_MIN_BATCH = 32
# Timesteps (batch x window) in one forward pass. A recurrent layer keeps its
# state for every step of every window in the batch, so for long windows this
# bound, not the input chunk, sets transform's memory: 131,072 steps of 64
# units are 32 MiB. Windows of up to 32 steps keep the full default batch.
_MAX_BATCH_TIMESTEPS = 2**17


# The number of windows of the whole input a forward pass belongs to, when it
# is run on part of them (a batch of a rewrite, a chunk of a dask array). See
# predict_windows: it sets the batch size, so that a window is predicted at
# the same batch size however its input is cut.
_input_windows = contextvars.ContextVar("input_windows", default=None)


@contextlib.contextmanager
def windows_of_input(n_windows):
    """Forward passes run inside are parts of an input of ``n_windows``
    windows (unless an enclosing context said so already)."""
    token = _input_windows.set(_input_windows.get() or n_windows)
    try:
        yield
    finally:
        _input_windows.reset(token)


def predict(model, X, window=None, *, batch_size=4096, verbose=0, label=""):
    """Run ``model`` over the windows of ``X``, cached.

    Parameters
    ----------
    model : keras.Model
    X : ndarray of shape (n_timesteps, n_features) or (n_sequences, timesteps, n_features)
        A 2-D series is cut into sliding windows of length ``window``; each
        sequence of a 3-D panel is one window.
    window : int or None
        Window length for a 2-D series; ignored for a panel.
    batch_size : int
        Windows per forward pass.
    verbose : int
        Print progress when > 0.
    label : str
        Prefix of the progress lines.

    Returns
    -------
    predictions : read-only ndarray of shape (n_windows, *output_shape), float32
        One prediction per window, in window order.
    """

    def compute():
        windows = sliding_windows(X, window) if X.ndim == 2 else X
        with windows_of_input(len(windows)):
            predictions = predict_windows(
                model, windows, batch_size=batch_size, verbose=verbose, label=label
            )
        predictions.flags.writeable = False
        return predictions

    if not _cache.caching_predictions():
        return compute()  # a chunk of a dask array: seen once, not worth a digest
    return _cache.memoize(
        _cache.predictions, _cache.prediction_key(model, X, window, batch_size), compute
    )


def predict_windows(
    model, windows, *extra_inputs, batch_size=4096, fixed_batch=False, verbose=0, label=""
):
    """Run ``model`` over an array (or view) of windows, in bounded memory.

    Every call Keras sees has the same batch size, the last one padded, and
    that size depends on the number of windows of the whole input only (see
    ``windows_of_input``). XLA computes a window to other bits at another
    batch size (measured: at 32 against 4096), so this is what makes a
    window's prediction the same however its input is cut into calls; it
    also compiles the forward pass once per model instead of once per
    distinct remainder.

    Parameters
    ----------
    model : keras.Model
    windows : ndarray of shape (n_windows, timesteps, n_features)
        Or any array whose first axis indexes the samples.
    *extra_inputs : ndarray of shape (n_windows, ...)
        Further inputs of a multi-input model, aligned with ``windows``.
    batch_size : int
        Windows per forward pass; lowered for long windows so that one pass
        holds at most 131,072 timesteps.
    fixed_batch : bool
        Run every pass at ``batch_size`` whatever the number of windows, for
        a caller that predicts a few windows at a time and needs each of them
        predicted the same however many come along.
    verbose : int
    label : str

    Returns
    -------
    predictions : ndarray of shape (n_windows, *output_shape), float32
        For a model with several outputs, a list of such arrays.
    """
    n_windows = len(windows)
    timesteps = windows.shape[1] if windows.ndim == 3 else 1
    batch = min(batch_size, max(_MIN_BATCH, _MAX_BATCH_TIMESTEPS // timesteps))
    if not fixed_batch:
        batch = _padded_batch_size(_input_windows.get() or n_windows, batch)
    inputs = (windows, *extra_inputs)
    sample_bytes = 4 * sum(int(np.prod(x.shape[1:])) for x in inputs)
    chunk = batch * max(1, _CHUNK_BYTES // (batch * sample_bytes))
    outputs = None
    for start, stop in _pieces(n_windows, chunk, batch):
        blocks = [_padded(np.asarray(x[start:stop], dtype=np.float32), batch) for x in inputs]
        for first in range(0, stop - start, batch):
            # A batch per call: predict_on_batch runs the step predict
            # compiles, to the same bits on every backend, without building
            # predict's iterator each call (about 2 ms here, two thirds of a
            # call of 32 windows).
            batch_inputs = [block[first : first + batch] for block in blocks]
            with _keras.model_lock(model):
                results = model.predict_on_batch(batch_inputs if extra_inputs else batch_inputs[0])
            if not isinstance(results, list | tuple):
                results = [results]
            if outputs is None:
                outputs = [
                    np.empty((n_windows, *np.shape(r)[1:]), dtype=np.float32) for r in results
                ]
            rows = min(batch, stop - start - first)
            for output, result in zip(outputs, results, strict=True):
                output[start + first : start + first + rows] = np.asarray(result)[:rows]
        if verbose:
            print(f"{label}predicted {stop}/{n_windows} windows", file=sys.stdout, flush=True)
    if outputs is None:
        raise ValueError("There are no windows to predict.")
    return outputs if len(outputs) > 1 else outputs[0]


def _pieces(n_windows, chunk, batch):
    """(start, stop) of every chunk of windows copied for Keras: chunks of
    whole batches, and the remainder of fewer than ``batch`` windows on its
    own, so that only that much is copied again to be padded."""
    for start in range(0, n_windows, chunk):
        stop = min(start + chunk, n_windows)
        whole = start + (stop - start) // batch * batch
        if whole > start:
            yield start, whole
        if stop > whole:
            yield whole, stop


def _padded(block, batch):
    """``block`` repeated at its end up to a multiple of ``batch`` samples."""
    padding = -len(block) % batch
    if not padding:
        return block
    return np.concatenate([block, np.repeat(block[-1:], padding, axis=0)])


def _padded_batch_size(n_windows, batch_size):
    """The batch size Keras is called with for ``n_windows`` windows.

    Inputs shorter than ``batch_size`` are padded to the next power of two, so
    a model is compiled for at most log2(batch_size) shapes however many
    different lengths it is called on.
    """
    if n_windows >= batch_size:
        return batch_size
    return min(batch_size, max(_MIN_BATCH, 1 << (n_windows - 1).bit_length()))
