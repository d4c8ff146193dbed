"""BaseReshaper: what every strategy shares.

Input validation (2-D series or 3-D panel, float dtype kept), the wrapped
model (given, loaded from a ``.keras`` file, or the default forecaster trained
on X), the window it is run with, the prediction engine, cloning that shares
the frozen model, and the scikit-learn tags.
"""

import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_array, check_is_fitted

from . import _cache, _keras, _predict
from ._windows import fold_windows, sliding_windows
from .utils._sklearn_compat import (
    HasMethods,
    Interval,
    _check_feature_names_in,
    validate_data,
)

FLOAT_DTYPES = (np.float64, np.float32)

# Window length when neither the caller nor the model fixes one.
DEFAULT_WINDOW = 24


class BaseReshaper(TransformerMixin, BaseEstimator):
    """Base class of the reshapers; not meant to be used directly.

    Subclasses document and validate their own parameters; the ones handled
    here are ``model``, ``window``, ``units``, ``epochs``, ``batch_size``,
    ``verbose`` and ``random_state``.
    """

    _parameter_constraints: dict = {
        "model": [None, str, os.PathLike, HasMethods(["predict", "compute_output_spec"])],
        "window": [Interval(Integral, 1, None, closed="left"), None],
        "units": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # Parameters holding fitted Keras models, shared by clones, never copied.
    _frozen_params = ("model",)

    # -- input ---------------------------------------------------------------

    def _validate_X(self, X, *, reset):
        """Validate X as a 2-D series or a 3-D panel; floats keep their dtype.

        Returns an ndarray that may be X itself: callers must not write to it.
        """
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if ndim not in (2, 3):
            raise ValueError(
                f"X must be 2-D (n_timesteps, n_features), one series, or 3-D "
                f"(n_sequences, timesteps, n_features), a panel; got a {ndim}-D "
                f"array of shape {np.shape(X)}. Reshape your data, e.g. with "
                f"X.reshape(-1, 1) for a single univariate series."
            )
        if not reset and ndim != self._fit_ndim:
            raise ValueError(
                f"X is {ndim}-D, but {type(self).__name__} was fitted on "
                f"{self._fit_ndim}-D data. Transform data shaped like the data "
                f"it was fitted on."
            )
        try:
            if ndim == 2:
                X = validate_data(self, X, reset=reset, dtype=FLOAT_DTYPES)
            else:
                X = self._validate_panel(X, reset=reset)
        except ValueError as error:
            if "could not convert" in str(error):
                raise ValueError(
                    f"X must hold numbers only: {error}. Encode or drop the "
                    "non-numeric columns first (e.g. with OrdinalEncoder)."
                ) from error
            raise
        if reset:
            self._fit_ndim = ndim
        else:
            self._check_rows(X)
        return X

    def _validate_panel(self, X, *, reset):
        X = check_array(X, allow_nd=True, dtype=FLOAT_DTYPES, input_name="X", estimator=self)
        n_features = X.shape[-1]
        if n_features == 0 or X.shape[1] == 0:
            raise ValueError(
                f"X has shape {X.shape}: a panel needs at least one timestep and "
                f"one feature per sequence."
            )
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return X

    # -- the wrapped model ---------------------------------------------------

    def _fit_model(self, X):
        """Resolve ``model`` into ``model_`` and the window into ``window_``.

        A given model is used as it is; ``model=None`` trains the default
        forecaster on X.
        """
        if self.model is None:
            window = None if X.ndim == 3 else (self.window or DEFAULT_WINDOW)
            if X.ndim == 2:
                self._check_rows(X, window=window, needed=window + 1)
            self.model_ = self._train_default_model(X, window)
        elif isinstance(self.model, str | os.PathLike):
            self.model_ = _keras.load_model(self.model)
        elif _keras.is_keras_model(self.model):
            self.model_ = self.model
        else:
            raise TypeError(
                f"model must be a keras.Model, the path of a .keras file, or "
                f"None; got an object of type {type(self.model).__name__}."
            )
        self.window_ = self._resolve_window(X)

    def _train_default_model(self, X, window):
        from .models import train_forecaster

        name = type(self).__name__
        # An int seed makes training deterministic, so a model trained on the
        # same data with the same settings is the model this fit would train.
        key = None
        if isinstance(self.random_state, Integral):
            key = (
                _predict.data_fingerprint(X),
                window,
                self.units,
                self.epochs,
                int(self.random_state),
            )
            model = _cache.default_models.get(key)
            if model is not None:
                if self.verbose:
                    print(
                        f"[{name}] reusing the default LSTM forecaster trained on "
                        "the same data with the same settings",
                        flush=True,
                    )
                return model
        if self.verbose:
            unit = "sequences" if X.ndim == 3 else "rows"
            print(
                f"[{name}] training the default LSTM forecaster on {X.shape[0]} {unit}", flush=True
            )
        model = train_forecaster(
            X,
            window=window,
            units=self.units,
            epochs=self.epochs,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        if key is not None:
            _cache.default_models.put(key, model)
        return model

    def _resolve_window(self, X):
        """The window length to cut a 2-D series with (None for a panel).

        Checks that the model can take the data: its number of features, and
        its window length when it fixes one.
        """
        model_shape = _keras.model_input_shape(self.model_)
        if len(model_shape) != 2:
            raise ValueError(
                f"model must take windows of shape (timesteps, n_features); "
                f"its input shape is {(None, *model_shape)}. Wrap a model whose "
                f"input is (batch, timesteps, n_features), like an LSTM's."
            )
        model_steps, model_features = model_shape
        if model_features is not None and model_features != X.shape[-1]:
            raise ValueError(
                f"X has {X.shape[-1]} features, but the model takes windows of "
                f"{model_features} features. Pass data with the features the "
                f"model was trained on."
            )
        if X.ndim == 3:
            if model_steps is not None and model_steps != X.shape[1]:
                raise ValueError(
                    f"X's sequences have {X.shape[1]} timesteps, but the model "
                    f"takes sequences of {model_steps}. Each sequence of a 3-D "
                    f"panel is one model input: pass sequences of {model_steps} "
                    f"timesteps."
                )
            return None
        if self.window is None:
            return model_steps or DEFAULT_WINDOW
        if model_steps is not None and model_steps != self.window:
            raise ValueError(
                f"window={self.window}, but the model takes windows of "
                f"{model_steps} timesteps. Set window={model_steps} or leave "
                f"window=None to use the model's."
            )
        return self.window

    def _broadcast_request(self, request, predictions, name):
        """A requested prediction per window: ``request`` broadcast, or called.

        ``request`` is a number, an array broadcastable to one prediction, or
        a callable mapping the predictions to an array of their shape.
        """
        # A copy: the cached predictions are read-only, and a callable may
        # well edit its argument in place (``p[:, 1] += 3; return p``).
        requested = request(predictions.copy()) if callable(request) else request
        requested = np.asarray(requested, dtype=np.float32)
        try:
            return np.broadcast_to(requested, predictions.shape)
        except ValueError:
            one = predictions.shape[1:]
            raise ValueError(
                f"{name} gives shape {requested.shape}, which does not fit the "
                f"model's predictions of shape {predictions.shape} (one {one} per "
                f"window). Pass a number, an array broadcastable to {one}, or a "
                f"callable that returns an array of the predictions' shape."
            ) from None

    def _min_rows(self):
        """Rows a 2-D series needs for one prediction; strategies refine it."""
        return self.window_

    def _check_rows(self, X, *, window=None, needed=None):
        """Refuse a 2-D series too short to give a single prediction."""
        window = window or self.window_
        needed = needed or self._min_rows()
        if X.ndim == 2 and X.shape[0] < needed:
            raise ValueError(
                f"X has {X.shape[0]} sample(s) (rows), but window={window} needs "
                f"at least {needed} rows"
                + (
                    " (a forecaster compares each window with the row after it)"
                    if needed > window
                    else ""
                )
                + ". Pass a longer series or set a smaller window."
            )

    # True when ``batch_size`` is the batch of a network trained in ``fit``:
    # forward passes then use the engine's default, much faster than a
    # training-sized batch.
    _batch_size_trains = False

    def _forward_batch_size(self):
        """Windows per forward pass of the wrapped model."""
        return _predict.FORWARD_BATCH_SIZE if self._batch_size_trains else self.batch_size

    def _windows(self, X):
        """The model inputs of X: the windows of a series, or a panel's sequences."""
        return sliding_windows(X, self.window_) if X.ndim == 2 else X

    @staticmethod
    def _rows(X, windows, how):
        """Rows of X's shape from one array per window (folded by ``how`` for a series)."""
        return fold_windows(windows, len(X), how=how) if X.ndim == 2 else windows

    def _predict(self, X):
        """The model's predictions for every window of X (cached)."""
        return _predict.predict(
            self.model_,
            X,
            self.window_,
            batch_size=self._forward_batch_size(),
            verbose=self.verbose,
            label=f"[{type(self).__name__}] ",
        )

    # -- scikit-learn protocol -------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input feature names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    def __sklearn_clone__(self):
        # The default clone deep-copies every parameter; wrapped Keras models
        # are frozen, so clones share them instead of copying them per candidate.
        params = {
            name: value if name in self._frozen_params else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        cloned = type(self)(**params)
        for attribute in ("_metadata_request", "_sklearn_output_config"):
            if hasattr(self, attribute):
                setattr(cloned, attribute, clone(getattr(self, attribute), safe=False))
        return cloned

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
