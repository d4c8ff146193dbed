"""Builders of the default Keras models.

The estimators build these when they are given ``model=None``; they are public
so that the same networks can be built, trained and saved on their own.
Keras is imported when a builder is called, not when this module is.
"""

import numpy as np

from . import _keras
from ._windows import sliding_windows

__all__ = ["make_forecaster", "train_forecaster"]


def make_forecaster(
    window, n_features, *, units=32, sequence_output=False, mean=None, variance=None
):
    """Build an (untrained) LSTM forecaster of the next row of a series.

    Inputs are standardised with ``mean`` and ``variance`` inside the model and
    outputs mapped back, so the model reads and predicts raw values.

    Parameters
    ----------
    window : int or None
        Rows per input window; None accepts sequences of any length.
    n_features : int
        Features per row.
    units : int, default=32
        Units of the LSTM layer.
    sequence_output : bool, default=False
        If False, the model maps a window to one row: the forecast of the row
        that follows the window. If True, it maps a sequence to a sequence,
        step ``t`` forecasting step ``t + 1`` (for 3-D panels).
    mean, variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the training data (zeros and ones if None).

    Returns
    -------
    model : keras.Model
        Output shape ``(batch, n_features)``, or ``(batch, timesteps, n_features)``
        when ``sequence_output``.

    See Also
    --------
    train_forecaster : Build and train this model on a series.

    Examples
    --------
    >>> from sklearn_lstm_reshape.models import make_forecaster
    >>> model = make_forecaster(24, 3, units=8)
    >>> model.input_shape, model.output_shape
    ((None, 24, 3), (None, 3))
    """
    network, _ = _forecaster_networks(window, n_features, units, sequence_output, mean, variance)
    return network


def _forecaster_networks(window, n_features, units, sequence_output, mean, variance):
    """The forecaster in raw units, and the same layers up to standardised output.

    Training the second one on standardised targets weights every feature
    equally whatever its scale; the first shares its weights.
    """
    keras = _keras.import_keras()
    mean = np.zeros(n_features) if mean is None else np.asarray(mean, dtype=float)
    variance = np.ones(n_features) if variance is None else np.asarray(variance, dtype=float)
    inputs = keras.Input(shape=(window, n_features), name="window")
    standardised = keras.layers.Normalization(mean=mean, variance=variance, name="standardise")(
        inputs
    )
    hidden = keras.layers.LSTM(units, return_sequences=sequence_output, name="lstm")(standardised)
    forecast = keras.layers.Dense(n_features, name="forecast")(hidden)
    raw = keras.layers.Normalization(
        mean=mean, variance=variance, invert=True, name="unstandardise"
    )(forecast)
    return (
        keras.Model(inputs, raw, name="lstm_forecaster"),
        keras.Model(inputs, forecast, name="lstm_forecaster_standardised"),
    )


def train_forecaster(
    X,
    *,
    window=24,
    units=32,
    epochs=10,
    batch_size=32,
    learning_rate=5e-3,
    random_state=None,
    verbose=0,
):
    """Build an LSTM forecaster and train it on ``X``.

    Parameters
    ----------
    X : array-like of shape (n_timesteps, n_features) or (n_sequences, timesteps, n_features)
        A 2-D series trains a window-to-next-row forecaster on its sliding
        windows; a 3-D panel trains a sequence-to-sequence forecaster in which
        step ``t`` of each sequence forecasts step ``t + 1``.
    window : int, default=24
        Rows per window for a 2-D series (ignored for a panel).
    units : int, default=32
        Units of the LSTM layer.
    epochs : int, default=10
        Passes over the training windows.
    batch_size : int, default=32
        Windows per gradient step.
    learning_rate : float, default=5e-3
        Learning rate of the Adam optimiser.
    random_state : int or None, default=None
        Seed of the weights and the shuffling; an int makes training
        reproducible.
    verbose : int, default=0
        0 is silent, 1 prints a line per epoch, 2 a progress bar.

    Returns
    -------
    model : keras.Model
        The trained forecaster, reading and predicting raw (unstandardised)
        values; see :func:`make_forecaster`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.models import train_forecaster
    >>> t = np.arange(300.0)
    >>> X = np.column_stack([np.sin(t / 5), np.cos(t / 7)])
    >>> model = train_forecaster(X, window=12, units=8, epochs=1, random_state=0)
    >>> model.predict(X[None, :12], verbose=0).shape
    (1, 2)
    """
    keras = _keras.import_keras()
    X = np.asarray(X, dtype=np.float32)
    panel = X.ndim == 3
    rows = X.reshape(-1, X.shape[-1])
    mean = rows.mean(axis=0, dtype=np.float64)
    variance = rows.var(axis=0, dtype=np.float64)
    # A constant feature has nothing to standardise: keep its scale at 1.
    variance[variance < 1e-12] = 1.0
    if panel:
        inputs, targets = X[:, :-1], X[:, 1:]
    else:
        inputs, targets = sliding_windows(X[:-1], window), X[window:]
    with _keras.seeded(_keras.seed_from(random_state)):
        network, trainable = _forecaster_networks(
            None if panel else window, X.shape[-1], units, panel, mean, variance
        )
        trainable.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
        trainable.fit(
            np.ascontiguousarray(inputs),
            (targets - mean.astype(np.float32)) / np.sqrt(variance).astype(np.float32),
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            verbose={0: 0, 1: 2}.get(verbose, 1),
        )
    return network
