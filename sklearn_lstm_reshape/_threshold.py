"""ThresholdReshaper: score rows with an LSTM, flag those past a threshold,
and act on them."""

from numbers import Integral, Real

import numpy as np

from . import _keras
from ._base import DEPRECATED, BaseReshaper
from .utils._docstrings import fill_doc
from .utils._sklearn_compat import Hidden, Interval, StrOptions

_SCORES = ("residual", "reconstruction", "output")
# Scores that compare X with what the model says X should be; only these give
# a value to replace a flagged cell with (action="forecast").
_EXPECTATION_SCORES = ("residual", "reconstruction")


@fill_doc
class ThresholdReshaper(BaseReshaper):
    """Flag the rows an LSTM scores past a threshold, and repair or mark them.

    Every row of X is scored with the wrapped Keras model: by its forecast
    residual, its reconstruction error, or its output. Rows (or single
    values, when the score is per feature) past the threshold are flagged,
    and ``transform`` applies an action to them: replace them with the
    model's forecast, interpolate them, set them to NaN for a downstream
    imputer, scale or clip them. Unflagged values are returned unchanged.

    Read more in the :ref:`User Guide <threshold>`.

    Parameters
    ----------
    {{model}}

    {{window}}

    score_by : {"auto", "residual", "reconstruction", "output"} or callable, \
            default="auto"
        What is compared with the threshold.

        - ``"residual"``: ``|x_t - x̂_t|`` per feature, where the model
          forecasts row ``t`` from the window ending at row ``t - 1``.
        - ``"reconstruction"``: ``|x_t - x̂_t|`` per feature, where the model
          reconstructs the window ending at row ``t`` and ``x̂_t`` is its last
          row.
        - ``"output"``: the model's output for the window ending at row ``t``
          (one value, or one per feature).
        - ``"auto"``: ``"reconstruction"`` when the model's output has the
          shape of its input, ``"residual"`` when it is one row, otherwise
          ``"output"``. A univariate series with a one-value score is taken
          as a forecast: set ``score_by="output"`` for a scorer.
        - A callable ``score_by(windows, predictions) -> scores`` gets the
          windows the model saw and its outputs, and returns one score (or
          one per feature) per window, which scores the row the window ends
          at.

        For a 3-D panel each sequence is one model input: a reconstruction
        scores each of its values, an output scores the whole sequence (or
        each step, for a sequence output), and a residual needs a model that
        forecasts step ``t + 1`` at every step ``t``.

    threshold : float, array-like or None, default=None
        Fixed threshold, one for all score columns or one per column (for
        ``side="both"``, a ``(lower, upper)`` pair, or ``t`` for ``(-t, t)``).
        None calibrates it on the training data from ``contamination``.

    contamination : float in (0, 0.5], default=0.05
        Fraction of the training rows to flag when ``threshold`` is None
        (per feature when the score is per feature; split equally between
        the tails when ``side="both"``).

    side : {"upper", "lower", "both"}, default="upper"
        Flag scores above the threshold, below it, or outside the pair.

    per_feature : bool, default=True
        When the score has one value per feature, flag single values with a
        threshold per feature. If False, a row's score is the mean over its
        features and whole rows are flagged.

    action : {"forecast", "interpolate", "nan", "clip", "scale"} or callable, \
            default="forecast"
        What happens to flagged values.

        - ``"forecast"``: replace with the model's forecast (``"residual"``)
          or reconstruction (``"reconstruction"``) of the value.
        - ``"interpolate"``: linear interpolation in time between the nearest
          unflagged values of the same feature (NaN where a whole series is
          flagged).
        - ``"nan"``: NaN, for a downstream imputer.
        - ``"clip"``: clip to each feature's range in the training data.
        - ``"scale"``: multiply by ``factor``.
        - A callable ``action(X, mask) -> X_new`` gets a read-only X and the
          boolean mask of flagged values; values are taken from ``X_new``
          where the mask is True only.

    factor : float, default=0.5
        Multiplier of ``action="scale"``.

    add_indicator : bool, default=False
        Append the flags as extra columns (1.0 flagged, 0.0 not), one per
        score column, as :class:`~sklearn.impute.SimpleImputer` does.

    {{units}}

    epochs : int, default=10
        Training epochs of the default forecaster, the one network ``fit``
        trains (``model=None`` only).

    {{predict_batch_size}}

    batch_size : int, default="deprecated"
        {{renamed old=batch_size new=predict_batch_size}}

    {{verbose}}

    {{random_state draws=""}}

    Attributes
    ----------
    {{fitted_model}}

    {{window_}}

    score_by_ : str or callable
        The score used: ``"residual"``, ``"reconstruction"``, ``"output"`` or
        the given callable.

    threshold_ : ndarray of shape (n_score_columns,) or (2, n_score_columns)
        The threshold per score column; for ``side="both"``, the lower
        bounds then the upper bounds.

    data_min_, data_max_ : ndarray of shape (n_features,)
        Per-feature range of the training data (used by ``action="clip"``).

    {{n_features_in_}}

    See Also
    --------
    sklearn.impute.SimpleImputer : Fill the NaNs left by ``action="nan"``.
    sklearn.ensemble.IsolationForest : Outlier scores that ignore time order.

    Notes
    -----
    Rows without a full window of history are never flagged: for a 2-D
    series with a forecaster, the first ``window`` rows; with a
    reconstruction or output score, the first ``window - 1``. Their scores
    are NaN. For a 3-D panel with a sequence forecaster, the first step of
    each sequence.

    ``report(X)`` returns a dict:

    - ``rows``: rows (timesteps) in X;
    - ``rows_flagged``, ``fraction_flagged``: rows with at least one flagged
      value, as a count and a fraction of ``rows``;
    - ``values_changed``: values that differ from X (NaN counts);
    - ``mean_abs_change``: mean ``|X_new - X|`` over all values (values made
      NaN left out);
    - ``mean_score_before``, ``mean_score_after``: the mean score of X and of
      ``X_new``, re-scored by the model (windows with NaN left out);
    - ``model_error_before``, ``model_error_after``: the same, when the score
      is the model's absolute forecast or reconstruction error, else None.

    Predictions, and default models trained with an int ``random_state``, are
    cached (see :func:`~sklearn_lstm_reshape.clear_cache`), so refitting with
    another threshold, side or action neither runs nor trains the model again.

    Examples
    --------
    >>> from sklearn_lstm_reshape import ThresholdReshaper
    >>> from sklearn_lstm_reshape.datasets import make_anomalous_series
    >>> data = make_anomalous_series(n_timesteps=400, n_features=2, random_state=0)
    >>> reshaper = ThresholdReshaper(window=16, units=8, epochs=2, random_state=0)
    >>> X_repaired = reshaper.fit_transform(data.X)
    >>> X_repaired.shape
    (400, 2)
    >>> int(reshaper.flag(data.X)[:16].sum())  # no history, never flagged
    0
    """

    _parameter_constraints: dict = {
        **BaseReshaper._parameter_constraints,
        "score_by": [StrOptions({"auto", *_SCORES}), callable],
        "threshold": [None, Real, "array-like"],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "side": [StrOptions({"upper", "lower", "both"})],
        "per_feature": ["boolean"],
        "action": [StrOptions({"forecast", "interpolate", "nan", "clip", "scale"}), callable],
        "factor": [Real],
        "add_indicator": ["boolean"],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Hidden(StrOptions({DEPRECATED})),
        ],
    }
    _renamed_params = {"batch_size": ("predict_batch_size", None)}
    _transform_params = (
        *BaseReshaper._transform_params,
        "action",
        "factor",
        "add_indicator",
        "batch_size",
    )

    def __init__(
        self,
        model=None,
        *,
        window=None,
        score_by="auto",
        threshold=None,
        contamination=0.05,
        side="upper",
        per_feature=True,
        action="forecast",
        factor=0.5,
        add_indicator=False,
        units=32,
        epochs=10,
        predict_batch_size=4096,
        batch_size=DEPRECATED,
        verbose=0,
        random_state=None,
    ):
        self.model = model
        self.window = window
        self.score_by = score_by
        self.threshold = threshold
        self.contamination = contamination
        self.side = side
        self.per_feature = per_feature
        self.action = action
        self.factor = factor
        self.add_indicator = add_indicator
        self.units = units
        self.epochs = epochs
        self.predict_batch_size = predict_batch_size
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    @fill_doc
    def score_samples(self, X):
        """Score every row of X; rows without a full history score NaN.

        {{only_X}}

        Returns
        -------
        scores : ndarray of shape X.shape[:-1], or X.shape when the score is \
                per feature
            For a panel scored per sequence, one score per sequence and step.
        """
        X, predictions = self._prepare(X)
        scores = np.broadcast_to(
            self._scores(X, predictions), (*X.shape[:-1], self.threshold_.shape[-1])
        )
        return np.array(scores[..., 0] if scores.shape[-1] == 1 else scores)

    @fill_doc
    def flag(self, X):
        """The boolean mask of the values ``transform`` would act on.

        {{only_X}}

        Returns
        -------
        mask : ndarray of bool, of the shape of X
        """
        X, predictions = self._prepare(X)
        flags = self._flags(self._scores(X, predictions))
        return np.array(np.broadcast_to(flags, X.shape))

    # -- the strategy's hooks ----------------------------------------------------

    def _resolve(self, X):
        self.score_by_ = self._resolve_score(X)

    def _check_settings(self):
        if self.action == "forecast" and self.score_by_ not in _EXPECTATION_SCORES:
            raise ValueError(
                f"action='forecast' replaces flagged values with the model's "
                f"forecast or reconstruction, but score_by={self.score_by_!r} gives "
                f"neither. Use action='interpolate', 'nan', 'clip' or 'scale', "
                f"or a model that forecasts or reconstructs X."
            )

    def _fit_strategy(self, X, predictions):
        self.threshold_ = self._calibrate(self._scores(X, predictions))
        rows = X.reshape(-1, X.shape[-1])
        self.data_min_ = rows.min(axis=0)
        self.data_max_ = rows.max(axis=0)

    def _edit(self, X, predictions, details):
        scores = self._scores(X, predictions)
        flags = self._flags(scores)
        if details is None:
            del scores  # a temporary: freed before X_new is allocated
        else:
            details["scores"], details["flags"] = scores, flags
        X_new = self._reshape(X, predictions, flags)
        if self.add_indicator:
            indicator = np.broadcast_to(flags, (*X.shape[:-1], flags.shape[-1]))
            X_new = np.concatenate([X_new, indicator.astype(X_new.dtype)], axis=-1)
        return X_new

    def _may_return_nan(self):
        return self.action in ("nan", "interpolate") or callable(self.action)

    def _added_columns(self):
        return self.threshold_.shape[-1] if self.add_indicator else 0

    def _added_names(self, names):
        if not self.add_indicator:
            return []
        if self.threshold_.shape[-1] == 1:
            return ["flagged"]
        return [f"flagged_{name}" for name in names]

    def _report(self, X, X_new, predictions, details):
        scores, flags = details["scores"], details["flags"]
        X_new = X_new[..., : X.shape[-1]]
        row_flags = np.broadcast_to(flags, (*X.shape[:-1], flags.shape[-1])).any(axis=-1)
        change = np.abs(X_new - X)
        score_before = _mean_score(scores)
        score_after = _mean_score(self._scores(X_new, self._predict(X_new)))
        is_error = self.score_by_ in _EXPECTATION_SCORES
        return {
            "rows": int(row_flags.size),
            "rows_flagged": int(row_flags.sum()),
            "fraction_flagged": float(row_flags.mean()),
            "values_changed": int(np.count_nonzero(np.isnan(X_new) | (change > 0))),
            "mean_abs_change": float(np.nanmean(change)) if np.isfinite(change).any() else 0.0,
            "mean_score_before": score_before,
            "mean_score_after": score_after,
            "model_error_before": score_before if is_error else None,
            "model_error_after": score_after if is_error else None,
        }

    # -- scores ----------------------------------------------------------------

    def _resolve_score(self, X):
        """The score kind for this model and data, checked against its output."""
        if callable(self.score_by):
            return self.score_by
        n_features = X.shape[-1]
        steps = self.window_ if X.ndim == 2 else X.shape[1]
        output = _keras.model_output_shape(self.model_, (steps, n_features))
        is_sequence = len(output) == 2 and output[0] in (steps, None)
        is_row = output in ((n_features,), (1, n_features))
        panel = X.ndim == 3
        same_as_input = is_sequence and output[1] == n_features
        kind = self.score_by
        if kind == "auto":
            if self.model is None:
                kind = "residual"  # the default model is a forecaster
            elif same_as_input:
                kind = "reconstruction"
            elif is_row and not panel:
                kind = "residual"
            else:
                kind = "output"
        if kind == "residual" and panel:
            fits = same_as_input
            description = (
                f"a sequence of {steps} steps of {n_features} features "
                "(step t forecasting step t + 1)"
            )
        elif kind == "residual":
            fits, description = is_row, f"one row of {n_features} features"
        elif kind == "reconstruction":
            fits, description = same_as_input, f"the window, ({steps}, {n_features})"
        else:
            fits = int(np.prod(output)) in (1, n_features) or (
                panel and is_sequence and output[1] in (1, n_features)
            )
            description = f"1 or {n_features} values per window"
        if not fits:
            raise ValueError(
                f"score_by={kind!r} needs a model whose output is {description}, "
                f"but the model outputs shape {(None, *output)} for "
                f"{'windows' if X.ndim == 2 else 'sequences'} of shape "
                f"{(None, steps, n_features)}. Choose the score that matches "
                f"the model ('residual', 'reconstruction' or 'output')."
            )
        return kind

    def _min_rows(self):
        return self._history_rows() + 1

    def _history_rows(self):
        """Rows of a 2-D series before the first one that can be scored."""
        if self.window_ is None:
            return 0
        return self.window_ if self.score_by_ == "residual" else self.window_ - 1

    def _expected(self, X, predictions):
        """What the model says X should be from row ``_history_rows()`` on.

        Returns a view of the cached predictions, aligned with
        ``_after_history(X)``.
        """
        if X.ndim == 2:
            if self.score_by_ == "residual":
                return predictions.reshape(len(predictions), -1)[: len(X) - self.window_]
            return predictions[:, -1, :]
        return predictions[:, :-1] if self.score_by_ == "residual" else predictions

    def _after_history(self, A):
        """The part of A (shaped like X) after the rows without history."""
        if A.ndim == 2:
            return A[self._history_rows() :]
        return A[:, 1:] if self.score_by_ == "residual" else A

    def _scores(self, X, predictions):
        """Scores aligned with X's rows: shape (n, k) for a series,
        (n_sequences, 1 or timesteps, k) for a panel; NaN without history."""
        if self.score_by_ in _EXPECTATION_SCORES:
            scores = np.full(X.shape, np.nan, dtype=X.dtype)
            scored = self._after_history(scores)
            # In place: a temporary the size of X would be a third copy of it.
            np.subtract(self._after_history(X), self._expected(X, predictions), out=scored)
            np.abs(scored, out=scored)
        else:
            raw = predictions
            if callable(self.score_by_):
                windows = self._windows(X)
                raw = np.asarray(self.score_by_(windows, predictions), dtype=X.dtype)
                self._check_callable_scores(raw, X, len(windows))
            scores = self._align_output(raw, X)
        if not self.per_feature and scores.shape[-1] > 1:
            scores = scores.mean(axis=-1, keepdims=True)
        return scores

    def _align_output(self, raw, X):
        """Lay out one output per window (or per sequence) on X's rows."""
        n_features = X.shape[-1]
        if X.ndim == 2:
            values = raw.reshape(len(raw), -1)
            scores = np.full((len(X), values.shape[1]), np.nan, dtype=X.dtype)
            scores[self.window_ - 1 :] = values
            return scores
        if raw.ndim == 3 or (raw.ndim == 2 and raw.shape[1] not in (1, n_features)):
            return raw.reshape(len(raw), X.shape[1], -1).astype(X.dtype, copy=False)
        return raw.reshape(len(raw), 1, -1).astype(X.dtype, copy=False)

    def _check_callable_scores(self, raw, X, n_windows):
        n_features = X.shape[-1]
        per_window = raw.reshape(len(raw), -1).shape[1] if raw.ndim else 0
        valid_sizes = {1, n_features} | (
            {X.shape[1], X.shape[1] * n_features} if X.ndim == 3 else set()
        )
        if raw.ndim == 0 or len(raw) != n_windows or per_window not in valid_sizes:
            raise ValueError(
                f"score_by(windows, predictions) must return one score, or one per "
                f"feature ({n_features}), for each of the {n_windows} "
                f"{'windows' if X.ndim == 2 else 'sequences'}; it returned an "
                f"array of shape {raw.shape}."
            )

    # -- thresholds ------------------------------------------------------------

    def _calibrate(self, scores):
        """The threshold per score column: given, or from contamination."""
        n_columns = scores.shape[-1]
        if self.threshold is None:
            values = scores.reshape(-1, n_columns)
            values = values[~np.isnan(values).any(axis=1)]
            c = self.contamination
            quantiles = {"upper": 1 - c, "lower": c, "both": [c / 2, 1 - c / 2]}
            return np.quantile(values, quantiles[self.side], axis=0).astype(np.float64)
        threshold = np.asarray(self.threshold, dtype=np.float64)
        shape = (n_columns,)
        if self.side == "both":
            shape = (2, n_columns)
            if threshold.ndim == 0:
                threshold = np.stack([-threshold, threshold])
            if threshold.ndim == 1 and len(threshold) == 2:
                threshold = threshold[:, None]  # one (lower, upper) pair for all
        try:
            threshold = np.broadcast_to(threshold, shape).copy()
        except ValueError:
            raise ValueError(
                f"threshold has shape {np.shape(self.threshold)}, but the score "
                f"has {n_columns} column(s): pass one number, or one per score "
                f"column"
                + (
                    ", as (lower, upper) pairs of shape (2, n_columns)"
                    if self.side == "both"
                    else ""
                )
                + "."
            ) from None
        if self.side == "both" and (threshold[0] > threshold[1]).any():
            raise ValueError(
                f"threshold={self.threshold!r} with side='both' must be a "
                f"(lower, upper) pair with lower <= upper."
            )
        if np.isnan(threshold).any():
            raise ValueError("threshold must not be NaN; use np.inf to flag nothing.")
        return threshold

    def _flags(self, scores):
        """Boolean flags, shaped like ``scores``; NaN scores are never flagged."""
        if self.side == "upper":
            return scores > self.threshold_
        if self.side == "lower":
            return scores < self.threshold_
        return (scores < self.threshold_[0]) | (scores > self.threshold_[1])

    # -- actions ---------------------------------------------------------------

    def _reshape(self, X, predictions, flags):
        """The copy of X with the action applied where ``flags`` say."""
        mask = np.broadcast_to(flags, X.shape)
        X_new = np.array(X, copy=True, order="C")
        action = self.action
        if callable(action):
            # X is a view that cannot be made writeable again (see _base):
            # the action cannot reach the caller's X.
            replacement = np.asarray(action(X, mask.copy()))
            if replacement.shape != X.shape:
                raise ValueError(
                    f"action(X, mask) must return an array of X's shape "
                    f"{X.shape}; it returned shape {replacement.shape}."
                )
            np.copyto(X_new, replacement, where=mask, casting="unsafe")
        elif action == "scale":
            np.multiply(X_new, self.factor, out=X_new, where=mask, casting="unsafe")
        elif action == "clip":
            np.clip(X_new, self.data_min_, self.data_max_, out=X_new, where=mask, casting="unsafe")
        elif action == "nan":
            np.copyto(X_new, np.nan, where=mask)
        elif action == "forecast":
            np.copyto(
                self._after_history(X_new),
                self._expected(X, predictions),
                where=self._after_history(mask),
            )
        else:  # "interpolate"
            _interpolate(X_new, mask)
        return X_new


def _mean_score(scores):
    """Mean of the finite scores: rows without history, and windows made NaN by
    action="nan", are left out (NaN when nothing is left)."""
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")


def _interpolate(X_new, mask):
    """Linearly interpolate the masked values of each feature over time, in place.

    A series (or a sequence of a panel) in which a feature is masked
    everywhere has nothing to interpolate from: those values become NaN.
    """
    series = [(X_new, mask)] if X_new.ndim == 2 else zip(X_new, mask, strict=True)
    for values, flagged in series:
        time = np.arange(len(values))
        for feature in np.flatnonzero(flagged.any(axis=0)):
            bad = flagged[:, feature]
            good = ~bad
            column = values[:, feature]
            if good.any():
                column[bad] = np.interp(time[bad], time[good], column[good])
            else:
                column[:] = np.nan
