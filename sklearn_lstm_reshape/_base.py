"""BaseReshaper: the skeleton every strategy fills.

The base owns the public methods, written once: ``fit``, ``transform`` and
``report`` validate X (a 2-D series or a 3-D panel, float dtype kept), resolve
the wrapped model (given, loaded from a ``.keras`` file, or the default
forecaster trained on X) and the window it is run with, run the prediction
engine, and check the output (X's shape and float dtype, a new array, X never
written: strategies see X read-only). A strategy supplies the part that
differs through a few hooks:

- ``_fit_strategy(X, predictions)``: learn what the strategy needs;
- ``_edit(X, predictions, details)``: the reshaped copy of X; ``details`` is
  None in ``transform``, or a dict in ``report`` that the edit fills with
  what it computed on the way;
- ``_report(X, X_new, predictions, details)``: the strategy's figures;

and, where it needs them, ``_resolve`` (fitted settings that depend on the
model, before anything is predicted), ``_check_settings`` (parameters that may
be set after ``fit``), ``_needs_predictions``, ``_min_rows`` and
``_added_columns``.
"""

import inspect
import os
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from . import _cache, _dask, _keras, _predict
from ._windows import WindowFolder, sliding_windows
from .utils._docstrings import fill_doc
from .utils._sklearn_compat import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    validate_data,
)

FLOAT_DTYPES = (np.float64, np.float32)

# Window length when neither the caller nor the model fixes one.
DEFAULT_WINDOW = 24

# The value of a renamed parameter that the caller did not set.
DEPRECATED = "deprecated"


class BaseReshaper(TransformerMixin, BaseEstimator):
    """Base class of the reshapers; not meant to be used directly.

    Subclasses document and validate their own parameters; the ones handled
    here are ``model``, ``window``, ``units``, ``epochs``,
    ``predict_batch_size``, ``verbose`` and ``random_state``.
    """

    _parameter_constraints: dict = {
        "model": [None, str, os.PathLike, HasMethods(["predict", "compute_output_spec"])],
        "window": [Interval(Integral, 1, None, closed="left"), None],
        "units": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "predict_batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # Parameters holding fitted Keras models, shared by clones, never copied.
    _frozen_params = ("model",)
    # What model=None means: train the default forecaster on X (True), or
    # work without a model (False).
    _trains_default_model = True
    # The form of the default forecaster (train_forecaster's predict_change).
    _default_predict_change = True
    # Parameters renamed, kept for one release: old name -> (new name, a
    # function of the old value giving the new one, or None for the same).
    _renamed_params: dict = {}
    # Parameters that only transform reads, which may be set after fit. Every
    # other parameter shaped what fit learned: once one of them has changed,
    # transform refuses to run rather than mix the new value with a fitted
    # state that was learned under the old one.
    _transform_params: tuple = ("predict_batch_size", "verbose")

    # -- the public methods ----------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Resolve the model and fit the strategy on X.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or \
                (n_sequences, timesteps, n_features)
            One series, or a panel of sequences.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted reshaper.
        """
        self._warn_renamed()
        _dask.refuse_in_fit(self, X)
        X = _read_only(self._validate_X(X, reset=True))
        self._fit_model(X)
        self._resolve(X)
        self._check_settings()
        self._check_rows(X)
        self._fit_strategy(X, self._predict(X) if self.model_ is not None else None)
        self._fitted_params = self._fit_time_params()
        rows = X.reshape(-1, X.shape[-1])
        self._training_range = (rows.min(axis=0), rows.max(axis=0))
        return self

    @fill_doc
    def transform(self, X):
        """Reshape X: the strategy's edit, in a new array.

        {{only_X}}

        Returns
        -------
        X_new : ndarray of the shape and float dtype of X
            A new array; X is never modified. Options that add columns
            (``add_indicator``) append them after X's. For a dask array X, a
            lazy dask array (see :ref:`scaling_out`).
        """
        if _dask.is_dask_array(X):
            return self._lazily("transform", X)
        X, predictions = self._prepare(X)
        return self._checked(X, self._edit(X, predictions, None))

    @fill_doc
    def report(self, X):
        """Figures about what ``transform(X)`` does, and whether it did what was asked.

        The wrapped model is run again on the result where the strategy's
        figures need it (the closed loop).

        {{only_X}}

        Returns
        -------
        report : dict
            The strategy's figures, listed in the Notes of each estimator.
        """
        _dask.refuse_in(
            self, "report", X, "report on a part of it in memory, such as X[:100_000].compute()"
        )
        X, predictions = self._prepare(X)
        details = {}
        X_new = self._checked(X, self._edit(X, predictions, details))
        return self._report(X, X_new, predictions, details)

    # -- hooks -------------------------------------------------------------------

    def _resolve(self, X):
        """Set the fitted settings that depend on the model and X's shape."""

    def _check_settings(self):
        """Refuse settings that do not fit together; called again in transform,
        since parameters may be set after fit."""

    def _needs_predictions(self):
        """Whether transform needs the model's predictions on X."""
        return True

    def _fit_strategy(self, X, predictions):
        raise NotImplementedError

    def _edit(self, X, predictions, details):
        raise NotImplementedError

    def _report(self, X, X_new, predictions, details):
        raise NotImplementedError

    def _may_return_nan(self):
        """Whether NaN in the output is asked for (an action that marks values)."""
        return False

    def _added_columns(self):
        """Columns the output has beyond X's."""
        return 0

    def _added_names(self, names):
        """Names of the added columns, given X's feature names."""
        return []

    def _chunk_overlap(self, method, ndim):
        """Rows (before, after) of a 2-D series that the result of ``method``
        for a row depends on, for dask arrays computed chunk by chunk; (0, 0)
        for a panel, whose sequences are independent. Raises a ValueError
        naming why, and what to do, where no bound exists."""
        raise ValueError(
            f"{type(self).__name__} does not compute {method} chunk by chunk: pass "
            f"the data in memory."
        )

    def _lazily(self, method, X):
        """``method`` of a dask array X, as a lazy dask array."""
        return _dask.lazily(self, method, X)

    def _output_columns(self, method):
        """The size of the last axis of ``method``'s result (dask arrays)."""
        return self.n_features_in_ + self._added_columns()

    # -- the skeleton's steps --------------------------------------------------

    def _prepare(self, X):
        """Checked, read-only X and the model's predictions on it (or None)."""
        check_is_fitted(self)
        self._check_unchanged_since_fit()
        self._check_settings()
        X = _read_only(self._validate_X(X, reset=False))
        self._warn_far_from_training(X)
        needed = self.model_ is not None and self._needs_predictions()
        return X, self._predict(X) if needed else None

    def _feature_name(self, feature):
        """How a warning names feature ``feature``: its column name if fitted on one."""
        names = getattr(self, "feature_names_in_", None)
        return names[feature] if names is not None else f"feature {feature}"

    def _warn_far_from_training(self, X):
        """Warn when most of a feature's values lie far outside the range seen in fit."""
        if getattr(self, "_training_range", None) is None:
            return
        low, high = self._training_range
        margin = (high - low) * FAR_OUTSIDE_MARGIN
        rows = X.reshape(-1, X.shape[-1])
        n_far = sum(
            np.count_nonzero((block < low - margin) | (block > high + margin), axis=0)
            for block in _row_blocks(rows)
        )
        far = n_far / len(rows)
        features = np.flatnonzero(far > FAR_OUTSIDE_SHARE)
        if not len(features):
            return
        described = ", ".join(
            f"{self._feature_name(f)} ({far[f]:.0%} outside "
            f"[{low[f] - margin[f]:.3g}, {high[f] + margin[f]:.3g}])"
            for f in features[:5]
        )
        warnings.warn(
            f"X lies far outside the data {type(self).__name__} was fitted on: "
            f"{described}{', ...' if len(features) > 5 else ''}; the bounds are the "
            f"range seen in fit widened by half its width. What fit learned (a "
            f"threshold, a network's scale) belongs to the training data, and may "
            f"rewrite most of these values. Transform data on the training data's "
            f"scale, or fit on data like X.",
            UserWarning,
            stacklevel=4,
        )

    def _checked(self, X, X_new):
        """The output check every strategy's result goes through."""
        expected = (*X.shape[:-1], X.shape[-1] + self._added_columns())
        if X_new.shape != expected or X_new.dtype != X.dtype or np.may_share_memory(X_new, X):
            raise RuntimeError(
                f"{type(self).__name__} produced an array of shape {X_new.shape} and "
                f"dtype {X_new.dtype} (sharing memory with X: "
                f"{np.may_share_memory(X_new, X)}) for X of shape {X.shape} and dtype "
                f"{X.dtype}; expected a new array of shape {expected} and dtype "
                f"{X.dtype}. This is a bug: please report it."
            )
        # X itself is finite: validation refuses NaN and inf.
        if not self._may_return_nan() and not _all_finite(X_new):
            finite = np.isfinite(X_new)
            rows = np.unique(np.nonzero(~finite)[0])
            raise ValueError(
                f"{type(self).__name__} produced {np.count_nonzero(~finite)} "
                f"non-finite value(s) from finite X (in rows "
                f"{', '.join(map(str, rows[:5]))}{', ...' if len(rows) > 5 else ''}): "
                f"the networks overflowed float32 on values as large as "
                f"{np.abs(X).max():.3g}, far outside the data seen in fit. Scale X "
                f"like the training data, or clip such values, before transform."
            )
        return X_new

    def _fit_time_params(self):
        """The parameters fit depended on, as they are now (containers copied,
        so that an array edited in place after fit is noticed too)."""
        return {
            name: _snapshot(value)
            for name, value in self.get_params(deep=False).items()
            if name not in self._transform_params
        }

    def _check_unchanged_since_fit(self):
        fitted = getattr(self, "_fitted_params", None)
        if fitted is None:  # fitted by a version that did not record them
            return
        now = self._fit_time_params()
        changed = [name for name, value in fitted.items() if not _same_value(value, now[name])]
        if changed:
            was = ", ".join(f"{name}={_short(fitted[name])}" for name in changed)
            now_set = ", ".join(f"{name}={_short(now[name])}" for name in changed)
            raise ValueError(
                f"{type(self).__name__} was fitted with {was}, and what fit learned "
                f"depends on it; it is now {now_set}. Call fit again to use the new "
                f"value, or set the old one back. Parameters that transform alone "
                f"reads may be changed after fit: "
                f"{', '.join(sorted(self._transform_params))}."
            )

    def _param(self, name):
        """The value of parameter ``name``, taken from its old name if that was set."""
        for old, (new, translate) in self._renamed_params.items():
            value = getattr(self, old)
            if new == name and not _is_unset(value):
                return value if translate is None else translate(value)
        return getattr(self, name)

    def _warn_renamed(self):
        defaults = inspect.signature(type(self).__init__).parameters
        for old, (new, _) in self._renamed_params.items():
            if _is_unset(getattr(self, old)):
                continue
            if getattr(self, new) is not defaults[new].default and getattr(self, new) != (
                defaults[new].default
            ):
                raise ValueError(
                    f"{old!r} was renamed {new!r}: set {new!r} only, not both "
                    f"(got {old}={getattr(self, old)!r} and {new}={getattr(self, new)!r})."
                )
            warnings.warn(
                f"{old!r} was renamed {new!r} in 0.2 and will be removed in 0.3; "
                f"set {new}={self._param(new)!r} instead.",
                FutureWarning,
                stacklevel=4,
            )

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
            _refuse_fill_values(X)
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
        forecaster on X, or means no model when the strategy can work without.
        """
        if self.model is None and not self._trains_default_model:
            self.model_ = None
            self.window_ = self._window_without_model(X)
            return
        if self.model is None:
            window = None if X.ndim == 3 else (self.window or DEFAULT_WINDOW)
            if X.ndim == 2:
                self._check_rows(X, window=window, needed=window + 1)
            elif X.shape[1] < 2:
                raise ValueError(
                    f"X's sequences have {X.shape[1]} timestep, but the default forecaster "
                    f"of a panel (model=None) learns step t + 1 from the steps up to t, "
                    f"so it needs at least 2 timesteps per sequence. Pass longer "
                    f"sequences, or a fitted model."
                )
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

    def _window_without_model(self, X):
        """The window of a strategy fitted without a model (None for a panel)."""
        return None if X.ndim == 3 else self.window or DEFAULT_WINDOW

    def _train_default_model(self, X, window):
        from .models import _copy, train_forecaster

        name = type(self).__name__

        def train():
            if self.verbose:
                unit = "sequences" if X.ndim == 3 else "rows"
                print(
                    f"[{name}] training the default LSTM forecaster on {X.shape[0]} {unit}",
                    flush=True,
                )
            return train_forecaster(
                X,
                window=window,
                units=self.units,
                epochs=epochs,
                predict_change=self._default_predict_change,
                random_state=self.random_state,
                verbose=self.verbose,
            )

        n_windows = len(X) - window + 1 if X.ndim == 2 else len(X)
        epochs = self._training_epochs(n_windows)
        key = _cache.default_model_key(
            X, window, self.units, epochs, self._default_predict_change, self.random_state
        )
        if key is None:
            return train()
        # The cache shares weights, never the object: each estimator owns its
        # model, so fine-tuning one estimator's model_ leaves the others alone.
        return _copy(_cache.memoize(_cache.default_models, key, train))

    def _training_epochs(self, n_windows):
        """The epochs of every network fit trains on ``n_windows`` windows."""
        return self.epochs

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

    def _windows(self, X):
        """The model inputs of X: the windows of a series, or a panel's sequences."""
        return sliding_windows(X, self.window_) if X.ndim == 2 else X

    def _rewrite(self, X, rewrite, n_streams=1):
        """Rows of X's shape and dtype from windows rewritten batch by batch.

        ``rewrite(start, stop)`` returns, for windows ``start .. stop - 1`` of
        X (the sequences of a panel), one array of new windows per stream. Each
        batch is folded into rows by ``overlap`` as it comes (last batch
        first), so transform never holds every window of a long series at once.
        Returns one array per stream.
        """
        n_windows = len(X) - self.window_ + 1 if X.ndim == 2 else len(X)
        outs = [np.empty(X.shape, X.dtype) for _ in range(n_streams)]
        if X.ndim == 2:
            how = self._param("overlap")
            folders = [WindowFolder(out, self.window_, how) for out in outs]
        batch = self._rewrite_batch(X)
        with _predict.windows_of_input(n_windows):
            for start in reversed(range(0, n_windows, batch)):
                stop = min(start + batch, n_windows)
                for index, windows in enumerate(rewrite(start, stop)):
                    if X.ndim == 2:
                        folders[index].add(start, windows)
                    else:
                        outs[index][start:stop] = windows
        return outs

    def _rewrite_batch(self, X):
        """Windows per batch of ``_rewrite``: whole forward passes, so that every
        network sees the batches it would see over all the windows at once,
        and at most about REWRITE_TIMESTEPS timesteps."""
        forward = self._param("predict_batch_size")
        timesteps = self.window_ if X.ndim == 2 else X.shape[1]
        return forward * max(1, REWRITE_TIMESTEPS // (forward * timesteps))

    def _batch_normal(self, n_windows):
        """Standard normal draws per window, made by blocks of DRAW_BLOCK windows
        with a seed each, so that any batch of windows gets the same draws.

        Returns ``normal(start, stop, shape)``: the draws of windows
        ``start .. stop - 1``, each of ``shape``.
        """
        # Windows are numbered from the start of the whole input: a chunk of a
        # dask array draws what the whole array draws at its windows.
        before = _dask.first_window.get()
        n_blocks = -(-(before + n_windows) // DRAW_BLOCK)
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=n_blocks)

        def normal(start, stop, shape):
            start, stop = start + before, stop + before
            first, last = start // DRAW_BLOCK, (stop - 1) // DRAW_BLOCK
            draws = np.concatenate(
                [
                    np.random.RandomState(seeds[block]).standard_normal((DRAW_BLOCK, *shape))
                    for block in range(first, last + 1)
                ]
            )
            offset = first * DRAW_BLOCK
            return draws[start - offset : stop - offset]

        return normal

    def _predict(self, X):
        """The model's predictions for every window of X (cached)."""
        return _predict.predict(
            self.model_,
            X,
            self.window_,
            batch_size=self._param("predict_batch_size"),
            verbose=self.verbose,
            label=f"[{type(self).__name__}] ",
        )

    def _predict_windows(self, model, *inputs):
        """Run one of the strategy's own networks over ``inputs``."""
        return _predict.predict_windows(
            model, *inputs, batch_size=self._param("predict_batch_size")
        )

    # -- scikit-learn protocol -------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input names, then those of any added columns.

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
        names = _check_feature_names_in(self, input_features)
        return np.concatenate([names, np.asarray(self._added_names(names), dtype=object)])

    def __getstate__(self):
        # Each Keras model is saved under its lock: another thread may be
        # predicting with it, and Keras empties its variables meanwhile.
        return _keras.saved_under_lock(dict(super().__getstate__()))

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


class RangeBoundMixin:
    """``bounds``: the range per feature the values an estimator writes keep
    to (``"training"``: ``data_min_`` and ``data_max_`` of ``fit``)."""

    def _check_bounds(self):
        if isinstance(self.bounds, tuple | list):
            self._given_bounds()

    def _given_bounds(self):
        """``bounds=(low, high)`` checked, as two float arrays of shape (n_features,)."""
        shape = (self.n_features_in_,)
        fix = (
            f"pass bounds=(low, high) with a number or {shape[0]} numbers each and low <= "
            f"high, 'training' for the range seen in fit, or None for no bound"
        )
        if len(self.bounds) != 2:
            raise ValueError(f"bounds has {len(self.bounds)} items, not 2; {fix}.")
        try:
            low, high = (
                np.broadcast_to(np.asarray(bound, np.float64), shape) for bound in self.bounds
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"bounds cannot be read per feature ({error}); {fix}.") from None
        if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
            raise ValueError(f"bounds holds NaN or a low above its high; {fix}.")
        return low, high

    def _value_bounds(self):
        """The (low, high) per feature that written values keep to, or None."""
        if self.bounds is None:
            return None
        if isinstance(self.bounds, str):
            return self.data_min_, self.data_max_
        return self._given_bounds()

    def _kept_in_bounds(self, X, X_new):
        """``X_new`` clipped in place to the bounds, widened to hold each value
        of X (a value already beyond them may stay, but goes no further out)."""
        bounds = self._value_bounds()
        if bounds is None:
            return X_new
        low, high = (bound.astype(X.dtype) for bound in bounds)
        X_new = np.ascontiguousarray(X_new)  # its rows are clipped in place
        n_features = X.shape[-1]
        # By blocks of rows: the widened bounds are the size of what they clip.
        for new, old in zip(
            _row_blocks(X_new.reshape(-1, n_features)),
            _row_blocks(X.reshape(-1, n_features)),
            strict=True,
        ):
            np.clip(new, np.minimum(old, low), np.maximum(old, high), out=new)
        return X_new


def mode_of_residual(residual):
    """The ``mode`` that the deprecated ``residual`` value stands for."""
    if isinstance(residual, str):
        return residual  # "auto"
    return "edit" if residual else "regenerate"


class WindowAutoencodingReshaper(BaseReshaper):
    """Base of the strategies that code windows into a latent space and write
    them back (generative and latent): the parameters they share, validated
    and renamed once. Subclasses add the ``mode`` and ``residual`` options."""

    _parameter_constraints: dict = {
        **BaseReshaper._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "overlap": [StrOptions({"mean", "last"})],
        "fold": [StrOptions({"mean", "last"}), Hidden(StrOptions({DEPRECATED}))],
    }
    _renamed_params = {
        "fold": ("overlap", None),
        "residual": ("mode", mode_of_residual),
    }
    # random_state seeds the networks fit trains and the draws of transform:
    # set after fit, it changes the draws only.
    _transform_params = (
        *BaseReshaper._transform_params,
        "overlap",
        "fold",
        "mode",
        "residual",
        "random_state",
    )

    def _chunk_overlap(self, method, ndim):
        # Each window is rewritten on its own, and a row is folded from the
        # windows that hold it: window - 1 rows on either side.
        self._refuse_chunks_for(ndim)
        return (self.window_ - 1,) * 2 if ndim == 2 else (0, 0)

    def _refuse_chunks_for(self, ndim):
        """Raise a ValueError where the settings tie windows together (a
        search); hook of the strategies."""


# Timesteps of the windows one batch of _rewrite holds (4096 windows of 16).
REWRITE_TIMESTEPS = 2**16
# Windows per block of random draws (see _batch_normal).
DRAW_BLOCK = 1024

# transform warns when more than FAR_OUTSIDE_SHARE of a feature's values lie
# beyond the training range widened by FAR_OUTSIDE_MARGIN of its width on each
# side: far more than the anomalies a reshaper is there to find.
FAR_OUTSIDE_MARGIN = 0.5
FAR_OUTSIDE_SHARE = 0.25

# A value this many spreads (the range of the central 98 % of the values)
# from its feature's median
# is no measurement but a fill ("no data" as 1e30, say): networks trained in
# float32 cannot learn from it, and their normalisation overflows.
FILL_VALUE_SPREADS = 1e6


def _refuse_fill_values(X):
    """Refuse training data holding a value no network can be trained on."""
    rows = X.reshape(-1, X.shape[-1])
    low, median, high = np.percentile(rows, [1, 50, 99], axis=0)
    spread = high - low
    spread = np.where(spread > 0, spread, np.abs(rows - median).max(axis=0))
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.abs(rows.astype(np.float64) - median) / np.where(spread > 0, spread, 1.0)
    too_far = (distance > FILL_VALUE_SPREADS) & (spread > 0)
    too_far |= np.abs(rows) > np.finfo(np.float32).max ** 0.5  # whose square overflows
    if too_far.any():
        row, feature = np.unravel_index(np.argmax(np.where(too_far, distance, -1)), too_far.shape)
        raise ValueError(
            f"X holds {rows[row, feature]:.3g} (feature {feature}, row {row}"
            f"{'' if X.ndim == 2 else ' of the flattened panel'}; {too_far.sum()} such "
            f"value(s)), more than {FILL_VALUE_SPREADS:.0e} times the spread of that "
            f"feature's values away from its median: a fill value for missing data? "
            f"The networks cannot be trained on it. Replace such values before fit "
            f"(for example mark them NaN and interpolate)."
        )


# Rows per block of the whole-series checks: their boolean temporaries stay
# small beside X (a 1,000,000 x 4 series would need 4 MiB per comparison).
ROW_BLOCK = 2**16


def _row_blocks(rows):
    """``rows`` in consecutive blocks of ROW_BLOCK rows (views)."""
    return (rows[start : start + ROW_BLOCK] for start in range(0, len(rows), ROW_BLOCK))


def _all_finite(X):
    """Whether every value of X is finite, checked block by block."""
    return all(np.isfinite(block).all() for block in _row_blocks(X.reshape(-1, X.shape[-1])))


def moved(values, change):
    """``values + change`` where the change is not zero, ``values`` elsewhere
    (bit for bit), written into ``change`` when its dtype can hold the result.

    What an edit leaves alone thereby comes back exactly as it was.
    """
    dtype = np.result_type(values, change)
    out = change if change.dtype == dtype else change.astype(dtype)
    changed = out != 0
    np.add(values, out, out=out, where=changed)
    np.copyto(out, values, where=~changed)
    return out


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list | dict):
        return type(value)(value)
    return value


def _same_value(a, b):
    """Whether a parameter still has the value it had (models by identity)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # values that do not compare, or compare element-wise
        return False


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_only(X):
    """A view of X that cannot be made writeable: strategies cannot write X."""
    return np.lib.stride_tricks.as_strided(X, writeable=False)


def _is_unset(value):
    return isinstance(value, str) and value == DEPRECATED
