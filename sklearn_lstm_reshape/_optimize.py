"""Batched gradient search: move many points at once until a model's prediction
reaches a target.

The search is a tiny Keras model whose only trainable weight is the step
taken from every starting point, trained with ``fit``: the same code runs on
jax, tensorflow and torch, and the optimiser is Keras's Adam. Each point has
its own loss term and Adam scales each coordinate on its own, so searching
many points together gives each the steps it would get alone.

A point is a window (or a latent code decoded into one), or a whole series
whose windows are cut inside the loss, so that what is searched is exactly
what is returned. The target is numbers within a tolerance (a regressor or a
forecaster), or a class (a classifier, through a margin on its
log-probabilities, which keeps a gradient where a softmax saturates).
"""

from dataclasses import dataclass

import numpy as np

from . import _cache, _keras
from ._windows import sliding_windows

# Steps between two checks whether every point has reached its target.
CHECK_EVERY = 10
# A search whose loss has stopped falling goes on at half the learning rate,
# this many times, before it stops: a step too long for the narrow valleys of
# a joint search over a series' windows oscillates around their floor.
HALVINGS = 3
# A search has converged when two checks in a row find its loss fallen by
# less than this fraction since the check before.
CONVERGED = 1e-3
# Log-probabilities below this count as this: log(0) has no gradient.
_LOG_FLOOR = float(np.log(1e-30))
# Points searched together by default. A step's working memory (every
# timestep's activations, kept for the gradient) grows with the batch: at
# 4096 windows of 24 x 4 it was about 170 MiB, ten times a 1M x 4 float32
# series; per window, smaller batches search as fast on a CPU.
SEARCH_BATCH_SIZE = 256


@dataclass(frozen=True)
class Objective:
    """What a search minimises and when a point has reached its target.

    Attributes
    ----------
    classes : bool
        The predictor is a classifier: the target of each window is a class
        (given one-hot), reached when it is the most probable, with at least
        ``min_probability``. Else the target is numbers, reached when every
        output is within ``tol`` (in units of the prediction scale).
    logits : bool
        The classifier's outputs are logits, not probabilities.
    binary : bool
        One output: the probability (or logit) of class 1.
    keep : {"first", "best"}
        ``"first"``: a point stops at the first step where it reaches its
        target. ``"best"``: it searches on, and returns its reached step of
        least regularisation (proximity, sparsity, plausibility): a
        refinement of a start that is already valid.
    proximity, sparsity, plausibility : float
        Weights of the mean squared distance from the origin, of the mean
        over timesteps of the length of each timestep's change (a group
        lasso: it favours changing few timesteps), and of the mean squared
        distance from the anchor, all in units of ``scale``.
    tol, band : float
        Tolerance of a numeric target, and the miss below which the loss
        stops pulling (0: squared miss; in units of the prediction scale).
    margin : float
        Log-probability by which the target class must lead in the loss.
    min_probability : float or None
    """

    classes: bool = False
    logits: bool = False
    binary: bool = False
    keep: str = "first"
    proximity: float = 0.1
    sparsity: float = 0.0
    plausibility: float = 0.0
    tol: float = 0.1
    band: float = 0.0
    margin: float = 0.0
    min_probability: float | None = None

    def layout(self):
        """What the compiled search depends on (the weights are variables)."""
        return (self.classes, self.logits, self.binary, self.keep, self.band > 0)


def optimize_toward(
    predictor,
    start,
    target,
    *,
    scale,
    prediction_scale=None,
    objective=Objective(),
    decoder=None,
    offset=None,
    origin=None,
    anchor=None,
    mask=None,
    bounds=None,
    series_window=None,
    steps=100,
    learning_rate=0.1,
    batch_size=SEARCH_BATCH_SIZE,
    full_batches=False,
    fix_if_not_copyable="use another edit",
):
    """Search points near ``start`` whose prediction meets ``target``.

    A point ``v`` is searched as ``start + u * scale * mask``. Its loss is
    the miss of its prediction (see :class:`Objective`) plus the
    regularisation: distances from ``origin`` (by default ``start``) and
    from ``anchor``, in units of ``scale``.

    Parameters
    ----------
    predictor : keras.Model
        Maps a batch of windows to predictions (or class scores).
    start : ndarray of shape (n_points, ...)
        The starting points: codes when ``decoder`` is given, windows, or
        with ``window_index`` a single series of shape (1, n_rows, n_features).
    target : ndarray of shape (n_windows, n_outputs)
        The flattened prediction each window should reach; for a classifier,
        the target class one-hot (two columns for a binary output).
    scale : ndarray broadcastable to ``start.shape[1:]``
        The size of one unit of ``u`` along each coordinate.
    prediction_scale : ndarray of shape (n_outputs,) or None
        The unit of miss of each numeric output (None for a classifier).
    objective : Objective
    decoder : keras.Model or None
        Maps points to windows before ``predictor``; None searches windows.
    offset : ndarray of shape (n_points, *window_shape) or None
        Added to each decoded window before ``predictor`` (with ``decoder``).
    origin, anchor : ndarray of the shape of ``start`` or None
        Where proximity and plausibility measure from (None: ``start``, and
        no plausibility term).
    mask : ndarray broadcastable to ``start.shape`` or None
        1 where a point may move, 0 where it stays (None: everywhere).
    bounds : (low, high) or None
        Arrays broadcastable to ``start.shape[1:]`` that the points' values
        are kept within (searched values, not codes: no ``decoder``). A
        value of ``start`` already beyond them may stay where it is but
        moves no further out. None: unbounded.
    series_window : int or None
        For a series: the window length. The one point is the series, every
        window of it is cut inside the loss, and the loss and "reached"
        count them all.
    steps : int
        Most gradient steps per point.
    learning_rate : float
        Adam's learning rate, in units of ``scale``.
    batch_size : int
        Points searched together.
    full_batches : bool
        Pad even a search of fewer points to ``batch_size``, for a caller
        that searches a long input in parts (the search compiled for its
        first part serves every other).
    fix_if_not_copyable : str
        What the error raised when the models cannot be copied (the search
        runs through frozen copies) tells the user to do instead.

    Returns
    -------
    moves : ndarray of the shape of ``start``, float32
        The point found for each start is ``start + moves``; a point that
        met its target where it started (with ``keep="first"``) has a move
        of exactly zero.
    reached : ndarray of float, shape (n_points,)
        The fraction of each point's windows that meet their target where it
        ends (1 or 0 for a window; any fraction for a series).
    """
    target = np.asarray(target, dtype=np.float32)
    scale = np.broadcast_to(np.asarray(scale, np.float32), start.shape[1:])
    if prediction_scale is None:
        prediction_scale = np.ones(target.shape[1], np.float32)
    n_points = len(start)
    if series_window is not None:
        batch_size, full_batches = n_points, False  # one series is one point
    if mask is not None:
        mask = np.broadcast_to(mask, start.shape)
    floor = ceiling = None
    if bounds is not None:
        if decoder is not None:
            raise ValueError("bounds keep searched values in a range; a decoder's codes have none.")
        low, high = (np.asarray(bound, np.float32) for bound in bounds)
        floor, ceiling = np.minimum(start, low), np.maximum(start, high)
    moves = np.empty(start.shape, dtype=np.float32)
    reached = np.zeros(n_points)
    inputs = {
        "offset": offset,
        "origin": origin,
        "anchor": anchor,
        "mask": mask,
        "floor": floor,
        "ceiling": ceiling,
    }
    inputs = {name: value for name, value in inputs.items() if value is not None}
    # Every batch has the same number of points, the last one padded with
    # points that take no part: each new shape would compile (a second or
    # more, and memory many times a long series' bytes) and keep another
    # search. A small search is padded to a power of two only.
    size = batch_size if full_batches else min(batch_size, 1 << (n_points - 1).bit_length())
    for begin in range(0, n_points, size):
        chunk = slice(begin, min(begin + size, n_points))
        n_real = chunk.stop - begin

        def batch(values, chunk=chunk):
            return _padded(np.ascontiguousarray(values[chunk], dtype=np.float32), size)

        given = {name: batch(value) for name, value in inputs.items()}
        windows = target if series_window is not None else batch(target)
        search = _search_model(
            predictor,
            decoder,
            (size, *start.shape[1:]),
            windows.shape,
            objective,
            tuple(given),
            series_window,
            fix_if_not_copyable,
        )
        with _keras.model_lock(search):
            found, fraction = search.run(
                batch(start),
                windows,
                given,
                n_real=n_real,
                scale=scale,
                prediction_scale=np.asarray(prediction_scale, np.float32),
                objective=objective,
                steps=steps,
                learning_rate=learning_rate,
            )
        found, fraction = found[:n_real], fraction[:n_real]
        # A point whose search overflowed (a huge value in its window) stays
        # where it was: transform never returns non-finite values for finite X.
        diverged = ~np.isfinite(found.reshape(n_real, -1)).all(axis=1)
        found[diverged], fraction[diverged] = 0.0, 0.0
        moves[chunk], reached[chunk] = found, fraction
    return moves, reached


def search_series(series, targets, *, window, predict, reached, search):
    """Edit the rows of a long series, in place, until its windows meet their
    targets, one block of ``SEARCH_BATCH_SIZE`` windows at a time.

    A block's windows are cut from its rows inside the loss (``search`` with
    ``series_window``), so that what is searched is the series returned. The
    last block ends with the series (overlapping the one before), so that
    every block has the size of a search already compiled. A block leaves
    alone the rows of windows before its own, which an earlier block searched.
    The last block is searched free to move the rows it shares with the
    block before it (all their windows are in its loss) and, unless that
    reaches every window, again with those rows held as that block left them
    (a search of a few free rows reached more on some series, measured on
    the weather); the search that reaches more windows is kept. Besides ``series``, only a
    block's arrays are held.

    Parameters
    ----------
    series : ndarray of shape (n_rows, n_features)
        Edited in place; rows the searches leave unchanged keep their values
        bit for bit.
    targets : callable
        ``targets(first, last) -> array``: the targets of windows ``first``
        to ``last - 1``, as ``reached`` and ``search`` take them (made block
        by block, so that a series' targets need not be held at once).
    window : int
    predict : callable
        ``predict(windows) -> outputs``.
    reached : callable
        ``reached(outputs, targets) -> bool array``, one per window.
    search : callable
        ``search(rows, targets, mask) -> rows``: the searched rows of one
        block, given as shape (1, n_block_rows, n_features); ``mask`` is 0 on
        the rows it must leave alone.

    Returns
    -------
    reached : ndarray of bool, shape (n_windows,)
        Whether each window meets its target in the edited series.
    """
    n_windows = len(series) - window + 1
    done = np.empty(n_windows, bool)
    block = min(SEARCH_BATCH_SIZE, n_windows)
    firsts = list(range(0, n_windows - block + 1, block))
    if firsts[-1] + block < n_windows:
        firsts.append(n_windows - block)
    written = 0  # rows before this one were written by earlier blocks
    for first in firsts:
        last = first + block
        span = slice(first, last + window - 1)
        aims = targets(first, last)
        done[first:last] = reached(predict(sliding_windows(series[span], window)), aims)
        if not done[first:last].all():
            rows = np.asarray(series[span], np.float32)[None]
            # Rows before ``held`` stay: those in windows before this block's,
            # or (a second try) every row an earlier block wrote.
            best = None
            for held in sorted({window - 1 if first else 0, max(0, written - first)}):
                mask = np.ones((*rows.shape[:2], 1), np.float32)
                mask[:, :held] = 0
                searched = search(rows, aims, mask)[0]
                edited = np.where(searched != rows[0], searched.astype(series.dtype), series[span])
                hits = reached(predict(sliding_windows(edited, window)), aims)
                if best is None or hits.sum() > best[1].sum():
                    best = edited, hits
                if hits.all():
                    break
            series[span], done[first:last] = best
        written = span.stop
    return done


def engine_targets(targets, n_classes=None):
    """Targets as the search takes them: numbers as float32, or class
    indices (with ``n_classes``) one-hot."""
    if n_classes is None:
        return np.asarray(targets, np.float32)
    return np.eye(n_classes, dtype=np.float32)[targets]


def _padded(values, size):
    """``values`` with zeros appended along the first axis up to ``size``."""
    if len(values) == size:
        return values
    padding = np.zeros((size - len(values), *values.shape[1:]), values.dtype)
    return np.concatenate([values, padding])


def _search_model(predictor, decoder, shape, target_shape, objective, inputs, series_window, fix):
    """A search for points of ``shape``, reused while it is cached.

    Building one compiles its training step (a second or more on JAX); its
    settings are variables, so a cached one serves any settings.
    """
    layout = (target_shape, objective.layout(), inputs, series_window)
    return _cache.memoize(
        _cache.search_models,
        _cache.search_key(predictor, decoder, shape, layout),
        lambda: _search_class()(
            predictor, decoder, shape, target_shape, objective, inputs, series_window, fix
        ),
    )


def _converged(losses):
    """Whether the last two checks each improved the loss by less than CONVERGED."""
    if len(losses) < 3:
        return False
    first, second, third = losses[-3:]
    return second > first * (1 - CONVERGED) and third > second * (1 - CONVERGED)


_search = None


def _search_class():
    """The Keras model that searches; defined on first use, never saved."""
    global _search
    if _search is not None:
        return _search
    from .models import _frozen_copy

    keras = _keras.import_keras()
    ops = keras.ops

    class Search(keras.Model):
        def __init__(
            self, predictor, decoder, shape, target_shape, objective, inputs, series_window, fix
        ):
            super().__init__()
            # Frozen copies: the search trains its step only, and the models
            # it was given are never touched.
            purpose = "The search toward a target runs through"
            self.predictor = _frozen_copy(predictor, purpose, fix)
            self.decoder = None if decoder is None else _frozen_copy(decoder, purpose, fix)
            self.kind = objective
            self.n_points = shape[0]
            self.n_windows = target_shape[0]

            def state(name, state_shape, trainable=False):
                return self.add_weight(
                    shape=state_shape, initializer="zeros", trainable=trainable, name=name
                )

            self.step = state("step", shape, trainable=True)
            self.start = state("start", shape)
            self.scale = state("scale", shape[1:])
            self.target = state("target", target_shape)
            self.prediction_scale = state("prediction_scale", target_shape[1:])
            self.settings = {
                name: state(name, ())
                for name in ("proximity", "sparsity", "plausibility", "tol", "band", "margin")
            }
            self.log_min_probability = state("log_min_probability", ())
            window_shape = shape[1:]
            if decoder is not None:
                window_shape = _keras.model_output_shape(decoder, shape[1:])
            self.given = {
                name: state(name, (shape[0], *window_shape) if name == "offset" else shape)
                for name in inputs
            }
            self.window_index = None
            if series_window is not None:  # row indices of every window of the series
                n_windows = shape[1] - series_window + 1
                self.window_index = np.arange(n_windows)[:, None] + np.arange(series_window)
            self.found = state("found", shape)
            self.best_fraction = state("best_fraction", (shape[0],))
            self.lowest = state("lowest", (shape[0],))
            self.active = state("active", (shape[0],))
            # steps_per_execution: Keras's per-step overhead is paid once per
            # check (Keras's torch trainer accepts only 1).
            per_execution = 1 if keras.backend.backend() == "torch" else CHECK_EVERY
            self.compile(optimizer=keras.optimizers.Adam(), steps_per_execution=per_execution)
            self.optimizer.build(self.trainable_variables)
            # A fresh optimiser's state (moments and step count), restored
            # before every search.
            self.fresh_optimizer = [np.array(v.numpy()) for v in self.optimizer.variables]

        def call(self, inputs):
            given = self.given
            move = self.step * self.scale
            if "mask" in given:
                move = move * given["mask"]
            point = self.start + move
            if "floor" in given:
                # Clipped forward, unclipped backward (straight through): a
                # value held at a bound still feels the loss, and leaves the
                # bound when the loss turns (measured on a weather series:
                # 0.16 to 0.21 of the windows reached, with a plain clip's
                # zero gradient beyond the bound).
                clipped = ops.minimum(ops.maximum(point, given["floor"]), given["ceiling"])
                point = point + ops.stop_gradient(clipped - point)
            if self.window_index is not None:  # the windows of one series
                windows = ops.take(point[0], self.window_index, axis=0)
            elif self.decoder is not None:
                windows = self.decoder(point)
            else:
                windows = point
            if "offset" in given:
                windows = windows + given["offset"]
            output = ops.reshape(self.predictor(windows), (self.n_windows, -1))
            miss, close = self._miss(output)
            if self.window_index is not None:  # one point: all its windows
                miss, close = ops.mean(miss)[None], ops.mean(close)[None]
            settings = self.settings
            origin = given.get("origin", self.start)
            change = (point - origin) / self.scale
            # Sparsity: the length of each timestep's change (the last axis
            # holds a timestep's features), a group lasso.
            lengths = ops.sqrt(ops.sum(ops.square(change), axis=-1) + 1e-12)
            regular = settings["proximity"] * _mean_per_point(ops.square(change))
            regular = regular + settings["sparsity"] * _mean_per_point(lengths)
            if "anchor" in given:
                far = ops.square((point - given["anchor"]) / self.scale)
                regular = regular + settings["plausibility"] * _mean_per_point(far)
            loss = miss + regular
            # What each point returns: its step that reached the most of its
            # windows' targets, the least regularised of those once all are
            # reached, else the one of lowest loss.
            complete = ops.cast(close >= 1.0, "float32")
            rank = complete * regular + (1.0 - complete) * loss
            better = ops.logical_or(
                close > self.best_fraction,
                ops.logical_and(close == self.best_fraction, rank < self.lowest),
            )
            keep = ops.cast(better, "float32") * self.active
            # where, not a blend: the lowest rank starts at infinity, and 0 * inf is NaN.
            self.best_fraction.assign(ops.where(keep > 0, close, self.best_fraction.value))
            self.lowest.assign(ops.where(keep > 0, rank, self.lowest.value))
            keep = ops.reshape(keep, (self.n_points,) + (1,) * (len(self.step.shape) - 1))
            self.found.assign(self.found + keep * (self.step - self.found))
            if self.kind.keep == "first":  # a point that has reached takes no further part
                self.active.assign(self.active * (1.0 - complete))
            # where, not a product: a padding point's loss may be anything.
            return ops.where(ops.stop_gradient(self.active) > 0, loss, 0.0)

        def _miss(self, output):
            """Per window: the loss of its miss, and whether it is reached (0 or 1)."""
            settings = self.settings
            if not self.kind.classes:
                miss = (output - self.target) / self.prediction_scale
                beyond = ops.relu(ops.abs(miss) - settings["band"])
                close = ops.all(ops.abs(miss) <= settings["tol"], axis=1)
                if self.kind.band > 0:
                    # Huber beyond the band: a window is pulled harder as it
                    # nears ``tol`` and no harder beyond, so the search does
                    # not trade many windows near their target for a few far
                    # from theirs (measured on a series: more windows reached).
                    band = settings["band"]
                    loss = ops.where(
                        beyond <= band, ops.square(beyond) / (2 * band), beyond - band / 2
                    )
                else:
                    loss = ops.square(beyond)
                return ops.mean(loss, axis=1), ops.cast(close, "float32")
            if self.kind.binary:
                one = output[:, :1]
                if self.kind.logits:
                    log_p = ops.concatenate([-ops.softplus(one), -ops.softplus(-one)], axis=1)
                else:
                    log_p = ops.log(ops.clip(ops.concatenate([1.0 - one, one], axis=1), 1e-30, 1))
            elif self.kind.logits:
                log_p = ops.log_softmax(output, axis=1)
            else:
                log_p = ops.log(ops.clip(output, 1e-30, 1.0))
            log_p = ops.maximum(log_p, _LOG_FLOOR)
            own = ops.sum(log_p * self.target, axis=1)
            other = ops.max(log_p - 1e9 * self.target, axis=1)
            lead, floor = own - other, own - self.log_min_probability
            margin = settings["margin"]
            miss = ops.relu(margin - lead) + ops.relu(margin - floor)
            close = ops.logical_and(lead > 0, floor >= 0)
            return miss, ops.cast(close, "float32")

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(y_pred)

        def run(
            self,
            start,
            target,
            given,
            *,
            n_real,
            scale,
            prediction_scale,
            objective,
            steps,
            learning_rate,
        ):
            """Search from ``start``; points from ``n_real`` on are padding and stay put."""
            for variable, value in zip(self.optimizer.variables, self.fresh_optimizer, strict=True):
                variable.assign(value)
            self.optimizer.learning_rate = learning_rate
            zeros = np.zeros(self.step.shape, np.float32)
            self.step.assign(zeros)
            self.found.assign(zeros)
            self.start.assign(start)
            self.target.assign(target)
            self.scale.assign(scale)
            self.prediction_scale.assign(prediction_scale)
            for name, variable in self.settings.items():
                variable.assign(np.float32(getattr(objective, name)))
            low = objective.min_probability
            self.log_min_probability.assign(np.float32(-1e9 if low is None else np.log(low)))
            for name, variable in self.given.items():
                variable.assign(given[name])
            self.best_fraction.assign(np.full(self.n_points, -1, np.float32))
            self.lowest.assign(np.full(self.n_points, np.inf, np.float32))
            self.active.assign((np.arange(self.n_points) < n_real).astype(np.float32))
            done, losses, halvings = 0, [], 0
            while done < steps:
                now = min(CHECK_EVERY, steps - done)
                history = self.fit(
                    np.zeros((now, 1), np.float32), batch_size=1, epochs=1, verbose=0
                )
                done += now
                losses.append(history.history["loss"][-1])
                if not np.asarray(self.active.numpy()).any():
                    break
                if _converged(losses):
                    if halvings >= HALVINGS:
                        break
                    halvings += 1
                    self.optimizer.learning_rate = learning_rate * 0.5**halvings
                    losses = []
            found = np.asarray(self.found.numpy()) * np.asarray(self.scale.numpy())
            if "mask" in self.given:
                found = found * np.asarray(self.given["mask"].numpy())
            if "floor" in self.given:
                start = np.asarray(self.start.numpy())
                floor, ceiling = (self.given[name].numpy() for name in ("floor", "ceiling"))
                found = np.clip(start + found, np.asarray(floor), np.asarray(ceiling)) - start
            return found, np.maximum(np.asarray(self.best_fraction.numpy()), 0)

    def _mean_per_point(values):
        return ops.mean(ops.reshape(values, (values.shape[0], -1)), axis=1)

    _search = Search
    return _search
