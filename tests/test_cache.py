"""The caches and their keys: what is shared, what is noticed, what is forgotten."""

import numpy as np
import pytest

from sklearn_lstm_reshape import ThresholdReshaper, _cache, clear_cache

from .conftest import N_FEATURES, WINDOW


def small_forecaster(seed):
    """A compiled, freshly initialised LSTM forecaster that tests may retrain."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((WINDOW, N_FEATURES)), keras.layers.LSTM(4), keras.layers.Dense(N_FEATURES)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def retrain(model, series):
    from sklearn_lstm_reshape._windows import sliding_windows

    X = series.X_clean[:200].astype(np.float32)
    model.fit(
        np.ascontiguousarray(sliding_windows(X[:-1], WINDOW)), X[WINDOW:], epochs=1, verbose=0
    )


def residuals(reshaper, X):
    """The residuals ``|x - forecast|`` the reshaper works from: with nothing
    flagged, every row is scored from X's own window."""
    return reshaper.score_samples(X)[WINDOW:]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(retrain, id="fit"),
        pytest.param(
            lambda model, _: model.set_weights([w * 1.5 for w in model.get_weights()]),
            id="set_weights",
        ),
        pytest.param(
            lambda model, _: model.layers[-1].bias.assign(model.layers[-1].bias.numpy() + 1.0),
            id="assign one bias",
        ),
    ],
)
def test_a_model_changed_in_place_never_gets_stale_predictions(series, change):
    model = small_forecaster(seed=3)
    X = series.X[:200]
    reshaper = ThresholdReshaper(model, window=WINDOW, threshold=np.inf).fit(X)
    before = residuals(reshaper, X)
    change(model, series)
    after = residuals(reshaper, X)
    forecast = model.predict(
        np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(X, WINDOW, axis=0))
        .transpose(0, 2, 1)[:-1]
        .astype(np.float32),
        verbose=0,
    )
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, np.abs(X[WINDOW:] - forecast), rtol=1e-5, atol=1e-5)


def test_a_model_is_fingerprinted_once_until_its_weights_change(monkeypatch):
    model = small_forecaster(seed=4)
    digests = []
    original = _cache._weights_digest
    monkeypatch.setattr(_cache, "_weights_digest", lambda m: digests.append(1) or original(m))
    first = [_cache.model_fingerprint(model) for _ in range(3)]
    assert len(digests) == 1 and len(set(first)) == 1
    weights = model.get_weights()
    model.set_weights([w + 1.0 for w in weights])
    changed = _cache.model_fingerprint(model)
    assert len(digests) == 2 and changed != first[0]
    # Weights set back to what they were give the first fingerprint again.
    model.set_weights(weights)
    assert _cache.model_fingerprint(model) == first[0]


def test_copies_with_the_same_weights_share_a_fingerprint():
    from sklearn_lstm_reshape._keras import import_keras

    model = small_forecaster(seed=5)
    copy = import_keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    assert _cache.model_fingerprint(copy) == _cache.model_fingerprint(model)
    assert _cache.model_fingerprint(small_forecaster(seed=6)) != _cache.model_fingerprint(model)


def test_data_fingerprints_tell_dtype_shape_and_values_apart():
    X = np.arange(12.0).reshape(6, 2)
    fingerprints = {
        _cache.data_fingerprint(X),
        _cache.data_fingerprint(X.astype(np.float32)),
        _cache.data_fingerprint(X.reshape(4, 3)),
        _cache.data_fingerprint(X + 1e-12),
    }
    assert len(fingerprints) == 4
    assert _cache.data_fingerprint(X) == _cache.data_fingerprint(np.asfortranarray(X))


def test_memoize_computes_a_named_value_once():
    cache = _cache.LRUCache(max_size=10, sizeof=lambda value: 1)
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert [_cache.memoize(cache, "key", compute) for _ in range(3)] == [1, 1, 1]
    # A value that cannot be named is computed every time and never stored.
    assert [_cache.memoize(cache, None, compute) for _ in range(2)] == [2, 3]
    assert len(cache) == 1


def test_the_lru_cache_drops_the_least_recently_used_values_past_its_size():
    cache = _cache.LRUCache(max_size=10, sizeof=len)
    cache.put("a", "xxxx")
    cache.put("b", "xxxx")
    cache.get("a")  # now b is the least recently used
    cache.put("c", "xxxx")
    assert cache.get("b") is None and cache.get("a") == "xxxx" and cache.get("c") == "xxxx"
    cache.put("huge", "x" * 11)  # larger than the whole cache: not stored
    assert cache.get("huge") is None and len(cache) == 2


@pytest.mark.parametrize(
    ("random_state", "named"),
    [(0, True), (np.int64(7), True), (None, False), (np.random.RandomState(0), False)],
    ids=["int", "numpy int", "None", "RandomState"],
)
def test_only_seeded_default_models_are_named(random_state, named):
    key = _cache.default_model_key(np.zeros((30, 2)), 8, 4, 1, "auto", random_state)
    assert (key is not None) is named


def test_a_rewritten_file_gets_a_new_key(tmp_path):
    import os

    path = tmp_path / "model.keras"
    path.write_bytes(b"first")
    first = _cache.file_key(path)
    assert _cache.file_key(path) == first
    path.write_bytes(b"second, longer")
    os.utime(path, ns=(1, 1))
    assert _cache.file_key(path) != first


def test_clear_cache_forgets_predictions_models_and_fingerprints(series):
    model = small_forecaster(seed=8)
    ThresholdReshaper(model, window=WINDOW).fit(series.X[:100])
    assert len(_cache.predictions) > 0 and model in _cache._model_fingerprints
    clear_cache()
    assert len(_cache.predictions) == 0 and len(_cache._model_fingerprints) == 0
