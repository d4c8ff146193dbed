"""In-process caches, so that grid candidates share the expensive work.

- Predictions of a model on a data set (bounded in bytes): candidates that
  change only a threshold or an action do not run the model again.
- Default models trained in ``fit`` with an int ``random_state`` (bounded in
  number): training is deterministic then, so candidates that differ only
  downstream of the model reuse it instead of training an identical one.
- Models loaded from an unchanged ``.keras`` file (bounded in number): every
  estimator naming the file shares one model instead of loading and
  compiling its own.
"""

import threading
from collections import OrderedDict


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


predictions = LRUCache(max_size=256 * 2**20, sizeof=lambda array: array.nbytes)
# GridSearchCV fits every fold of one candidate before the next candidate, so
# a model per fold must survive until the next candidate comes back to it:
# 16 covers the usual splits (TimeSeriesSplit's default is 5 folds).
default_models = LRUCache(max_size=16, sizeof=lambda model: 1)
loaded_models = LRUCache(max_size=8, sizeof=lambda model: 1)
search_models = LRUCache(max_size=16, sizeof=lambda model: 1)


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
