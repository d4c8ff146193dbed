"""Builders of the default Keras models.

The estimators build these when they are given ``model=None``; they are public
so that the same networks can be built, trained and saved on their own.
Keras is imported when a builder is called, not when this module is.
"""

import numpy as np

from . import _keras
from ._windows import sliding_windows
from .utils._docstrings import fill_doc

__all__ = [
    "drifts",
    "make_autoencoder",
    "make_cgan",
    "make_cvae",
    "make_forecaster",
    "train_autoencoder",
    "train_cgan",
    "train_cvae",
    "train_forecaster",
]

# predict_change="auto" forecasts changes when, in some feature, the medians
# of the series' two halves lie this many interquartile ranges apart.
DRIFT_IQRS = 0.5


def make_forecaster(
    window,
    n_features,
    *,
    units=32,
    sequence_output=False,
    predict_change=True,
    mean=None,
    variance=None,
    change_mean=None,
    change_variance=None,
):
    """Build an (untrained) LSTM forecaster of the next row of a series.

    Inputs are standardised with ``mean`` and ``variance`` inside the model and
    outputs mapped back, so the model reads and predicts raw values. By
    default the network forecasts the change from the window's last row (in
    units of ``change_variance``) and adds it to that row, so a forecast
    follows a trend or a new level that the training data never reached, and
    an untrained network starts from repeating the last value.

    Read more in the :ref:`User Guide <data_conventions>`.

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
    predict_change : bool, default=True
        Forecast the change from the last row (True) or the row itself
        (False). A window-to-row forecaster of changes needs a fixed
        ``window``.
    mean, variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the training data (zeros and ones if None).
    change_mean, change_variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the changes from one row to the next
        (zeros and ones if None); used when ``predict_change``.

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
    if predict_change and window is None and not sequence_output:
        raise ValueError(
            "A forecaster of the change from the last row of a window needs a "
            "fixed window: pass window=<rows per window>, or predict_change=False."
        )
    stats = _forecaster_stats(n_features, mean, variance, change_mean, change_variance)
    network, _ = _forecaster_networks(
        window, n_features, units, sequence_output, predict_change, *stats
    )
    return network


def _forecaster_stats(n_features, *stats):
    """The four statistics as float arrays, zeros and ones where None."""
    defaults = (np.zeros(n_features), np.ones(n_features)) * 2
    return tuple(
        default if value is None else np.asarray(value, dtype=float)
        for value, default in zip(stats, defaults, strict=True)
    )


def _forecaster_networks(
    window,
    n_features,
    units,
    sequence_output,
    predict_change,
    mean,
    variance,
    change_mean,
    change_variance,
):
    """The forecaster in raw units, and the same layers up to standardised output.

    Training the second one on standardised targets (rows, or changes from
    the last row) weights every feature equally whatever its scale; the first
    shares its weights. Built from Keras's own layers only, so that a saved
    forecaster loads in safe mode.
    """
    keras = _keras.import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=(window, n_features), name="window")
    standardised = layers.Normalization(mean=mean, variance=variance, name="standardise")(inputs)
    hidden = layers.LSTM(units, return_sequences=sequence_output, name="lstm")(standardised)
    if not predict_change:
        forecast = layers.Dense(n_features, name="forecast")(hidden)
        raw = layers.Normalization(mean=mean, variance=variance, invert=True, name="unstandardise")(
            forecast
        )
        return (
            keras.Model(inputs, raw, name="lstm_forecaster"),
            keras.Model(inputs, forecast, name="lstm_forecaster_standardised"),
        )
    change = layers.Dense(n_features, name="change")(hidden)
    raw_change = layers.Normalization(
        mean=change_mean, variance=change_variance, invert=True, name="unstandardise_change"
    )(change)
    if sequence_output:
        last = inputs  # step t forecasts step t + 1 from step t
    else:
        last = layers.Cropping1D((window - 1, 0), name="last_row")(inputs)
        last = layers.Reshape((n_features,), name="flatten_last_row")(last)
    raw = layers.Add(name="forecast")([last, raw_change])
    return (
        keras.Model(inputs, raw, name="lstm_forecaster"),
        keras.Model(inputs, change, name="lstm_forecaster_standardised_change"),
    )


def train_forecaster(
    X,
    *,
    window=24,
    units=32,
    epochs=10,
    batch_size=32,
    learning_rate=5e-3,
    predict_change=True,
    random_state=None,
    verbose=0,
):
    """Build an LSTM forecaster and train it on ``X``.

    Read more in the :ref:`User Guide <data_conventions>`.

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
    predict_change : bool or "auto", default=True
        Train the network to forecast the change from the last row (True),
        which copes with trends and levels outside the training range, or
        the row itself (False, the forecaster of version 0.1). ``"auto"``
        forecasts changes when the series drifts (see :func:`drifts`) and
        rows otherwise; a panel's sequences forecast changes. The row form
        gives smaller residuals on sharp but regular patterns, such as an
        ECG's heartbeats, which a forecaster of changes from a short window
        sees as sudden jumps.
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
    X = np.asarray(X, dtype=np.float32)
    panel = X.ndim == 3
    if isinstance(predict_change, str) and predict_change == "auto":
        predict_change = panel or drifts(X)
    elif not isinstance(predict_change, bool | np.bool_):
        raise ValueError(f"predict_change must be True, False or 'auto'; got {predict_change!r}.")
    mean, variance = _safe_stats(X.reshape(-1, X.shape[-1]))
    if panel:
        inputs, targets, last = X[:, :-1], X[:, 1:], X[:, :-1]
    else:
        inputs, targets, last = sliding_windows(X[:-1], window), X[window:], X[window - 1 : -1]
    changes = targets - last
    change_mean, change_variance = _safe_stats(changes.reshape(-1, X.shape[-1]))
    with _keras.seeded(_keras.seed_from(random_state)):
        network, trainable = _forecaster_networks(
            None if panel else window,
            X.shape[-1],
            units,
            panel,
            predict_change,
            mean,
            variance,
            change_mean,
            change_variance,
        )
        if predict_change:
            targets = _standardised(changes, change_mean, change_variance)
        else:
            targets = _standardised(targets, mean, variance)
        _train(
            trainable,
            np.ascontiguousarray(inputs),
            targets,
            learning_rate=learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            loss="mse",
        )
    return network


def drifts(X):
    """Whether a 2-D series drifts: its level moves over time.

    True when, in some feature, the medians of the first and the second half
    of the rows lie more than ``DRIFT_IQRS`` (0.5) interquartile ranges of
    the whole feature apart, as a trend or a lasting change of level makes
    them. Medians and quartiles, so a few faults do not decide it. This is
    how ``train_forecaster(predict_change="auto")`` chooses its form.

    Parameters
    ----------
    X : array-like of shape (n_timesteps, n_features)
        The series, rows in time order.

    Returns
    -------
    drifts : bool

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.models import drifts
    >>> t = np.arange(400.0)
    >>> bool(drifts(np.sin(t / 5)[:, None])), bool(drifts((t / 50 + np.sin(t / 5))[:, None]))
    (False, True)
    """
    X = np.asarray(X)  # no float64 copy of a float32 series: medians need none
    half = len(X) // 2
    if half == 0:
        return False
    shift = np.abs(np.median(X[half:], axis=0) - np.median(X[:half], axis=0))
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    return bool(np.any(shift > DRIFT_IQRS * (q3 - q1)))


@fill_doc
def make_autoencoder(window, n_features, *, latent_dim=8, units=32, mean=None, variance=None):
    """Build an (untrained) LSTM autoencoder of windows: its encoder and decoder.

    The encoder reads a window with an LSTM and maps its last state to a
    code; the decoder repeats the code along the window and an LSTM writes
    the window back. Windows are standardised inside the encoder and the
    decoder maps back, so both read and write raw values.

    Read more in the :ref:`User Guide <latent>`.

    Parameters
    ----------
    {{window_shape}}
    {{code_size}}
    mean, variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the training windows (zeros and ones if None).

    Returns
    -------
    encoder : keras.Model
        ``window (batch, window, n_features) -> code (batch, latent_dim)``.
    decoder : keras.Model
        ``code (batch, latent_dim) -> window (batch, window, n_features)``.

    See Also
    --------
    train_autoencoder : Build and train these networks.

    Examples
    --------
    >>> from sklearn_lstm_reshape.models import make_autoencoder
    >>> encoder, decoder = make_autoencoder(24, 3, latent_dim=4, units=8)
    >>> tuple(encoder.output.shape), tuple(decoder.output.shape)
    ((None, 4), (None, 24, 3))
    """
    encoder, decoder, _ = _autoencoder_networks(
        window, n_features, latent_dim, units, *_stats(mean, variance, n_features)
    )
    return encoder, decoder


def _autoencoder_networks(window, n_features, latent_dim, units, mean, variance):
    """Encoder, decoder in raw units, and the decoder up to standardised output."""
    keras = _keras.import_keras()
    layers = keras.layers
    windows = keras.Input((window, n_features), name="window")
    standardised = layers.Normalization(mean=mean, variance=variance, name="standardise")(windows)
    code = layers.Dense(latent_dim, name="code")(
        layers.LSTM(units, name="encoder_lstm")(standardised)
    )
    encoder = keras.Model(windows, code, name="lstm_encoder")

    code = keras.Input((latent_dim,), name="code")
    standardised, raw = _window_decoder(code, window, n_features, units, mean, variance)
    decoder = keras.Model(code, raw, name="lstm_decoder")
    return encoder, decoder, keras.Model(code, standardised)


def _window_decoder(inputs, window, n_features, units, mean, variance):
    """The layers that write a window from a code: standardised and raw values."""
    layers = _keras.import_keras().layers
    hidden = layers.Dense(units, activation="tanh", name="decoder_dense")(inputs)
    hidden = layers.LSTM(units, return_sequences=True, name="decoder_lstm")(
        layers.RepeatVector(window)(hidden)
    )
    standardised = layers.Dense(n_features, name="window_standardised")(hidden)
    raw = layers.Normalization(
        mean=mean, variance=variance, invert=True, name="unstandardise_window"
    )(standardised)
    return standardised, raw


@fill_doc
def train_autoencoder(
    windows,
    *,
    latent_dim=8,
    units=32,
    epochs=30,
    batch_size=64,
    learning_rate=5e-3,
    random_state=None,
    verbose=0,
):
    """Build an LSTM autoencoder and train it to reproduce ``windows``.

    The loss is the mean squared error on standardised values, so every
    feature weighs the same whatever its scale.

    Read more in the :ref:`User Guide <latent>`.

    Parameters
    ----------
    windows : array-like of shape (n_windows, window, n_features)
    {{code_size}}
    {{training epochs=30 rate="5e-3" draws=" and the shuffling"}}

    Returns
    -------
    encoder, decoder : keras.Model
        See :func:`make_autoencoder`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.models import train_autoencoder
    >>> windows = np.random.default_rng(0).normal(size=(64, 12, 2))
    >>> encoder, decoder = train_autoencoder(windows, latent_dim=3, units=8, epochs=1,
    ...                                      random_state=0)
    >>> decoder.predict(encoder.predict(windows, verbose=0), verbose=0).shape
    (64, 12, 2)
    """
    keras = _keras.import_keras()
    windows = np.asarray(windows, dtype=np.float32)
    mean, variance = _safe_stats(windows.reshape(-1, windows.shape[-1]))
    with _keras.seeded(_keras.seed_from(random_state)):
        encoder, decoder, decoder_standardised = _autoencoder_networks(
            windows.shape[1], windows.shape[2], latent_dim, units, mean, variance
        )
        _train(
            keras.Model(encoder.input, decoder_standardised(encoder.output)),
            windows,
            _standardised(windows, mean, variance),
            learning_rate=learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            loss="mse",
        )
    return encoder, decoder


@fill_doc
def make_cvae(
    window,
    n_features,
    condition_size,
    *,
    latent_dim=8,
    units=32,
    window_mean=None,
    window_variance=None,
    condition_mean=None,
    condition_variance=None,
):
    """Build an (untrained) conditional VAE of windows: its encoder and decoder.

    The encoder maps a window and its condition to the mean and log-variance
    of a Gaussian code; the decoder maps a code and a condition back to a
    window. Windows and conditions are standardised inside the networks, so
    both read and write raw values.

    Read more in the :ref:`User Guide <generative>`.

    Parameters
    ----------
    {{window_shape}}
    condition_size : int
        Values per condition (a flattened LSTM prediction).
    {{code_size}}
    window_mean, window_variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the training windows.
    condition_mean, condition_variance : array-like of shape (condition_size,), default=None
        Statistics of the training conditions.

    Returns
    -------
    encoder : keras.Model
        ``[window (batch, window, n_features), condition (batch, condition_size)]``
        -> ``[mean (batch, latent_dim), log_variance (batch, latent_dim)]``.
    decoder : keras.Model
        ``[code (batch, latent_dim), condition (batch, condition_size)]``
        -> ``window (batch, window, n_features)``.

    See Also
    --------
    train_cvae : Build and train these networks.

    Examples
    --------
    >>> from sklearn_lstm_reshape.models import make_cvae
    >>> encoder, decoder = make_cvae(24, 3, 3, latent_dim=4, units=8)
    >>> [tuple(o.shape) for o in encoder.outputs], tuple(decoder.output.shape)
    ([(None, 4), (None, 4)], (None, 24, 3))
    """
    window_stats = _stats(window_mean, window_variance, n_features)
    condition_stats = _stats(condition_mean, condition_variance, condition_size)
    encoder, decoder, _ = _cvae_networks(
        (window, n_features, condition_size), latent_dim, units, window_stats, condition_stats
    )
    return encoder, decoder


def _stats(mean, variance, size):
    mean = np.zeros(size) if mean is None else np.asarray(mean, dtype=float)
    variance = np.ones(size) if variance is None else np.asarray(variance, dtype=float)
    return mean, variance


def _cvae_networks(shape, latent_dim, units, window_stats, condition_stats):
    """Encoder, decoder in raw units, and the decoder up to standardised output.

    ``shape`` is ``(window, n_features, condition_size)``; the stats are
    ``(mean, variance)`` pairs of the windows' features and of the conditions.
    """
    keras = _keras.import_keras()
    layers = keras.layers
    window, n_features, condition_size = shape
    (window_mean, window_variance), (condition_mean, condition_variance) = (
        window_stats,
        condition_stats,
    )

    windows = keras.Input((window, n_features), name="window")
    condition = keras.Input((condition_size,), name="condition")
    hidden = layers.LSTM(units, name="encoder_lstm")(
        layers.Normalization(mean=window_mean, variance=window_variance, name="standardise_window")(
            windows
        )
    )
    condition_std = layers.Normalization(
        mean=condition_mean, variance=condition_variance, name="standardise_condition"
    )(condition)
    hidden = layers.Dense(units, activation="tanh", name="encoder_dense")(
        layers.Concatenate()([hidden, condition_std])
    )
    mean = layers.Dense(latent_dim, name="code_mean")(hidden)
    log_variance = layers.Dense(latent_dim, name="code_log_variance")(hidden)
    encoder = keras.Model([windows, condition], [mean, log_variance], name="cvae_encoder")

    code = keras.Input((latent_dim,), name="code")
    condition = keras.Input((condition_size,), name="condition")
    condition_std = layers.Normalization(
        mean=condition_mean, variance=condition_variance, name="standardise_condition"
    )(condition)
    standardised, raw = _window_decoder(
        layers.Concatenate()([code, condition_std]),
        window,
        n_features,
        units,
        window_mean,
        window_variance,
    )
    decoder = keras.Model([code, condition], raw, name="cvae_decoder")
    decoder_standardised = keras.Model([code, condition], standardised)
    return encoder, decoder, decoder_standardised


@fill_doc
def train_cvae(
    windows,
    conditions,
    *,
    latent_dim=8,
    units=32,
    beta=1.0,
    predictor=None,
    condition_weight=1.0,
    epochs=30,
    batch_size=64,
    learning_rate=5e-3,
    random_state=None,
    verbose=0,
):
    """Build a conditional VAE and train it on windows and their conditions.

    The loss per window is the squared error of the reconstruction plus
    ``beta`` times the KL divergence of the code from a standard normal,
    divided by the number of values in a window; the error is measured on
    standardised values, so every feature weighs the same.

    Given the ``predictor`` whose outputs the conditions are, a closed-loop
    term teaches the decoder to obey a condition: every window is also
    decoded under a perturbed condition (its own plus Gaussian noise of one
    standard deviation of the conditions), the predictor is run on the
    result, and the squared gap between its prediction and the perturbed
    condition, in standard deviations, is added with weight
    ``condition_weight``. The predictor is copied and frozen for this; the
    model passed in is never trained or modified.

    Read more in the :ref:`User Guide <generative>`.

    Parameters
    ----------
    windows : array-like of shape (n_windows, window, n_features)
    conditions : array-like of shape (n_windows, condition_size)
    {{code_size}}
    beta : float, default=1.0
        Weight of the KL term: lower reconstructs more closely, higher
        follows the condition more.
    predictor : keras.Model or None, default=None
        The model whose predictions ``conditions`` are, taking a window and
        returning ``condition_size`` values (in any shape). None trains
        without the closed-loop term.
    condition_weight : float, default=1.0
        Weight of the closed-loop term (ignored without ``predictor``).
    {{training epochs=30 rate="5e-3" draws=", the shuffling and the sampled codes"}}

    Returns
    -------
    encoder, decoder : keras.Model
        See :func:`make_cvae`.
    """
    windows = np.asarray(windows, dtype=np.float32)
    conditions = np.asarray(conditions, dtype=np.float32)
    rows = windows.reshape(-1, windows.shape[-1])
    window_mean, window_variance = _safe_stats(rows)
    condition_mean, condition_variance = _safe_stats(conditions)
    closed_loop = predictor is not None and condition_weight > 0
    with _keras.seeded(_keras.seed_from(random_state)):
        encoder, decoder, decoder_standardised = _cvae_networks(
            (*windows.shape[1:], conditions.shape[1]),
            latent_dim,
            units,
            (window_mean, window_variance),
            (condition_mean, condition_variance),
        )
        trainer = _cvae_trainer_class()(
            encoder,
            decoder_standardised,
            beta,
            decoder=decoder,
            predictor=_frozen_copy(predictor) if closed_loop else None,
            condition_weight=condition_weight,
            condition_std=np.sqrt(condition_variance),
        )
        _train(
            trainer,
            [windows, conditions],
            _standardised(windows, window_mean, window_variance),
            learning_rate=learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
        )
    return encoder, decoder


@fill_doc
def make_cgan(
    window,
    n_features,
    condition_size,
    *,
    latent_dim=8,
    units=32,
    filters=64,
    window_mean=None,
    window_variance=None,
    condition_mean=None,
    condition_variance=None,
):
    """Build an (untrained) conditional GAN of windows: its generator and
    discriminator.

    The generator reads noise at every timestep and the condition, repeated at
    every timestep, through two LSTMs, and writes a window. The discriminator
    reads a window with its condition at every timestep through three
    spectrally normalised convolutions and scores how real the pair looks.
    Windows and conditions are standardised inside the networks, so both
    read and write raw values.

    Read more in the :ref:`User Guide <generative>`.

    Parameters
    ----------
    {{window_shape}}
    condition_size : int
        Values per condition (a flattened LSTM prediction).
    latent_dim : int, default=8
        Noise values per timestep.
    units : int, default=32
        Units of each of the generator's LSTMs.
    filters : int, default=64
        Filters of each of the discriminator's convolutions.
    window_mean, window_variance : array-like of shape (n_features,), default=None
        Per-feature statistics of the training windows.
    condition_mean, condition_variance : array-like of shape (condition_size,), default=None
        Statistics of the training conditions.

    Returns
    -------
    generator : keras.Model
        ``[noise (batch, window, latent_dim), condition (batch, condition_size)]``
        -> ``window (batch, window, n_features)``.
    discriminator : keras.Model
        ``[window (batch, window, n_features), condition (batch, condition_size)]``
        -> ``score (batch, 1)``, a logit: above 0 reads as real.

    See Also
    --------
    train_cgan : Build and train these networks.
    make_cvae : The conditional VAE, the other generator.

    Examples
    --------
    >>> from sklearn_lstm_reshape.models import make_cgan
    >>> generator, discriminator = make_cgan(24, 3, 3, latent_dim=4, units=8, filters=8)
    >>> tuple(generator.output.shape), tuple(discriminator.output.shape)
    ((None, 24, 3), (None, 1))
    """
    window_stats = _stats(window_mean, window_variance, n_features)
    condition_stats = _stats(condition_mean, condition_variance, condition_size)
    return _cgan_networks(
        (window, n_features, condition_size),
        latent_dim,
        units,
        filters,
        window_stats,
        condition_stats,
    )


def _cgan_networks(shape, latent_dim, units, filters, window_stats, condition_stats):
    """Generator and discriminator; ``shape`` is ``(window, n_features,
    condition_size)``, the stats ``(mean, variance)`` pairs."""
    keras = _keras.import_keras()
    layers = keras.layers
    window, n_features, condition_size = shape
    (window_mean, window_variance), (condition_mean, condition_variance) = (
        window_stats,
        condition_stats,
    )

    def condition_at_every_timestep(condition):
        standardised = layers.Normalization(
            mean=condition_mean, variance=condition_variance, name="standardise_condition"
        )(condition)
        return layers.RepeatVector(window, name="condition_at_every_timestep")(standardised)

    noise = keras.Input((window, latent_dim), name="noise")
    condition = keras.Input((condition_size,), name="condition")
    hidden = layers.Concatenate()([noise, condition_at_every_timestep(condition)])
    for index in (1, 2):
        hidden = layers.LSTM(units, return_sequences=True, name=f"generator_lstm_{index}")(hidden)
    standardised = layers.Dense(n_features, name="window_standardised")(hidden)
    raw = layers.Normalization(
        mean=window_mean, variance=window_variance, invert=True, name="unstandardise_window"
    )(standardised)
    generator = keras.Model([noise, condition], raw, name="cgan_generator")

    windows = keras.Input((window, n_features), name="window")
    condition = keras.Input((condition_size,), name="condition")
    standardised = layers.Normalization(
        mean=window_mean, variance=window_variance, name="standardise_window"
    )(windows)
    hidden = layers.Concatenate()([standardised, condition_at_every_timestep(condition)])
    for index, (width, strides) in enumerate([(5, 1), (5, 2), (3, 2)], start=1):
        convolution = layers.Conv1D(filters, width, strides=strides, padding="same")
        hidden = layers.SpectralNormalization(convolution, name=f"discriminator_conv_{index}")(
            hidden
        )
        hidden = layers.LeakyReLU(0.2)(hidden)
    hidden = layers.GlobalAveragePooling1D()(hidden)
    score = layers.SpectralNormalization(layers.Dense(1), name="score")(hidden)
    discriminator = keras.Model([windows, condition], score, name="cgan_discriminator")
    return generator, discriminator


@fill_doc
def train_cgan(
    windows,
    conditions,
    *,
    latent_dim=8,
    units=32,
    filters=64,
    predictor=None,
    condition_weight=1.0,
    epochs=100,
    batch_size=64,
    learning_rate=1e-3,
    random_state=None,
    verbose=0,
):
    """Build a conditional GAN and train it on windows and their conditions.

    The generator and the discriminator are trained together, one Adam step
    each per batch, on the non-saturating GAN loss: the discriminator learns
    to score real windows above generated ones under their condition, the
    generator to be scored real. Spectral normalisation of the
    discriminator's layers keeps the game stable.

    Given the ``predictor`` whose outputs the conditions are, a closed-loop
    term teaches the generator to obey a condition, as in
    :func:`train_cvae`: windows are also generated under perturbed
    conditions (each plus Gaussian noise of one standard deviation of the
    conditions), the predictor is run on them, and the squared gap between
    its prediction and the perturbed condition, in standard deviations, is
    added to the generator's loss with weight ``condition_weight``. The
    predictor is copied and frozen; the model passed in is never trained or
    modified.

    Read more in the :ref:`User Guide <generative>`.

    Parameters
    ----------
    windows : array-like of shape (n_windows, window, n_features)
    conditions : array-like of shape (n_windows, condition_size)
    latent_dim : int, default=8
        Noise values per timestep.
    units : int, default=32
        Units of each of the generator's LSTMs.
    filters : int, default=64
        Filters of each of the discriminator's convolutions.
    predictor : keras.Model or None, default=None
        The model whose predictions ``conditions`` are. None trains without
        the closed-loop term.
    condition_weight : float, default=1.0
        Weight of the closed-loop term (ignored without ``predictor``).
    {{training epochs=100 rate="1e-3" draws=", the shuffling and the noise"}}

    Returns
    -------
    generator, discriminator : keras.Model
        See :func:`make_cgan`.
    """
    windows = np.asarray(windows, dtype=np.float32)
    conditions = np.asarray(conditions, dtype=np.float32)
    window_stats = _safe_stats(windows.reshape(-1, windows.shape[-1]))
    condition_stats = _safe_stats(conditions)
    closed_loop = predictor is not None and condition_weight > 0
    with _keras.seeded(_keras.seed_from(random_state)):
        generator, discriminator = _cgan_networks(
            (*windows.shape[1:], conditions.shape[1]),
            latent_dim,
            units,
            filters,
            window_stats,
            condition_stats,
        )
        trainer = _cgan_trainer_class()(
            generator,
            discriminator,
            predictor=_frozen_copy(predictor) if closed_loop else None,
            condition_weight=condition_weight,
            condition_std=np.sqrt(condition_stats[1]),
        )
        _train(
            trainer,
            [windows, conditions],
            np.zeros(len(windows), np.float32),  # the loss reads no targets
            learning_rate=learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            # As GANs are usually trained: less momentum carried across the
            # turns of the game.
            beta_1=0.5,
        )
    return generator, discriminator


def _train(
    model, inputs, targets, *, learning_rate, batch_size, epochs, verbose, loss=None, beta_1=0.9
):
    """Compile ``model`` with Adam and fit it on shuffled batches.

    Each epoch's order comes from :func:`_keras.shuffled_order`: Keras's own
    shuffle draws from NumPy's global generator, which other threads share.
    """
    adam = _keras.import_keras().optimizers.Adam(learning_rate, beta_1=beta_1)
    model.compile(optimizer=adam, loss=loss)
    several = isinstance(inputs, list | tuple)
    for epoch, order in enumerate(_keras.shuffled_order(len(targets), epochs)):
        model.fit(
            [x[order] for x in inputs] if several else inputs[order],
            targets[order],
            batch_size=batch_size,
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,
            verbose={0: 0, 1: 2}.get(verbose, 1),
        )


def _standardised(values, mean, variance):
    """``values`` in standard deviations from ``mean``, as float32."""
    return (values - mean.astype(np.float32)) / np.sqrt(variance).astype(np.float32)


def _safe_stats(values):
    """Per-column mean and variance; a constant column, with nothing to
    standardise, keeps a variance of 1."""
    mean = values.mean(axis=0, dtype=np.float64)
    variance = values.var(axis=0, dtype=np.float64)
    variance[variance < 1e-12] = 1.0
    return mean, variance


def _copy(model):
    """A new model object with ``model``'s architecture and weights."""
    keras = _keras.import_keras()
    with _keras.model_lock(model):
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    return copy


def _frozen_copy(
    model,
    purpose="The closed-loop term trains through",
    fix="pass condition_weight=0 to train without the closed-loop term",
):
    """A non-trainable copy of ``model`` with its weights (``model`` is untouched)."""
    try:
        copy = _copy(model)
    except Exception as error:
        raise ValueError(
            f"{purpose} a frozen copy of the model, and keras.models.clone_model "
            f"could not copy it ({type(error).__name__}: "
            f"{str(error).splitlines()[0]}). Register its custom layers with "
            f"keras.saving.register_keras_serializable so that it can be copied, "
            f"or {fix}."
        ) from error
    copy.trainable = False
    return copy


_trainer_class = None


def _cvae_trainer_class():
    """The Keras model that trains a CVAE; defined on first use, never saved.

    Only the encoder and decoder it trains are kept, so this class never has
    to be found again when a fitted estimator is unpickled.
    """
    global _trainer_class
    if _trainer_class is None:
        keras = _keras.import_keras()
        ops = keras.ops

        class CVAETrainer(keras.Model):
            def __init__(
                self,
                encoder,
                decoder_standardised,
                beta,
                *,
                decoder=None,
                predictor=None,
                condition_weight=0.0,
                condition_std=None,
            ):
                super().__init__()
                self.encoder = encoder
                self.decoder_standardised = decoder_standardised
                self.decoder = decoder
                self.predictor = predictor
                self.beta = beta
                self.condition_weight = condition_weight
                self.condition_std = (
                    None if condition_std is None else np.asarray(condition_std, "float32")
                )
                self.noise = keras.random.SeedGenerator()

            def call(self, inputs):
                windows, condition = inputs
                mean, log_variance = self.encoder([windows, condition])
                code = mean + ops.exp(0.5 * log_variance) * keras.random.normal(
                    ops.shape(mean), seed=self.noise
                )
                reconstruction = self.decoder_standardised([code, condition])
                if self.predictor is None:
                    return reconstruction, mean, log_variance, ops.zeros(())
                # The closed loop: decode under a perturbed condition and ask
                # the frozen predictor whether the result meets it.
                condition_std = ops.convert_to_tensor(self.condition_std)
                requested = condition + condition_std * keras.random.normal(
                    ops.shape(condition), seed=self.noise
                )
                generated = self.decoder([code, requested])
                predicted = ops.reshape(self.predictor(generated), ops.shape(requested))
                miss = ops.mean(ops.square((predicted - requested) / condition_std))
                return reconstruction, mean, log_variance, miss

            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
                reconstruction, mean, log_variance, miss = y_pred
                values_per_window = ops.cast(ops.shape(y)[1] * ops.shape(y)[2], "float32")
                squared_error = ops.sum(ops.square(y - reconstruction), axis=(1, 2))
                kl = -0.5 * ops.sum(
                    1 + log_variance - ops.square(mean) - ops.exp(log_variance), axis=1
                )
                vae = ops.mean(squared_error + self.beta * kl) / values_per_window
                return vae + self.condition_weight * miss

        _trainer_class = CVAETrainer
    return _trainer_class


_gan_trainer_class = None


def _cgan_trainer_class():
    """The Keras model that trains a conditional GAN; defined on first use,
    never saved.

    Both networks learn in one ``fit`` step from one loss, with backend-
    agnostic Keras only. The discriminator's loss sees the generated windows
    through ``stop_gradient``. The generator's loss ``g(fake)`` runs through
    the discriminator, and ``g(stop_gradient(fake))`` is subtracted: the two
    have the same value and the same gradient with respect to the
    discriminator's weights, so the difference is zero and trains the
    generator alone. After the first call of a step, the discriminator runs
    with ``training=False``, so that its spectral normalisation does one
    power iteration per step and both terms see the same weights.
    """
    global _gan_trainer_class
    if _gan_trainer_class is None:
        keras = _keras.import_keras()
        ops = keras.ops

        class CGANTrainer(keras.Model):
            def __init__(
                self,
                generator,
                discriminator,
                *,
                predictor=None,
                condition_weight=0.0,
                condition_std=None,
            ):
                super().__init__()
                self.generator = generator
                self.discriminator = discriminator
                self.predictor = predictor
                self.condition_weight = condition_weight
                self.condition_std = np.asarray(condition_std, "float32")
                self.noise_shape = tuple(generator.inputs[0].shape[1:])
                self.noise = keras.random.SeedGenerator()

            def _generate(self, condition):
                noise = keras.random.normal(
                    (ops.shape(condition)[0], *self.noise_shape), seed=self.noise
                )
                return self.generator([noise, condition])

            def call(self, inputs):
                windows, condition = inputs
                fake = self._generate(condition)
                real_score = self.discriminator([windows, condition])
                frozen = ops.stop_gradient(fake)
                fake_score = self.discriminator([frozen, condition], training=False)
                critic = ops.mean(ops.softplus(-real_score)) + ops.mean(ops.softplus(fake_score))
                fooled = ops.mean(
                    ops.softplus(-self.discriminator([fake, condition], training=False))
                )
                generator_only = fooled - ops.mean(ops.softplus(-fake_score))
                if self.predictor is None:
                    return critic, generator_only, ops.zeros(())
                condition_std = ops.convert_to_tensor(self.condition_std)
                requested = condition + condition_std * keras.random.normal(
                    ops.shape(condition), seed=self.noise
                )
                predicted = ops.reshape(
                    self.predictor(self._generate(requested)), ops.shape(requested)
                )
                miss = ops.mean(ops.square((predicted - requested) / condition_std))
                return critic, generator_only, miss

            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
                critic, generator_only, miss = y_pred
                return critic + generator_only + self.condition_weight * miss

        _gan_trainer_class = CGANTrainer
    return _gan_trainer_class
