"""The prediction engine: chunking, padding and multi-input models."""

import itertools

import numpy as np
import pytest

from sklearn_lstm_reshape._predict import _pieces, predict_windows
from sklearn_lstm_reshape._windows import sliding_windows


def test_only_the_remainder_is_padded_and_by_less_than_itself():
    assert list(_pieces(10_000, 8192, 4096)) == [(0, 8192, 4096), (8192, 10_000, 2048)]
    assert list(_pieces(4097, 8192, 4096)) == [(0, 4096, 4096), (4096, 4097, 32)]
    assert list(_pieces(20, 8192, 4096)) == [(0, 20, 32)]
    for n_windows in (1, 31, 33, 4095, 4096, 4097, 12_289):
        pieces = list(_pieces(n_windows, 8192, 4096))
        assert pieces[0][0] == 0 and pieces[-1][1] == n_windows
        for (_, stop, _), (start, _, _) in itertools.pairwise(pieces):
            assert stop == start
        for start, stop, batch in pieces:
            padded = -(stop - start) % batch
            assert padded < max(stop - start, 32)


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
