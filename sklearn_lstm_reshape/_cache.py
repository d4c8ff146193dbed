"""Every in-process cache, and every key they are looked up by.

- Predictions of a model on a data set (bounded in bytes): candidates that
  change only a threshold or an action do not run the model again.
- Default models trained in ``fit`` with an int ``random_state`` (bounded in
  number): training is deterministic then, so candidates that differ only
  downstream of the model reuse it instead of training an identical one.
- Models loaded from an unchanged ``.keras`` file (bounded in number): every
  estimator naming the file shares one model instead of loading and
  compiling its own.
- Compiled searches toward a target (bounded in number).

A key names what the cached value was computed from. A model is named by a
fingerprint of its architecture and weights, computed once per model object
and computed again only when its weights have been assigned since (a model
retrained in place gets a new fingerprint, so never stale predictions); data
by a digest of its dtype, shape and values.
"""

import contextlib
import contextvars
import hashlib
import json
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np


class LRUCache:
    """Least-recently-used cache bounded by the total ``sizeof`` of its values."""

    def __init__(self, max_size, sizeof):
        self.max_size = max_size
        self.sizeof = sizeof
        self._entries = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        size = self.sizeof(value)
        if size > self.max_size:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self._size += size
            while self._size > self.max_size:
                _, evicted = self._entries.popitem(last=False)
                self._size -= self.sizeof(evicted)

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._size = 0

    def __len__(self):
        return len(self._entries)


predictions = LRUCache(max_size=256 * 2**20, sizeof=lambda array: array.nbytes)
# GridSearchCV fits every fold of one candidate before the next candidate, so
# a model per fold must survive until the next candidate comes back to it:
# 16 covers the usual splits (TimeSeriesSplit's default is 5 folds).
default_models = LRUCache(max_size=16, sizeof=lambda model: 1)
loaded_models = LRUCache(max_size=8, sizeof=lambda model: 1)
search_models = LRUCache(max_size=16, sizeof=lambda model: 1)


# False while computing one chunk of a dask array: a chunk is seen once, and
# caching each chunk's predictions would only hold memory.
_caching_predictions = contextvars.ContextVar("caching_predictions", default=True)


def caching_predictions():
    """Whether predictions are cached (not while computing a chunk)."""
    return _caching_predictions.get()


@contextlib.contextmanager
def predictions_not_cached():
    """Compute predictions without digesting, looking up or storing them."""
    token = _caching_predictions.set(False)
    try:
        yield
    finally:
        _caching_predictions.reset(token)


def memoize(cache, key, compute):
    """``cache[key]``, computed by ``compute()`` and stored when it is missing.

    ``key=None`` means the value cannot be named (an unseeded training, say):
    it is computed and not stored.
    """
    if key is None:
        return compute()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.put(key, value)
    return value


# -- fingerprints --------------------------------------------------------------


def data_fingerprint(X):
    """Digest of an array's dtype, shape and values."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{X.dtype.str}{X.shape}".encode())
    digest.update(np.ascontiguousarray(X).view(np.uint8).data)
    return digest.hexdigest()


# model -> (weight stamps, fingerprint). Weak: a model's entry goes with it.
_model_fingerprints = weakref.WeakKeyDictionary()
_fingerprint_lock = threading.Lock()


def model_fingerprint(model):
    """A digest of the model's architecture and weights.

    Two models with the same fingerprint make the same predictions, so the
    prediction cache is shared by clones and by reloaded copies. The digest is
    computed once per model object and again only when the model's weights
    have been assigned since (``fit``, ``set_weights``, ``assign``), which
    :func:`_keras.weight_stamps` tells without reading the weights.
    """
    from . import _keras

    # Under the model's lock: Keras empties a model's variables while it
    # predicts or trains, so they cannot be read then.
    with _keras.model_lock(model):
        stamps = _keras.weight_stamps(model)
        with _fingerprint_lock:
            known = _model_fingerprints.get(model)
        if known is not None and stamps is not None and _same_stamps(known[0], stamps):
            return known[1]
        fingerprint = _weights_digest(model)
    try:
        with _fingerprint_lock:
            _model_fingerprints[model] = (stamps, fingerprint)
    except TypeError:  # an object that cannot be weakly referenced
        pass
    return fingerprint


def _same_stamps(old, new):
    return len(old) == len(new) and all(
        a is b and version_a == version_b
        for (a, version_a), (b, version_b) in zip(old, new, strict=True)
    )


def _weights_digest(model):
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(model).__qualname__.encode())
    try:
        digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    except (NotImplementedError, TypeError):
        digest.update(str(id(model)).encode())
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).view(np.uint8))
    return digest.hexdigest()


# -- keys ------------------------------------------------------------------------


def prediction_key(model, X, window, batch_size):
    """Names ``model``'s predictions for the windows of ``X``."""
    return (
        model_fingerprint(model),
        data_fingerprint(X),
        window if X.ndim == 2 else None,
        batch_size,
    )


def default_model_key(X, window, units, epochs, predict_change, random_state):
    """Names the default forecaster trained on ``X``; None unless the seed is an int.

    Training with an int seed is deterministic, so a model trained on the same
    data with the same settings is the model a fit would train.
    """
    if not isinstance(random_state, int | np.integer) or isinstance(random_state, bool):
        return None
    return (data_fingerprint(X), window, units, epochs, predict_change, int(random_state))


def file_key(path):
    """Names a file's current contents by its resolved path, mtime and size."""
    stat = Path(path).stat()
    return (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def search_key(predictor, decoder, shape, layout):
    """Names a compiled search: its models, the shape of its points, and the
    layout of the rest (a hashable tuple: its inputs and its objective)."""
    return (
        model_fingerprint(predictor),
        None if decoder is None else model_fingerprint(decoder),
        shape,
        layout,
    )


def clear_cache():
    """Forget every cached prediction and every cached model.

    The estimators keep, in memory and per process, the predictions of a
    model on a data set (up to 256 MiB, least recently used dropped first),
    the last few default models they trained with an int ``random_state`` and
    the last few models they loaded from ``.keras`` files, and the last few
    compiled searches of LatentReshaper, so that refitting
    the same data, as every candidate of a grid search does, neither loads,
    runs nor trains the LSTM again. Call this to free that memory, or
    before timing a fit or a transform.

    Read more in the :ref:`User Guide <caching>`.

    Examples
    --------
    >>> from sklearn_lstm_reshape import clear_cache
    >>> clear_cache()
    """
    predictions.clear()
    default_models.clear()
    loaded_models.clear()
    search_models.clear()
    with _fingerprint_lock:
        _model_fingerprints.clear()
