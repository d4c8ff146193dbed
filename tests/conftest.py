"""Models and data shared by the tests: built once per session, small."""

import numpy as np
import pytest

from sklearn_lstm_reshape.datasets import make_anomalous_series

WINDOW = 8
N_FEATURES = 3


@pytest.fixture(scope="session")
def series():
    """A synthetic series with injected anomalies and their labels."""
    return make_anomalous_series(n_timesteps=600, n_features=N_FEATURES, random_state=0)


@pytest.fixture(scope="session")
def forecaster(series):
    """A fitted LSTM forecaster: window of 8 rows -> the next row."""
    from sklearn_lstm_reshape.models import train_forecaster

    return train_forecaster(series.X_clean, window=WINDOW, units=16, epochs=8, random_state=0)


@pytest.fixture(scope="session")
def autoencoder():
    """An (untrained) LSTM that reproduces its window: output shape == input shape."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((WINDOW, N_FEATURES)),
            keras.layers.LSTM(8, return_sequences=True),
            keras.layers.Dense(N_FEATURES),
        ]
    )


@pytest.fixture(scope="session")
def scorer():
    """An (untrained) LSTM that outputs one value in (0, 1) per window."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(2)
    return keras.Sequential(
        [
            keras.Input((WINDOW, N_FEATURES)),
            keras.layers.LSTM(4),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def model_weights(model):
    return [np.array(w) for w in model.get_weights()]
