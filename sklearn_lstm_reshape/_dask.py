"""Dask arrays through ``transform``, ``flag`` and ``score_samples``, lazily.

A 3-D panel is computed chunk by chunk along its sequences. A 2-D series is
computed chunk by chunk along its rows, each chunk with the rows its result
depends on from its neighbours (``map_overlap`` without padding at the ends of
the series) and then trimmed to its own rows. Each strategy states how far
that dependence reaches in ``_chunk_overlap``, or refuses, naming why, when a
row's result can depend on rows arbitrarily far away. Everything a chunk uses
beyond its rows was learned in ``fit``, so the computed result is bit for bit
the in-memory one, whatever the chunking (with an int ``random_state`` where
the strategy draws random numbers: the draws are made by window position).

The estimator enters the graph once, as one key that every chunk's task takes
as an argument: a cluster ships it to each worker once, not once per chunk.
Dask is imported only when a dask array is passed.
"""

import contextvars
import uuid
from itertools import accumulate

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _cache, _predict

# The position in the whole input of the first window (a 2-D series) or
# sequence (a panel) of the chunk being computed: random draws are made by
# absolute position, so a chunk draws what the whole input draws there.
first_window = contextvars.ContextVar("first_window", default=0)


def is_dask_array(X):
    """Whether X is a dask array (tested without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "map_blocks")


def refuse_in_fit(estimator, X):
    """fit needs the data in memory: refuse a dask array, saying what to pass."""
    if is_dask_array(X):
        raise TypeError(
            f"{type(estimator).__name__}.fit takes data in memory, not a dask array of "
            f"shape {X.shape}: fit on a part you choose, such as a prefix "
            f"(fit(X[:100_000].compute())) or a sample of a panel's sequences; "
            f"transform then takes the whole dask array, chunk by chunk."
        )


def refuse_in(estimator, method, X, fix):
    """Refuse a dask array in a method that needs the whole of X at once."""
    if is_dask_array(X):
        raise TypeError(
            f"{type(estimator).__name__}.{method} computes its result over the whole "
            f"of X at once, so it does not take a dask array: {fix}."
        )


def lazily(estimator, method, X):
    """``estimator.<method>(X)`` for a dask array X, as a lazy dask array.

    ``method`` is ``"transform"``, ``"flag"`` or ``"score_samples"``.
    """
    X = checked(estimator, X)
    before, after = estimator._chunk_overlap(method, X.ndim)
    columns = estimator._output_columns(method)
    dtype = bool if method == "flag" else X.dtype
    n_windows = windows_of(estimator, X)

    def compute(estimator, block, first):
        result = run_on_chunk(estimator, n_windows, first, getattr(estimator, method), block)
        return np.asarray(result).reshape(*block.shape[:-1], columns)

    if X.ndim == 3:
        import dask.array as da

        X = X.rechunk({1: -1, 2: -1})
        starts = _starts(X.chunks[0])

        def per_sequences(block, estimator, block_info=None):
            return compute(estimator, block, starts[block_info[0]["chunk-location"][0]])

        result = da.map_blocks(
            per_sequences,
            X,
            shipped(estimator),
            chunks=(X.chunks[0], X.chunks[1], (columns,)),
            meta=np.empty((0, 0, 0), dtype),
        )
    else:
        X = _rows_at_least(X.rechunk({1: -1}), max(before, after, estimator._min_rows()))
        result = with_overlap(X, shipped(estimator), compute, before, after, columns, dtype)
    if method == "score_samples" and columns == 1:
        return result[..., 0]
    return result


def checked(estimator, X):
    """X checked against what ``estimator`` was fitted on, as validation does
    in memory (the values themselves are checked chunk by chunk)."""
    check_is_fitted(estimator)
    estimator._check_unchanged_since_fit()
    estimator._check_settings()
    name = type(estimator).__name__
    if X.ndim != estimator._fit_ndim:
        raise ValueError(
            f"X is {X.ndim}-D, but {name} was fitted on {estimator._fit_ndim}-D data. "
            f"Transform data shaped like the data it was fitted on."
        )
    if X.shape[-1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[-1]} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if not np.issubdtype(X.dtype, np.number) and X.dtype != bool:
        raise ValueError(
            f"X must hold numbers only; this dask array has dtype {X.dtype}. Encode "
            f"or drop the non-numeric columns first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)  # as check_array converts in memory
    estimator._check_rows(X)
    return X


def shipped(estimator):
    """The estimator as one key of a graph (not hashed: a Keras model would be
    serialised to compute its token)."""
    import dask

    return dask.delayed(estimator, name=f"{type(estimator).__name__}-{uuid.uuid4().hex}")


def windows_of(estimator, X):
    """The number of model inputs of X: the windows of a series, or a panel's sequences."""
    return len(X) - estimator.window_ + 1 if X.ndim == 2 else len(X)


def run_on_chunk(estimator, n_windows, first, function, *args):
    """``function(*args)`` computing the chunk whose first window (or
    sequence) is window ``first`` of an input of ``n_windows``: random draws
    and forward passes are made as over the whole input, and predictions are
    not cached."""
    token = first_window.set(first)
    try:
        with _cache.predictions_not_cached(), _predict.windows_of_input(n_windows):
            return function(*args)
    finally:
        first_window.reset(token)


def with_overlap(X, estimator, compute, before, after, columns, dtype):
    """``compute(estimator, rows, first)`` of every chunk of a 2-D dask array
    X with ``before`` and ``after`` rows around it (fewer at the ends of the
    series), trimmed to the chunk's rows; ``estimator`` is a key of the graph.
    Chunks must hold ``max(before, after)`` rows or more."""
    import dask.array as da

    starts = _starts(X.chunks[0])
    n_rows = X.shape[0]

    def per_rows(block, estimator, block_info=None):
        index = block_info[0]["chunk-location"][0]
        start, stop = starts[index], starts[index + 1]
        # No padding at the ends of the series: the overlap is what exists.
        padded_before = min(before, start)
        padded_after = min(after, n_rows - stop)
        rows = compute(estimator, block, start - padded_before)
        return rows[padded_before : len(rows) - padded_after]

    padded = da.overlap.overlap(X, depth={0: (before, after), 1: 0}, boundary="none")
    return da.map_blocks(
        per_rows,
        padded,
        estimator,
        chunks=(X.chunks[0], (columns,)),
        meta=np.empty((0, 0), dtype),
    )


def _starts(chunks):
    """The position of each chunk's first element, and the total at the end."""
    return [0, *accumulate(chunks)]


def _rows_at_least(X, minimum):
    """X with neighbouring chunks merged until each holds ``minimum`` rows or
    more (an overlap cannot reach past the neighbouring chunk)."""
    merged = []
    for size in X.chunks[0]:
        if merged and merged[-1] < minimum:
            merged[-1] += size
        else:
            merged.append(size)
    if len(merged) > 1 and merged[-1] < minimum:
        merged[-2] += merged.pop()
    if tuple(merged) == X.chunks[0]:
        return X
    return X.rechunk({0: tuple(merged)})


def in_time_order(X, estimator, compute, *, columns, dtype, history, margin, lookahead):
    """Columns of every row of a 2-D dask array X from a pass in time order.

    The pass carries state from row to row, but forgets it: after ``history``
    rows in a row that the pass left alone (did not mark), a fresh pass
    started at the first of them gives every later row what the whole pass
    gives it. What the pass decides at a row may change the ``lookahead`` rows
    before it, no more. ``compute(estimator, rows, first)`` runs the pass on
    ``rows`` (rows ``first ..`` of X, as a series of their own) and returns
    ``columns`` values per row and a last column, nonzero where the pass
    marked the row; ``estimator`` is a key of the graph.

    Each chunk is first computed from ``margin`` rows before it to
    ``lookahead`` rows after it, in parallel. Then, chunk after chunk, the
    rows the previous (exact) chunk marked tell whether that start was
    clean; where it was not, the chunk is computed again from the last clean
    row of the previous chunk. Returns a dask array of ``columns + 1``
    columns, chunked like X with chunks of at least ``margin`` rows, bit for
    bit the whole pass's values.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    margin = max(margin, history)
    X = _rows_at_least(X.rechunk({1: -1}), max(margin, lookahead, history + 1))
    starts = _starts(X.chunks[0])
    guessed = with_overlap(X, estimator, compute, margin, lookahead, columns + 1, dtype)

    def exact(guess, before, rows_before, rows, rows_after, index, estimator):
        """The guess for chunk ``index``, or the chunk computed again from
        the last clean row before it."""
        start, start_before = starts[index], starts[index - 1]
        marked = np.cumsum(np.concatenate([[0], before[:, -1] != 0]))
        # clean[j]: no marked row among rows start_before + j .. + history - 1.
        clean = marked[history:] == marked[:-history]
        guessed_from = start - min(margin, start) - start_before
        if clean[guessed_from]:
            return guess
        from_here = np.flatnonzero(clean)
        if not len(from_here):
            raise ValueError(
                f"Rows {start_before} to {start - 1} are all within {history} rows of "
                f"a row repaired from history, so the chunk after them cannot be "
                f"computed apart from the rows before them. Rechunk the series into "
                f"longer chunks."
            )
        first = from_here[-1]
        ahead = rows_after[:lookahead] if rows_after is not None else rows[:0]
        series = np.concatenate([rows_before[first:], rows, ahead])
        result = compute(estimator, series, start_before + first)
        return result[len(rows_before) - first : len(result) - len(ahead)]

    name = "in-time-order-" + tokenize(guessed, history, margin, lookahead)
    last = len(X.chunks[0]) - 1
    graph = {(name, 0, 0): (guessed.name, 0, 0)}
    for index in range(1, last + 1):
        graph[(name, index, 0)] = (
            exact,
            (guessed.name, index, 0),
            (name, index - 1, 0),
            (X.name, index - 1, 0),
            (X.name, index, 0),
            (X.name, index + 1, 0) if index < last else None,
            index,
            estimator.key,
        )
    layers = HighLevelGraph.from_collections(name, graph, dependencies=[guessed, X, estimator])
    return da.Array(layers, name, chunks=guessed.chunks, meta=guessed._meta)
