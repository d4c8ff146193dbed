"""GenerativeReshaper: regenerate X with a conditional VAE conditioned on the
LSTM's predictions."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import BaseReshaper
from ._predict import predict_windows
from .utils._sklearn_compat import Interval, StrOptions, _fit_context


class GenerativeReshaper(BaseReshaper):
    """Regenerate X under the LSTM's prediction, or under a requested one.

    A conditional variational autoencoder (CVAE) learns the windows of X
    conditioned on what the wrapped Keras model predicts for them.
    ``transform`` encodes every window under its actual condition and decodes
    it under the requested one: "what would this data look like if the LSTM
    predicted c?". A 2-D series is regenerated window by window and folded
    back into rows by overlap-add averaging; each sequence of a 3-D panel is
    regenerated whole.

    Read more in the :ref:`User Guide <generative>`.

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None, default=None
        The fitted Keras model whose predictions condition the CVAE: a
        ``keras.Model``, the path of a ``.keras`` file, or None to train an
        LSTM forecaster on X in ``fit`` (with ``units`` and ``epochs``). A
        given model is frozen: it is never trained or modified.

    window : int or None, default=None
        Rows per window of a 2-D series; None takes the model's input length,
        or 24 when the model accepts any length. Ignored for a 3-D panel
        (see :ref:`data_conventions`).

    latent_dim : int, default=8
        Size of the CVAE's code.

    units : int, default=32
        Units of the CVAE's layers (and of the default forecaster).

    beta : float, default=1.0
        Weight of the KL term of the CVAE's loss. Lower values reconstruct
        more closely; higher values lean more on the condition.

    condition_weight : float, default=1.0
        Weight of the closed-loop term of the CVAE's loss: during training
        every window is also decoded under a perturbed condition, the model
        is run on the result, and its miss of that condition is penalised.
        This is what makes the decoder obey a requested condition; 0 trains
        a plain CVAE. The model itself is never trained.

    epochs : int, default=30
        Training epochs of the CVAE (and of the default forecaster).

    batch_size : int, default=64
        Windows per gradient step of the CVAE.

    condition : "prediction", float, array-like or callable, default="prediction"
        The condition every window is decoded under. ``"prediction"``: the
        model's own prediction (a learned regeneration of X). A number or an
        array: that condition, broadcast to every window's prediction.
        A callable ``condition(predictions) -> conditions``: new conditions
        of the predictions' shape.

    fold : {"mean", "last"}, default="mean"
        How a 2-D series is rebuilt from its regenerated windows. ``"mean"``
        averages every window that covers a row (overlap-add): smooth, but
        each row mixes the conditions of ``window`` neighbouring windows.
        ``"last"`` takes each row from the window that ends at it, the window
        whose condition (for a forecaster, the forecast of the next row)
        depends on it most: the LSTM's predictions follow the requested
        condition more closely, and the result is less smooth.

    residual : "auto" or bool, default="auto"
        If True, X is edited rather than replaced: the result is X plus the
        change the requested condition makes to the decoded window,
        ``decode(code, requested) - decode(code, actual)``, folded like the
        windows. Detail the CVAE cannot reconstruct (day-to-day noise, rare
        values) is kept, so the model's predictions on the result move by
        the requested change instead of by the reconstruction error too. If
        False, X is replaced by the decoded windows (a learned regeneration).
        ``"auto"`` is False for ``condition="prediction"`` (where the change
        would be zero) and True otherwise.

    sample : bool, default=False
        If False, decode the mean code (deterministic). If True, draw the code
        from the encoder's distribution, seeded by ``random_state``.

    verbose : int, default=0
        Print training and prediction progress when > 0.

    random_state : int, RandomState instance or None, default=None
        Seeds the training and, with ``sample=True``, the drawn codes.

    Attributes
    ----------
    model_ : keras.Model
        The model whose predictions are the conditions.

    window_ : int or None
        Window length used for 2-D series (None when fitted on a panel).

    encoder_ : keras.Model
        The CVAE's encoder: ``[window, condition] -> [mean, log_variance]``.

    decoder_ : keras.Model
        The CVAE's decoder: ``[code, condition] -> window``.

    condition_shape_ : tuple of int
        Shape of the model's prediction for one window.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when X has string column names.

    See Also
    --------
    ThresholdReshaper : Repair only the values the LSTM flags.
    sklearn_lstm_reshape.models.train_cvae : The network trained in ``fit``.

    Notes
    -----
    Every row of a series is transformed, including the first ones: with
    ``fold="mean"`` a row is the average of every window that covers it, and
    the first and last rows are covered by fewer windows.

    Under a requested condition, X is edited by default (``residual``): a
    CVAE trained on little data reproduces windows only roughly, and
    replacing X by its regeneration moves the model's predictions by that
    error too. On the bundled weather, editing brings the model's forecasts
    about a third closer to a requested forecast, where regenerating with
    ``fold="mean"`` does not (see the :ref:`User Guide <generative>`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape import GenerativeReshaper
    >>> from sklearn_lstm_reshape.datasets import make_anomalous_series
    >>> X = make_anomalous_series(n_timesteps=300, n_features=2, random_state=0).X
    >>> gen = GenerativeReshaper(window=12, latent_dim=4, units=8, epochs=2,
    ...                          condition=lambda p: p + 1.0, random_state=0)
    >>> gen.fit(X).transform(X).shape
    (300, 2)
    """

    _parameter_constraints: dict = {
        **BaseReshaper._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "condition_weight": [Interval(Real, 0, None, closed="left")],
        "condition": [StrOptions({"prediction"}), Real, "array-like", callable],
        "fold": [StrOptions({"mean", "last"})],
        "residual": [StrOptions({"auto"}), "boolean"],
        "sample": ["boolean"],
    }
    _batch_size_trains = True

    def __init__(
        self,
        model=None,
        *,
        window=None,
        latent_dim=8,
        units=32,
        beta=1.0,
        condition_weight=1.0,
        epochs=30,
        batch_size=64,
        condition="prediction",
        fold="mean",
        residual="auto",
        sample=False,
        verbose=0,
        random_state=None,
    ):
        self.model = model
        self.window = window
        self.latent_dim = latent_dim
        self.units = units
        self.beta = beta
        self.condition_weight = condition_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.condition = condition
        self.fold = fold
        self.residual = residual
        self.sample = sample
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Resolve the model, then train the CVAE on X's windows and predictions.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_sequences, timesteps, n_features)
            One series, or a panel of sequences.
        y : None
            Ignored.

        Returns
        -------
        self : GenerativeReshaper
            The fitted reshaper.
        """
        from .models import train_cvae

        X = self._validate_X(X, reset=True)
        self._fit_model(X)
        self._check_rows(X)
        predictions = self._predict(X)
        self.condition_shape_ = tuple(predictions.shape[1:])
        self.encoder_, self.decoder_ = train_cvae(
            self._windows(X),
            predictions.reshape(len(predictions), -1),
            latent_dim=self.latent_dim,
            units=self.units,
            beta=self.beta,
            predictor=self.model_,
            condition_weight=self.condition_weight,
            epochs=self.epochs,
            batch_size=self.batch_size,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        return self

    def transform(self, X):
        """Regenerate X under the requested condition.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_sequences, timesteps, n_features)
            Data shaped like the data seen in ``fit``.

        Returns
        -------
        X_new : ndarray of the shape and float dtype of X
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        predictions = self._predict(X)
        code = self._encode(X, predictions)
        return self._regenerate(X, code, predictions, self._requested(predictions))

    def report(self, X):
        """How close the LSTM's predictions on ``transform(X)`` come to the request.

        The wrapped model is run again on the regenerated data (the closed
        loop), so the figures say whether the generator does what was asked.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_sequences, timesteps, n_features)

        Returns
        -------
        report : dict
            - ``condition_gap_before``: mean ``|prediction(X) - requested|``;
            - ``condition_gap_after``: mean ``|prediction(X_new) - requested|``;
            - ``prediction_change``: mean ``|prediction(X_new) - prediction(X)|``;
            - ``reconstruction_error``: mean ``|X_rec - X|``, where ``X_rec``
              is X regenerated under its own predictions
              (``condition="prediction"``);
            - ``mean_abs_change``: mean ``|X_new - X|``;
            - ``condition_gap_before_by_output``,
              ``condition_gap_after_by_output``: the two gaps per value of
              the model's prediction (arrays of shape ``condition_shape_``),
              since a request often concerns some outputs and not others.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        predictions = self._predict(X)
        requested = self._requested(predictions)
        code = self._encode(X, predictions)
        decoded = self._decoded_windows(code, predictions)
        X_new = self._regenerate(X, code, predictions, requested, decoded)
        new_predictions = self._predict(X_new)
        reconstruction = self._rows(X, decoded, self.fold)
        gap_before = np.abs(predictions - requested)
        gap_after = np.abs(new_predictions - requested)
        return {
            "condition_gap_before": float(gap_before.mean()),
            "condition_gap_after": float(gap_after.mean()),
            "condition_gap_before_by_output": gap_before.mean(axis=0),
            "condition_gap_after_by_output": gap_after.mean(axis=0),
            "prediction_change": float(np.mean(np.abs(new_predictions - predictions))),
            "reconstruction_error": float(np.mean(np.abs(reconstruction - X))),
            "mean_abs_change": float(np.mean(np.abs(X_new - X))),
        }

    # -- internals -------------------------------------------------------------

    def _requested(self, predictions):
        """The condition each window is decoded under, shaped like ``predictions``."""
        condition = self.condition
        if isinstance(condition, str):
            return predictions
        return self._broadcast_request(condition, predictions, "condition")

    def _encode(self, X, predictions):
        """The code of each window of X under its own prediction."""
        actual = predictions.reshape(len(predictions), -1)
        mean, log_variance = predict_windows(self.encoder_, self._windows(X), actual)
        if not self.sample:
            return mean
        noise = check_random_state(self.random_state).standard_normal(mean.shape)
        return mean + np.exp(0.5 * log_variance) * noise.astype(np.float32)

    def _decoded_windows(self, code, conditions):
        return predict_windows(
            self.decoder_, code, np.ascontiguousarray(conditions).reshape(len(conditions), -1)
        )

    def _regenerate(self, X, code, predictions, requested, decoded=None):
        """X decoded under ``requested``, or X plus the change it makes (``residual``).

        ``decoded``: the windows decoded under ``predictions``, if already known.
        """
        windows = self._decoded_windows(code, requested)
        residual = self.residual if self.residual != "auto" else not isinstance(self.condition, str)
        if not residual:
            return self._rows(X, windows, self.fold).astype(X.dtype)
        if decoded is None:
            decoded = self._decoded_windows(code, predictions)
        change = self._rows(X, windows - decoded, self.fold)
        return np.where(change != 0, X + change, X).astype(X.dtype)
