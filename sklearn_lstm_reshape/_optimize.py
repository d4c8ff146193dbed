"""Batched gradient search: move many points at once until a model's prediction
reaches a target.

The search is a tiny Keras model whose only trainable weight is the step
taken from every starting point, trained with ``fit``: the same code runs on
jax, tensorflow and torch, and the optimiser is Keras's Adam. Each point has
its own loss term and Adam scales each coordinate on its own, so searching
many points together gives each the steps it would get alone.
"""

import numpy as np

from . import _cache, _keras

# Steps between two checks whether every point has reached its target.
CHECK_EVERY = 10
# A search has converged when two checks in a row find its loss fallen by
# less than this fraction since the check before.
CONVERGED = 1e-3


def optimize_toward(
    predictor,
    start,
    target,
    *,
    scale,
    prediction_scale,
    decoder=None,
    offset=None,
    proximity=0.1,
    steps=100,
    learning_rate=0.1,
    tol=0.1,
    batch_size=1024,
):
    """Search points near ``start`` whose prediction is ``target``.

    A point ``v`` is searched as ``start + u * scale``; the loss of each point
    is the mean squared miss of its prediction, in units of
    ``prediction_scale``, plus ``proximity`` times the mean of ``u ** 2``. A
    point stops as soon as every value of its prediction is within
    ``tol * prediction_scale`` of its target, and is returned as it was then;
    a point that never gets there is returned at its lowest loss, which may
    be where it started.

    Parameters
    ----------
    predictor : keras.Model
        Maps a batch of windows to predictions.
    start : ndarray of shape (n_points, ...)
        The starting points: codes when ``decoder`` is given, else windows.
    target : ndarray of shape (n_points, n_outputs)
        The flattened prediction each point should reach.
    scale : ndarray broadcastable to ``start.shape[1:]``
        The size of one unit of ``u`` along each coordinate.
    prediction_scale : ndarray of shape (n_outputs,)
        The size of one unit of miss for each output.
    decoder : keras.Model or None
        Maps points to windows before ``predictor``; None searches windows.
    offset : ndarray of shape (n_points, *window_shape) or None
        Added to each decoded window before ``predictor`` (with ``decoder``).
    proximity : float
        Weight of the distance from ``start``.
    steps : int
        Most gradient steps per point.
    learning_rate : float
        Adam's learning rate, in units of ``scale``.
    tol : float
        Tolerance of "reached", in units of ``prediction_scale``.
    batch_size : int
        Points searched together.

    Returns
    -------
    moves : ndarray of the shape of ``start``, float32
        The point found for each start is ``start + moves``; a point that
        met its target where it started has a move of exactly zero.
    reached : ndarray of bool, shape (n_points,)
    """
    target = np.asarray(target, dtype=np.float32)
    scale = np.broadcast_to(np.asarray(scale, np.float32), start.shape[1:])
    prediction_scale = np.asarray(prediction_scale, np.float32)
    settings = dict(
        scale=scale,
        prediction_scale=prediction_scale,
        proximity=proximity,
        learning_rate=learning_rate,
        tol=tol,
    )
    n_points = len(start)
    moves = np.empty(start.shape, dtype=np.float32)
    reached = np.zeros(n_points, dtype=bool)
    for begin in range(0, n_points, batch_size):
        chunk = slice(begin, min(begin + batch_size, n_points))
        search = _search_model(
            predictor, decoder, offset is not None, (chunk.stop - begin, *start.shape[1:]), target
        )
        with _keras.model_lock(search):
            moves[chunk], reached[chunk] = search.run(
                np.ascontiguousarray(start[chunk], dtype=np.float32),
                target[chunk],
                None if offset is None else np.ascontiguousarray(offset[chunk], dtype=np.float32),
                steps=steps,
                **settings,
            )
    return moves, reached


def _search_model(predictor, decoder, with_offset, shape, target):
    """A search for points of ``shape``, reused while it is cached.

    Building one compiles its training step (a second or more on JAX); its
    settings are variables, so a cached one serves any settings.
    """
    n_outputs = target.shape[1]
    return _cache.memoize(
        _cache.search_models,
        _cache.search_key(predictor, decoder, with_offset, shape, n_outputs),
        lambda: _search_class()(predictor, decoder, with_offset, shape, n_outputs),
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
        def __init__(self, predictor, decoder, with_offset, shape, n_outputs):
            super().__init__()
            # Frozen copies: the search trains its step only, and the models
            # it was given are never touched.
            purpose, fix = "The search toward a target runs through", "use another edit"
            self.predictor = _frozen_copy(predictor, purpose, fix)
            self.decoder = None if decoder is None else _frozen_copy(decoder, purpose, fix)
            self.n_points = shape[0]
            self.point_ndim = len(shape)

            def state(name, state_shape, trainable=False):
                return self.add_weight(
                    shape=state_shape, initializer="zeros", trainable=trainable, name=name
                )

            self.step = state("step", shape, trainable=True)
            self.start = state("start", shape)
            self.scale = state("scale", shape[1:])
            self.target = state("target", (shape[0], n_outputs))
            self.prediction_scale = state("prediction_scale", (n_outputs,))
            self.proximity = state("proximity", ())
            self.tol = state("tol", ())
            self.offset = None
            if with_offset:
                window_shape = _keras.model_output_shape(decoder, shape[1:])
                self.offset = state("offset", (shape[0], *window_shape))
            self.found = state("found", shape)
            self.lowest_loss = state("lowest_loss", (shape[0],))
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
            point = self.start + self.step * self.scale
            windows = point if self.decoder is None else self.decoder(point)
            if self.offset is not None:
                windows = windows + self.offset
            prediction = ops.reshape(self.predictor(windows), (self.n_points, -1))
            miss = (prediction - self.target) / self.prediction_scale
            close = ops.cast(ops.all(ops.abs(miss) <= self.tol, axis=1), "float32")
            distance = ops.mean(ops.reshape(ops.square(self.step), (self.n_points, -1)), axis=1)
            loss = ops.mean(ops.square(miss), axis=1) + self.proximity * distance
            # What each point returns: the step at which it first met its
            # target, or while it has not, its step of lowest loss so far.
            searching = self.active
            lower = ops.cast(loss < self.lowest_loss, "float32") * searching
            keep = close * searching + (1.0 - close) * lower
            keep = ops.reshape(keep, (self.n_points,) + (1,) * (self.point_ndim - 1))
            self.found.assign(self.found + keep * (self.step - self.found))
            self.lowest_loss.assign(ops.minimum(self.lowest_loss, loss))
            self.active.assign(searching * (1.0 - close))
            # A point that has reached its target takes no further part.
            return ops.stop_gradient(searching) * loss

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(y_pred)

        def run(self, start, target, offset, *, steps, learning_rate, **settings):
            for variable, value in zip(self.optimizer.variables, self.fresh_optimizer, strict=True):
                variable.assign(value)
            self.optimizer.learning_rate = learning_rate
            self.step.assign(np.zeros(self.step.shape, np.float32))
            self.start.assign(start)
            self.found.assign(np.zeros(self.found.shape, np.float32))
            self.lowest_loss.assign(np.full(self.n_points, np.inf, np.float32))
            self.target.assign(target)
            if offset is not None:
                self.offset.assign(offset)
            for name, value in settings.items():
                getattr(self, name).assign(np.asarray(value, np.float32))
            self.active.assign(np.ones(self.n_points, np.float32))
            done, losses = 0, []
            while done < steps:
                now = min(CHECK_EVERY, steps - done)
                history = self.fit(
                    np.zeros((now, 1), np.float32), batch_size=1, epochs=1, verbose=0
                )
                done += now
                losses.append(history.history["loss"][-1])
                if not np.asarray(self.active.numpy()).any() or _converged(losses):
                    break
            reached = np.asarray(self.active.numpy()) == 0
            return np.asarray(self.found.numpy()) * np.asarray(self.scale.numpy()), reached

    _search = Search
    return _search
