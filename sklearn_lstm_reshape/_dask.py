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
from itertools import accumulate, pairwise

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _cache, _predict

# The position in the whole input of the first window (a 2-D series) or
# sequence (a panel) of the chunk being computed: random draws are made by
# absolute position, so a chunk draws what the whole input draws there.
first_window = contextvars.ContextVar("first_window", default=0)
# A series computed in time order is computed this many rows at a time.
ROWS_PER_PASS = 131_072
# ... and computed at most this many chunks ahead of the chunks checked exact.
AHEAD_OF_CHECKS = 2


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


def in_time_order(
    X, estimator, compute, *, tail_shape, dtype, history, margin, lookahead, as_changes=False
):
    """A method of a 2-D dask array X whose result comes from a pass in time order.

    The pass carries state from row to row, but forgets it: after ``history``
    rows in a row that the pass left alone (did not mark), a fresh pass
    started at the first of them gives every later row what the whole pass
    gives it. What the pass decides at a row, and the result of a row, may
    depend on the ``lookahead`` rows after it, no more.
    ``compute(estimator, rows, first)`` runs the pass on ``rows`` (rows
    ``first ..`` of X, as a series of their own) and returns the result, one
    value of shape ``tail_shape`` per row, and one bool per row, True where
    the pass marked it; ``estimator`` is a key of the graph.

    Each chunk is first computed from ``margin`` rows before it to
    ``lookahead`` rows after it, all chunks in parallel, and only its own
    rows are kept. Then, chunk after chunk, the marks of the chunk before
    (exact, as its result) tell whether that start was clean; where it was
    not, the chunk is computed again from the last clean row of the chunk
    before, read again for that. Only the marks pass from a chunk to the
    next, and a chunk is computed at most ``AHEAD_OF_CHECKS`` chunks ahead
    of the last one checked. A part reads its own rows (which may load the
    whole stored chunk they lie in, while they are read), so a worker holds
    about a chunk's result, a result waiting for its check, and one part's
    input and arrays. With ``as_changes`` (a result shaped like X and mostly
    X itself, as a transform's), a result is only the rows the pass changed,
    and the chunk is put together from X as it is needed: a worker then
    holds about one chunk, while it reads one.
    Returns a dask array chunked like X with chunks of at least ``margin``
    rows, bit for bit the whole pass's result.
    """
    import dask
    import dask.array as da

    margin = max(margin, history)
    X = _rows_at_least(X.rechunk({1: -1}), max(margin, lookahead))
    starts = _starts(X.chunks[0])
    n_rows = len(X)

    def run(estimator, reader, first, start, stop, after=None):
        """The result and marks of rows ``start .. stop - 1`` from a pass
        begun at row ``first``, computed ``ROWS_PER_PASS`` rows at a time
        (so that the pass's own arrays stay small), each part from the last
        clean row before it. With ``as_changes`` the result is the rows it
        changes, as (row numbers, values). ``after`` only orders the tasks."""
        end = min(n_rows, stop + lookahead)
        begin, done = first, start
        marks = np.empty(stop - start, dtype=bool)
        result, changes = None, []
        while done < stop:
            upto = min(stop, done + ROWS_PER_PASS)
            # Each part reads its own rows: the chunk's are never held at once.
            rows = reader(begin, min(end, upto + lookahead))
            part, part_marks = compute(estimator, rows, begin)
            part = np.asarray(part)[done - begin : upto - begin]
            if as_changes:
                changed = _changed_rows(part, rows[done - begin : upto - begin])
                changes.append((changed + done, part[changed]))
            else:
                if result is None:
                    result = np.empty((stop - start, *part.shape[1:]), part.dtype)
                result[done - start : upto - start] = part
            marks[done - start : upto - start] = part_marks[done - begin : upto - begin]
            since = max(begin, start)
            clean = np.flatnonzero(_clean_starts(marks[since - start : upto - start], history))
            if len(clean):  # else the pass goes on from where it began
                begin = since + clean[-1]
            done = upto
        if as_changes:
            result = tuple(np.concatenate(column) for column in zip(*changes, strict=True))
        return result, marks

    def exact(estimator, guess, marks_before, reader, start_before, start, stop):
        """The guess, or the chunk computed again from the last clean row."""
        clean = _clean_starts(marks_before, history)
        if clean[max(0, start - margin) - start_before]:
            return guess
        from_here = np.flatnonzero(clean)
        if not len(from_here):
            raise ValueError(
                f"Rows {start_before} to {start - 1} are all within {history} rows of "
                f"a row repaired from history, so the chunk after them cannot be "
                f"computed apart from the rows before them. Rechunk the series into "
                f"longer chunks."
            )
        return run(estimator, reader, start_before + from_here[-1], start, stop)

    reader = shipped(_RowReader(X))
    chunks, checked = [], []
    for index, (start, stop) in enumerate(pairwise(starts)):
        # A chunk is first computed once the chunk AHEAD_OF_CHECKS before it
        # is checked: the results waiting for their check stay few.
        after = checked[index - AHEAD_OF_CHECKS] if index >= AHEAD_OF_CHECKS else None
        first = max(0, start - margin)
        computed = dask.delayed(run, nout=2)(estimator, reader, first, start, stop, after)
        if index:
            computed = dask.delayed(exact, nout=2)(
                estimator, computed, checked[-1], reader, starts[index - 1], start, stop
            )
        result, marks = computed
        checked.append(marks)
        if as_changes:
            result = dask.delayed(_with_changes)(reader, start, stop, result)
        chunks.append(da.from_delayed(result, shape=(stop - start, *tail_shape), dtype=dtype))
    return da.concatenate(chunks)


def _changed_rows(result, rows):
    """The indices of the rows of ``result`` not bit for bit those of ``rows``."""
    unsigned = f"u{result.dtype.itemsize}"
    different = result.view(unsigned) != np.asarray(rows, result.dtype).view(unsigned)
    return np.flatnonzero(different.reshape(len(result), -1).any(axis=1))


def _with_changes(reader, start, stop, changes):
    """Rows ``start .. stop - 1`` of X, read now, with ``changes`` (row numbers and values)."""
    rows = reader(start, stop)
    if rows.base is not None or not rows.flags.writeable:
        rows = rows.copy()
    where, values = changes
    rows[where - start] = values
    return rows


def _clean_starts(marks, history):
    """``clean[j]``: no row among ``j .. j + history - 1`` is marked."""
    marked = np.cumsum(np.concatenate([[0], marks]))
    return marked[history:] == marked[:-history]


class _RowReader:
    """Rows of a dask array, computed by the task that asks for them.

    A task reads its own rows rather than take them as an argument: a worker
    then holds them only while the task runs, instead of reading them ahead
    of it (rows that are the argument of a task are read like any other
    task), and a chunk computed again reads them only then.
    """

    def __init__(self, X):
        self.X = X
        self.persisted = _futures_in(X)

    def __call__(self, start, stop):
        rows = self.X[start:stop]
        if self.persisted:  # its chunks are held by a cluster's workers
            from distributed import worker_client

            with worker_client() as client:
                return client.compute(rows).result()
        return rows.compute(scheduler="sync")


def _futures_in(X):
    """Whether X's graph holds futures (it was persisted on a cluster)."""
    try:
        from distributed import futures_of
    except ImportError:
        return False
    return bool(futures_of(X))
