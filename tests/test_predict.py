"""The prediction engine: chunking, padding and multi-input models."""

import itertools

import numpy as np
import pytest

from sklearn_lstm_reshape._predict import _pieces, predict_windows, windows_of_input
from sklearn_lstm_reshape._windows import sliding_windows


def test_only_the_remainder_is_copied_again_to_be_padded():
    assert list(_pieces(10_000, 8192, 4096)) == [(0, 8192), (8192, 10_000)]
    assert list(_pieces(4097, 8192, 4096)) == [(0, 4096), (4096, 4097)]
    assert list(_pieces(20, 8192, 4096)) == [(0, 20)]
    for n_windows in (1, 31, 4095, 4096, 4097, 12_289, 20_000):
        pieces = list(_pieces(n_windows, 8192, 4096))
        assert pieces[0][0] == 0 and pieces[-1][1] == n_windows
        for (_, stop), (start, _) in itertools.pairwise(pieces):
            assert stop == start
        *whole, (start, stop) = pieces
        assert all((b - a) % 4096 == 0 and b - a <= 8192 for a, b in whole)
        assert (stop - start) % 4096 == 0 or stop - start < 4096


def test_every_call_has_the_batch_size_of_the_whole_input(forecaster, series, monkeypatch):
    calls = []
    plain = forecaster.predict_on_batch

    def spy(x):
        calls.append(len(x))
        return plain(x)

    monkeypatch.setattr(forecaster, "predict_on_batch", spy)
    windows = sliding_windows(series.X, 8)
    predict_windows(forecaster, windows[:100], batch_size=64)
    assert calls == [64, 64]  # the remainder padded to the batch
    calls.clear()
    predict_windows(forecaster, windows[:100], batch_size=4096)
    assert calls == [128]  # a short input: the next power of two
    calls.clear()
    with windows_of_input(5000):  # part of a long input
        predict_windows(forecaster, windows[:100], batch_size=4096)
    assert calls == [4096]
    calls.clear()
    predict_windows(forecaster, windows[:200], batch_size=32, fixed_batch=True)
    assert calls == [32] * 7  # a chunk of whole batches is still a call per batch


@pytest.mark.backend
def test_predictions_are_keras_predict_batch_by_batch_to_the_bit(series):
    from sklearn_lstm_reshape.models import make_forecaster

    # A model of its own: TensorFlow relaxes a function's shapes once it has
    # seen several, and the relaxed graph may differ in the last bit.
    model = make_forecaster(8, series.X.shape[1], units=8)
    windows = np.asarray(sliding_windows(series.X, 8)[:100], dtype=np.float32)
    padded = np.concatenate([windows, np.repeat(windows[-1:], 28, axis=0)])
    expected = np.concatenate(
        [model.predict(padded[i : i + 32], batch_size=32, verbose=0) for i in (0, 32, 64, 96)]
    )[:100]
    result = predict_windows(model, windows, batch_size=32, fixed_batch=True)
    np.testing.assert_array_equal(result, expected, strict=True)


def test_a_window_is_predicted_the_same_however_its_input_is_cut(forecaster, series):
    windows = sliding_windows(series.X, 8)
    whole = predict_windows(forecaster, windows, batch_size=4096)
    with windows_of_input(len(windows)):
        parts = [
            predict_windows(forecaster, windows[start:stop], batch_size=4096)
            for start, stop in itertools.pairwise([0, 7, 40, 300, len(windows)])
        ]
    np.testing.assert_array_equal(np.concatenate(parts), whole, strict=True)


@pytest.mark.parametrize("n_windows", [1, 63, 64, 65, 200])
def test_predictions_equal_a_plain_predict(forecaster, series, n_windows):
    windows = sliding_windows(series.X, 8)[:n_windows]
    expected = forecaster.predict(np.asarray(windows, dtype=np.float32), verbose=0)
    result = predict_windows(forecaster, windows, batch_size=64)
    assert result.shape == expected.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_a_multi_input_multi_output_model():
    from sklearn_lstm_reshape.models import make_cvae

    encoder, _ = make_cvae(6, 2, 3, latent_dim=4, units=4)
    rng = np.random.default_rng(0)
    windows, conditions = rng.normal(size=(70, 6, 2)), rng.normal(size=(70, 3))
    mean, log_variance = predict_windows(encoder, windows, conditions, batch_size=32)
    expected = encoder.predict(
        [windows.astype(np.float32), conditions.astype(np.float32)], verbose=0
    )
    np.testing.assert_allclose(mean, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_variance, expected[1], rtol=1e-5, atol=1e-6)
