"""Models shared by the property tests.

Building and compiling a Keras model costs about a second, so every model is
made once per test module and reused by all hypothesis examples. The data
drawn for a model always has the same window length and number of features,
so the compiled forward passes are reused too (the prediction engine pads
batches to powers of two, so the number of rows may vary freely).
"""

import pytest

from sklearn_lstm_reshape import _keras
from sklearn_lstm_reshape.datasets import make_anomalous_series
from sklearn_lstm_reshape.models import make_forecaster, train_forecaster

WINDOW = 4
N_FEATURES = 2


def pytest_collection_modifyitems(items):
    # Hypothesis draws the transformed data freely, far from the fitted data
    # and from anything a model forecasts well, on purpose: the warnings that
    # say so are expected here, not findings.
    expected = (
        "X lies far outside",
        "of the values of X are flagged",
        "The model forecasts X worse than repeating",
    )
    for item in items:
        if "properties" in item.nodeid:
            for message in expected:
                item.add_marker(pytest.mark.filterwarnings(f"ignore:{message}:UserWarning"))


@pytest.fixture(scope="module")
def keras():
    return _keras.import_keras()


@pytest.fixture(scope="module")
def forecaster():
    """A window-to-next-row forecaster: residual scores for 2-D series."""
    X = make_anomalous_series(n_timesteps=120, n_features=N_FEATURES, random_state=0).X
    return train_forecaster(X, window=WINDOW, units=4, epochs=1, random_state=0)


@pytest.fixture(scope="module")
def autoencoder(keras):
    """An LSTM autoencoder, output shape == input shape: reconstruction scores."""
    init = keras.initializers
    return keras.Sequential(
        [
            keras.Input((WINDOW, N_FEATURES)),
            keras.layers.LSTM(
                4,
                return_sequences=True,
                kernel_initializer=init.GlorotUniform(seed=0),
                recurrent_initializer=init.Orthogonal(seed=1),
            ),
            keras.layers.Dense(N_FEATURES, kernel_initializer=init.GlorotUniform(seed=2)),
        ],
        name="autoencoder",
    )


@pytest.fixture(scope="module")
def sequence_forecaster():
    """A sequence-to-sequence forecaster (step t forecasts step t + 1) for panels."""
    with _keras.seeded(0):
        return make_forecaster(None, N_FEATURES, units=4, sequence_output=True)
