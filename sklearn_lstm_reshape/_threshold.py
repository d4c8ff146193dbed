"""ThresholdReshaper: score rows with an LSTM, flag those past a threshold,
and act on them."""

import contextvars
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from . import _dask, _keras, _predict
from ._base import DEPRECATED, BaseReshaper
from .utils._docstrings import fill_doc
from .utils._sklearn_compat import Hidden, Interval, StrOptions

_SCORES = ("residual", "reconstruction", "output")
_ACTIONS = ("forecast", "interpolate", "impute", "blend", "nan", "clip", "scale")
# Scores that compare X with what the model says X should be; only these give
# a value to replace a flagged cell with (action="forecast").
_EXPECTATION_SCORES = ("residual", "reconstruction")
# The actions that read the imputer.
_IMPUTING = frozenset({"impute", "blend"})

# contamination="auto" flags scores beyond the fences of the skewness-adjusted
# boxplot of the training scores, this many (adjusted) IQRs out.
AUTO_FENCE_IQRS = 4.0
MEDCOUPLE_SAMPLE = 2000
# max_run="auto": runs longer than this many windows are a lasting change.
MAX_RUN_WINDOWS = 4
# Rows forecast per forward pass while repairing from history (see _detect):
# a lone front forecasts at most a window ahead, and a pass costs about what
# its batch does (a window of 32 rows of 8 features, 64 units: 1.2 ms at 32,
# 6 ms at 256), so that a long chain of repairs is not padded to many times
# its work.
FRONT_BATCH = 32
# Free runs per forward pass, at least (see _departure_blocks).
RUN_BATCH = 256
# Forecasts held ahead of the fronts of a repair from history, in all (see
# _ForecastsAhead), and windows gathered at once to make them.
AHEAD_ROWS = 1 << 16
FORECAST_BLOCK_ROWS = 16 * FRONT_BATCH
# A chunk of a dask array is first computed from this many times
# (max_run + history) rows before it (see _lazily_in_time_order).
CHUNK_MARGIN_RUNS = 8
# Rows scored at a time where the scores are not kept (see _flags_by_blocks).
FLAG_BLOCK_ROWS = 65536
# The array _marking_repairs marks the rows repaired from history in.
_repairs_marked_in = contextvars.ContextVar("repairs_marked_in", default=None)
# Forecasts from repaired history are compared with a threshold widened by
# the growth of the error measured up to this many windows of repairs.
GROWTH_HORIZON_WINDOWS = 2
GROWTH_QUANTILE = 0.9
# action="auto" and score hide up to this many blocks per score column, and
# draw their lengths from the flagged runs when there are at least this many
# (else from 1 to window rows).
HIDDEN_BLOCKS = 64
# A block needs clean history around it, so a short series holds few at once
# (about ten per score column in the four years of daily weather): its
# repairs are measured on up to this many draws of blocks, pooled, until
# about HIDDEN_BLOCKS per score column are measured.
HIDDEN_ROUNDS = 8
MIN_RUNS_FOR_LENGTHS = 5
# transform warns when it flags more than MANY_FLAGS_TIMES the fraction of
# the training values fit flagged (and at least the fraction and count below).
MANY_FLAGS_TIMES = 4
MANY_FLAGS_MIN_FRACTION = 0.05
MANY_FLAGS_MIN_COUNT = 10
# stuck="auto": a value held this long is flagged when runs that long are
# expected less than this many times in a series as long as the training
# one (see _stuck_limits). Values making up at least STUCK_FREQUENT_FRACTION
# of a feature's training values (a rain gauge's zero) are never stuck.
STUCK_EXPECTED_RUNS = 0.01
STUCK_FREQUENT_FRACTION = 0.1
# Forecasts and imputations never cross a frequent value with at most this
# fraction of the training values beyond it: the floor of a rain gauge, with
# a few faults below it (the demo's faulty weather holds 0.8 % of negative
# rain). See _bounds_the_data_sit_on.
BOUND_OUTSIDE_FRACTION = 0.02
# span: the departure of a free run is flagged past its SPAN_QUANTILE on the
# training data plus SPAN_SPREADS times (that quantile - the median). On the
# repair benchmark a fence at the 97th percentile floods an ECG with its
# ordinary beats, and one at the 99th misses half the weather's level shifts.
SPAN_QUANTILE = 0.98
SPAN_SPREADS = 1.0
# span="auto": free runs of this many rows where the threshold is calibrated
# by contamination="auto".
AUTO_SPAN = 20
# A warning when the free runs from more than this fraction of the rows of a
# feature (and MANY_FLAGS_TIMES the training fraction) depart past its
# span_threshold_: free runs amplify a model's mismatch with the data.
MANY_SPANS_MIN_FRACTION = 0.01
# action="impute" estimates a value from every feature's values in its row and
# the IMPUTE_LAGS rows either side, with an IterativeImputer fitted on at most
# IMPUTE_FIT_VALUES values of training rows (a random sample of rows where
# there are more), each column from at most IMPUTE_PREDICTORS others, in
# IMPUTE_ROUNDS rounds: its fit costs about rows x columns x predictors
# squared per round (0.08 s a round for the weather's four features; 23 s in
# ten rounds for ten features in 20,000 rows uncapped). The weather's flags
# leave a few percent of its values missing, whose first estimates from the
# rest barely move after the third round: on the repair benchmark's twelve
# seeds, ten rounds repair its faults to 0.503 of their error, three to 0.506.
# action="auto" measures the imputation with IMPUTE_GROUPS imputers, each
# fitted with the hidden values of its share of the draws missing too.
# transform imputes IMPUTE_ROWS rows at a time.
IMPUTE_LAGS = 2
IMPUTE_FIT_VALUES = 1 << 17
IMPUTE_PREDICTORS = 30
IMPUTE_ROUNDS = 3
IMPUTE_GROUPS = 2
IMPUTE_ROWS = 16384
# Free runs advance a block of starts at a time, of at most a batch and this
# many window values (see _departure_blocks).
SPAN_BLOCK_VALUES = 1 << 17


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

    contamination : "auto" or float in (0, 0.5], default="auto"
        How the threshold is calibrated when ``threshold`` is None.

        - ``"auto"``: the fences of the skewness-adjusted boxplot of the
          training scores (Hubert and Vandervieren, 2008), four adjusted
          interquartile ranges beyond the quartiles: no fraction to guess,
          and few flags on clean data.
        - A float: the fraction of the training rows to flag (per feature
          when the score is per feature; split equally between the tails
          when ``side="both"``).

    side : {"upper", "lower", "both"}, default="upper"
        Flag scores above the threshold, below it, or outside the pair.

    per_feature : bool, default=True
        When the score has one value per feature, flag single values with a
        threshold per feature. If False, a row's score is the mean over its
        features of their scores, each standardised by its median and median
        absolute deviation on the training data (so one noisy feature does
        not dominate), and whole rows are flagged.

    max_run : "auto" or int, default="auto"
        The longest run of consecutive flagged rows (of one score column, up
        to its last value past the threshold or stuck) that is repaired; a
        longer run is taken as a lasting change, such as a new level, and
        left as it is. ``"auto"`` is four windows. Only used where rows are
        scored from repaired history (a 2-D series scored by its forecast or
        reconstruction).

    hysteresis : float in (0, 1], default=0.5
        A run of flags goes on while the scores stay above ``hysteresis``
        times the threshold: a value is flagged past the threshold, or past
        that lower bar when the value before it (in the same score column) is
        flagged and a score past the threshold (or a stuck value) lies in
        its window. The body of a fault, scored from the repaired history
        before it, often lies just short of a threshold its first row
        crossed. 1 judges every value by the threshold alone. Only used with
        ``side="upper"``, where rows are scored from repaired history.

    span : "auto", int or None, default="auto"
        Also flag faults that last, whose rows each lie under the threshold
        (a level shift the forecaster follows, the quieter rows of a noise
        burst). From every row on, the model forecasts the next ``span``
        rows from the history before that row, each from its own forecasts
        (a free run); where those rows depart from the run by more, on
        average, than ``span_threshold_``, the rows among them that depart
        by more than it are flagged (from the first to the last).

        - ``"auto"``: 20 rows where the threshold is calibrated by
          ``contamination="auto"``; None with a given ``threshold`` or a
          ``contamination`` fraction, which say how much to flag.
        - An int: free runs of this many rows.
        - None: no free runs.

        Only used with a forecaster (``score_by="residual"``) of a 2-D
        series and ``side="upper"``.

    stuck : "auto", int or None, default="auto"
        Flag a value repeated unchanged over a run of rows, as a stuck sensor
        or a forward-filled gap reports it, whatever its score: a forecaster
        follows a stuck value, so its residuals do not show it. The repeats
        (every row of the run but its first) are flagged; a run longer than
        ``max_run`` is left as it is, like any lasting change.

        - ``"auto"``: per feature, the run length that the training data make
          unlikely (see ``stuck_limit_``).
        - An int: runs of at least this many rows, for every feature.
        - None: never flag a value for repeating.

        A value that makes up at least 10 % of a feature's training values,
        such as a rain gauge's zero, is never stuck. Only used where rows are
        scored from repaired history (a 2-D series scored by its forecast or
        reconstruction).

    period : int or None, default=None
        The season of the series in rows, if it has one: ``fit`` then also
        measures the seasonal-naive forecast (the value one period earlier)
        against the model, in ``report``'s ``forecast_errors``.

    action : {"auto", "forecast", "interpolate", "impute", "blend", "nan", \
            "clip", "scale"} or callable, default="auto"
        What happens to flagged values.

        - ``"auto"``: per feature, ``"forecast"``, ``"interpolate"`` or
          ``"impute"``, whichever repaired values hidden from the training
          data best in ``fit`` (see ``repair_``); ``"interpolate"`` when the
          score gives no forecast.
        - ``"forecast"``: replace with the model's forecast (``"residual"``)
          or reconstruction (``"reconstruction"``) of the value, made from the
          repaired history before it.
        - ``"interpolate"``: linear interpolation in time between the nearest
          unflagged values of the same feature (NaN where a whole series is
          flagged).
        - ``"impute"``: estimate from the unflagged values of every feature
          in the same row and the two rows either side, with scikit-learn's
          :class:`~sklearn.impute.IterativeImputer` fitted in ``fit`` on the
          training data with its flagged values missing (``imputer_``): where
          features move together, one tells what another should have been.
        - ``"blend"``: the mean of the forecast and the imputation. The one
          reads the history, the other the other features and the rows
          after, so their errors partly cancel: the blend's error is never
          more than the mean of theirs, and often less than either.
          ``"auto"`` does not choose it: it inherits half of the forecast's
          error, and a long run of forecasts made from forecasts can drift
          far on one fault while measuring well on the hidden values.

          A forecast, an imputation or a blend never crosses a bound the
          training data sit on: one of a feature's ``frequent_values_`` with
          at most 2 % of its training values beyond it (a rain gauge's zero).
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

    score_center_, score_scale_ : ndarray of shape (n_raw_score_columns,)
        Median and 1.4826 times the median absolute deviation of each raw
        score column on the training data: the standardisation of
        ``per_feature=False``.

    max_run_ : int or None
        The ``max_run`` used; None where rows are not scored from repaired
        history.

    stuck_limit_ : ndarray of shape (n_features,) or None
        Per feature, the length from which a run of one repeated value is
        flagged as stuck. For ``stuck="auto"``: the shortest run expected less
        than once in a hundred series as long as the training data, if each
        repeat went on with the chance measured there (runs of at least three
        rows among those of at least two) and at least 3. None where nothing
        is flagged as stuck.

    frequent_values_ : list of ndarray or None
        Per feature, the values that make up at least 10 % of the training
        values, which are never stuck, and which bound the forecasts and
        imputations where at most 2 % of the training values lie beyond
        one; None where nothing is flagged as stuck.

    error_growth_ : ndarray of shape (n_steps, n_features) or None
        How much the model's error grows, per feature, when its window holds
        repairs: at row ``k`` of a run of repairs, the 90th percentile of the
        errors of forecasts of values hidden from the training data, less that
        at the run's first row (never falling). It is subtracted from the
        scores of rows forecast from repaired history, so that the growing
        error of a long repair is not mistaken for a fault. None where rows
        are not scored from repaired history.

    span_ : int or None
        The length of the free runs used (see ``span``); None where there
        are none.

    span_threshold_ : ndarray of shape (n_features,) or None
        Per feature, the mean absolute departure of ``span_`` rows from the
        model's free run past which they are flagged: the 98th percentile of
        the departures of the repaired training data plus once its distance
        from their median. None where ``span_`` is None.

    flagged_fraction_ : float
        The fraction of the training values (with history) that were
        flagged.

    forecast_errors_ : dict or None
        For a forecaster (``score_by="residual"``), the mean absolute one-step
        error per feature on the unflagged training rows of the model
        (``"model"``), of repeating the last value (``"persistence"``) and of
        the value one ``period`` earlier (``"seasonal_naive"``, None without a
        period). None for other scores.

    repair_ : ndarray of str, of shape (n_features,)
        The repair ``action="auto"`` applies to each feature.

    repair_errors_ : dict or None
        The mean absolute error per feature of each candidate repair
        (``"forecast"``, ``"interpolate"``, ``"impute"``) on the values
        hidden from the training data (with ``action="auto"``, pooled over
        up to eight draws of hidden blocks in a short series), from which
        ``repair_`` was chosen; None when there was no choice to make.

    imputer_ : IterativeImputer or None
        The imputer of ``action="impute"`` and ``"blend"``, fitted on the
        training rows (a sample of them in a long series) beside the two rows
        either side, with the flagged values missing. ``fit`` builds one
        wherever ``action="auto"`` has a choice to make (see
        ``repair_errors_``), whatever the action, and for ``"impute"`` or
        ``"blend"``; else None. The imputations ``repair_errors_`` measures
        are made by other imputers, fitted with the hidden values missing
        too.

    data_min_, data_max_ : ndarray of shape (n_features,)
        Per-feature range of the training data (used by ``action="clip"``).

    {{n_features_in_}}

    See Also
    --------
    sklearn.impute.SimpleImputer : Fill the NaNs left by ``action="nan"``.
    sklearn.ensemble.IsolationForest : Outlier scores that ignore time order.

    Notes
    -----
    The default model (``model=None``) is
    ``train_forecaster(X, predict_change="auto")``: it forecasts the change
    from the window's last row when X drifts (see
    :func:`~sklearn_lstm_reshape.models.drifts`), and the next row itself
    otherwise, whose residuals are smaller on sharp but regular patterns.

    Rows without a full window of history are never flagged: for a 2-D
    series with a forecaster, the first ``window`` rows; with a
    reconstruction or output score, the first ``window - 1``. Their scores
    are NaN. For a 3-D panel with a sequence forecaster, the first step of
    each sequence.

    A 2-D series scored by the model's forecast or reconstruction is scored
    and repaired in time order: once a row is flagged and repaired, the rows
    whose windows hold it are scored against the model's values from the
    repaired window, so the body of a level shift or of a stuck sensor stays
    flagged, not only its edges. Those scores are first lowered by
    ``error_growth_``, and a value right after a flagged one of its score
    column is flagged past ``hysteresis`` times the threshold while a score
    past the threshold (or a stuck value) is in its window (hysteresis
    thresholding, as in Canny's edge detector): the body of a fault lies
    nearer the threshold than its first row. A run longer than ``max_run``
    is left as it is and the series is scored on from it. Independent runs
    are worked through together, each run's rows forecast in one pass up to
    its next repair: the forward passes grow with the repairs of the longest
    run. A panel is scored in one pass, each sequence from its own values.

    A value repeated unchanged over a run of ``stuck_limit_`` rows or more
    (and at most ``max_run``) is flagged whatever its score, as a stuck
    sensor: the forecasts follow it, so its residuals stay small.

    A forecaster follows a level shift within a few rows, so its one-step
    residuals show the shift at its first row only, and often under the
    threshold. With ``span_``, the repaired series is checked once more: the
    ``span_`` rows from each row on are forecast together from the history
    before them, every row from the forecasts before it, and their mean
    absolute departure from those forecasts is compared with
    ``span_threshold_``. Where it is past it, the rows that depart by more
    than it (from the first to the last) are flagged too, whatever their
    scores, and the series is repaired again from its history with them. A
    free run that reaches into a run taken as a lasting change is not
    judged: its departure is the change.

    So a flag changes the scores of the rows after it, and a higher
    threshold does not always flag a subset of the values a lower one flags:
    a lower one may repair a spike that a higher one leaves, and the rows
    after the spike are then scored from another window. What does hold:
    ``score_samples`` returns the scores ``flag`` compares with the threshold,
    or with ``hysteresis`` times it within a run (``flag`` adds the stuck
    values, and the rows of departures past ``span_threshold_``), and a row
    whose window holds no repaired value gets the verdict of one pass (each
    row scored from the unrepaired window before it); the first row of every
    flagged run of scores is such a row.

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
      is the model's absolute forecast or reconstruction error, else None;
    - ``forecast_errors``, ``repair``, ``repair_errors``: the fitted
      ``forecast_errors_``, ``repair_`` and ``repair_errors_``.

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
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "side": [StrOptions({"upper", "lower", "both"})],
        "per_feature": ["boolean"],
        "max_run": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "hysteresis": [Interval(Real, 0, 1, closed="right")],
        "span": [None, StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "stuck": [None, StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "period": [None, Interval(Integral, 1, None, closed="left")],
        "action": [StrOptions({"auto", *_ACTIONS}), callable],
        "factor": [Real],
        "add_indicator": ["boolean"],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Hidden(StrOptions({DEPRECATED})),
        ],
    }
    _renamed_params = {"batch_size": ("predict_batch_size", None)}
    # Rows, not changes, on a series that does not drift: a forecaster of
    # changes from a short window scores a regular but sharp pattern (an ECG's
    # heartbeats) as a fault (see the user guide).
    _default_predict_change = "auto"
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
        contamination="auto",
        side="upper",
        per_feature=True,
        max_run="auto",
        hysteresis=0.5,
        span="auto",
        stuck="auto",
        period=None,
        action="auto",
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
        self.max_run = max_run
        self.hysteresis = hysteresis
        self.span = span
        self.stuck = stuck
        self.period = period
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

        For a 2-D series scored by the model's forecast or reconstruction,
        these are the scores ``flag`` and ``transform`` use: each row scored
        from the repaired history before it (see the Notes). Within a run
        taken as a lasting change (longer than ``max_run``), and everywhere
        else, the score against the unrepaired window.

        {{only_X}}

        Returns
        -------
        scores : ndarray of shape X.shape[:-1], or X.shape when the score is \
                per feature
            For a panel scored per sequence, one score per sequence and step.
            For a dask array X, a lazy dask array.
        """
        if _dask.is_dask_array(X):
            return self._lazily("score_samples", X)
        X, predictions = self._prepare(X)
        scores, _ = self._detect(X, predictions, np.array(X, copy=True))
        scores = np.broadcast_to(scores, (*X.shape[:-1], self.threshold_.shape[-1]))
        return np.array(scores[..., 0] if scores.shape[-1] == 1 else scores)

    @fill_doc
    def flag(self, X):
        """The boolean mask of the values ``transform`` acts on.

        {{only_X}}

        Returns
        -------
        mask : ndarray of bool, of the shape of X
            For a dask array X, a lazy dask array.
        """
        if _dask.is_dask_array(X):
            return self._lazily("flag", X)
        X, predictions = self._prepare(X)
        _, flags = self._detect(X, predictions, np.array(X, copy=True), scores=False)
        self._warn_many_flags(X, flags)
        return np.array(np.broadcast_to(flags, X.shape))

    @fill_doc
    def score(self, X, y=None):
        """How well the repair restores values hidden from X; higher is better.

        Blocks of values of X away from its flagged values are hidden, the
        way ``fit`` does for ``action="auto"`` (drawn again, up to eight
        times, until about 64 per feature are measured), and repaired with
        the action ``transform`` applies. The score is minus the mean
        absolute error of the repaired values, per feature in units of that
        feature's standard deviation in the training data, averaged over the
        features. It
        measures the repair, not the detection: a threshold does not change
        it beyond which values are left to hide. So do not choose a threshold
        by it: a lower threshold, which leaves fewer faults among the values
        it hides, can score better while it repairs worse. Scoring the
        training data itself measures the imputation in sample: ``imputer_``
        learned from the values it hides. With
        ``random_state=None`` other blocks are hidden at every call.

        {{only_X}}
        y : None
            Ignored.

        Returns
        -------
        score : float
            Minus the standardised mean absolute error, at most 0.
        """
        _dask.refuse_in(
            self, "score", X, "score a part of it in memory, such as X[:100_000].compute()"
        )
        X, predictions = self._prepare(X)
        if self.action == "nan":
            raise ValueError(
                "score measures how well transform repairs values, but action='nan' "
                "leaves them NaN for a downstream imputer. Score the whole pipeline "
                "instead, or use a repairing action ('auto', 'forecast', "
                "'interpolate', 'impute', 'blend')."
            )
        _, flags = self._detect(X, predictions, np.array(X, copy=True))
        error_sums = []
        for hidden in self._hidden_draws(X, flags, check_random_state(self.random_state)):
            X_new = np.array(X, copy=True)
            self._detect(X, predictions, X_new, forced=hidden, use_threshold=False)
            self._apply(X, X_new, np.broadcast_to(hidden, X.shape), self.action)
            error_sums.append(_error_sums(X, hidden, {"repair": X_new}))
        if not error_sums:
            history = self._history_rows()
            raise ValueError(
                f"X has {len(X)} rows, too few to hide a value with {history} rows of "
                f"history on either side of it: score needs at least "
                f"{2 * history + 4} rows."
            )
        errors = _pooled_errors(error_sums)["repair"]
        return -float(np.nanmean(errors / self._feature_scale))

    # -- the strategy's hooks ----------------------------------------------------

    def _resolve(self, X):
        self.score_by_ = self._resolve_score(X)
        if X.ndim == 3 or self.score_by_ not in _EXPECTATION_SCORES:
            self.max_run_ = None
        elif self.max_run == "auto":
            self.max_run_ = MAX_RUN_WINDOWS * self.window_
        else:
            self.max_run_ = self.max_run
        if self.span != "auto":
            self.span_ = self.span
        elif self.threshold is None and self.contamination == "auto":
            self.span_ = AUTO_SPAN
        else:
            self.span_ = None

    def _check_settings(self):
        if self.action in ("forecast", "blend") and self.score_by_ not in _EXPECTATION_SCORES:
            raise ValueError(
                f"action={self.action!r} replaces flagged values with the model's "
                f"forecast or reconstruction, but score_by={self.score_by_!r} gives "
                f"neither. Use action='auto', 'interpolate', 'nan', 'clip' or "
                f"'scale', or a model that forecasts or reconstructs X."
            )

    def _fit_strategy(self, X, predictions):
        self.span_threshold_ = None  # no free runs until fit has measured them
        raw = self._raw_scores(X, predictions)
        self.score_center_, self.score_scale_ = _robust_center_and_scale(raw)
        self.threshold_ = self._calibrate(self._combined(raw))
        del raw
        rows = X.reshape(-1, X.shape[-1])
        self.data_min_ = rows.min(axis=0)
        self.data_max_ = rows.max(axis=0)
        self._feature_scale = np.where(rows.std(axis=0) > 0, rows.std(axis=0), 1.0)
        self.stuck_limit_, self.frequent_values_ = self._stuck_limits(X)
        self._repair_bounds = self._bounds_the_data_sit_on(X)
        self.error_growth_ = self._error_growth(X, predictions)
        flags = self._fit_span_thresholds(X, predictions)
        if self.span_threshold_ is None:
            self.span_ = None
        if flags is None:
            _, flags = self._detect(X, predictions, np.array(X, copy=True), scores=False)
        self.flagged_fraction_ = float(self._after_history(np.broadcast_to(flags, X.shape)).mean())
        self.forecast_errors_ = self._forecast_errors(X, predictions, flags)
        self._warn_worse_than_persistence()
        self.imputer_ = self._imputer_columns = None
        self.repair_, self.repair_errors_ = self._choose_repairs(X, predictions, flags)
        if self.repair_errors_ is not None or self.action in _IMPUTING:
            # The imputer transform applies learns from every unflagged value.
            self._fit_imputer(X, np.broadcast_to(flags, X.shape))

    def _edit(self, X, predictions, details):
        X_new = np.array(X, copy=True, order="C")
        _, flags = self._detect(X, predictions, X_new, scores=False)
        if details is not None:
            details["flags"] = flags
        self._warn_many_flags(X, flags)
        self._apply(X, X_new, np.broadcast_to(flags, X.shape), self.action)
        if self.add_indicator:
            indicator = np.broadcast_to(flags, (*X.shape[:-1], flags.shape[-1]))
            X_new = np.concatenate([X_new, indicator.astype(X_new.dtype)], axis=-1)
        return X_new

    def _may_return_nan(self):
        return self.action in ("auto", "nan", "interpolate", *_IMPUTING) or callable(self.action)

    def _added_columns(self):
        return self.threshold_.shape[-1] if self.add_indicator else 0

    def _added_names(self, names):
        if not self.add_indicator:
            return []
        if self.threshold_.shape[-1] == 1:
            return ["flagged"]
        return [f"flagged_{name}" for name in names]

    def _report(self, X, X_new, predictions, details):
        flags = details["flags"]
        X_new = X_new[..., : X.shape[-1]]
        row_flags = np.broadcast_to(flags, (*X.shape[:-1], flags.shape[-1])).any(axis=-1)
        change = np.abs(X_new - X)
        score_before = _mean_score(self._scores(X, predictions))
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
            "forecast_errors": self.forecast_errors_,
            "repair": self.repair_,
            "repair_errors": self.repair_errors_,
        }

    def _lazily(self, method, X):
        X = _dask.checked(self, X)
        if X.ndim == 3 or not self._repairs_from_history(X):
            return super()._lazily(method, X)
        return self._lazily_in_time_order(method, X)

    def _lazily_in_time_order(self, method, X):
        """``method`` of a 2-D dask array X scored from repaired history.

        ``_dask.in_time_order`` computes it chunk by chunk: after ``history``
        rows in a row that ``_repair_from_history`` never repaired, the pass
        can start afresh. What is decided at a row reaches
        ``2 * (max_run_ + history) + 1`` rows back: a run found longer than
        ``max_run_`` is restored back to its start, and interpolation reads
        the value after a run (never longer than ``max_run_`` up to its last
        evidence, or it would be accepted as a lasting change, and its tail
        past the lower bar at most ``history`` rows).
        """
        self._refuse_callable_action(method)
        history = self._history_rows()
        if method == "transform" and self._named_actions() & _IMPUTING:
            # A pass begun at a clean row imputes a flagged row from the rows
            # before it: they must be in the pass.
            history = max(history, IMPUTE_LAGS)
        span = self.span_ if self.span_threshold_ is not None else 0
        n_windows = _dask.windows_of(self, X)

        def compute(estimator, rows, first):
            return _dask.run_on_chunk(
                estimator, n_windows, first, estimator._marking_repairs, method, rows
            )

        n_scores = self.threshold_.shape[-1]
        if method == "score_samples":
            tail_shape = () if n_scores == 1 else (n_scores,)
        else:
            tail_shape = (self._output_columns(method),)
        return _dask.in_time_order(
            X,
            _dask.shipped(self),
            compute,
            tail_shape=tail_shape,
            dtype=bool if method == "flag" else X.dtype,
            history=history,
            margin=CHUNK_MARGIN_RUNS * (self.max_run_ + history + span),
            lookahead=2 * (self.max_run_ + history + span) + 1,
            as_changes=method == "transform" and tail_shape == X.shape[1:],
        )

    def _marking_repairs(self, method, X):
        """``method(X)`` of a series, and per row whether the pass in time order
        repaired it at some point (see ``_repair_from_history``)."""
        repaired = np.zeros(len(X), dtype=bool)
        token = _repairs_marked_in.set(repaired)
        try:
            return getattr(self, method)(X), repaired
        finally:
            _repairs_marked_in.reset(token)

    def _named_actions(self):
        return set(self.repair_) if self.action == "auto" else {self.action}

    def _refuse_callable_action(self, method):
        if method == "transform" and callable(self.action):
            raise ValueError(
                "A callable action is called with the whole of X, so it does not "
                "transform a dask array chunk by chunk: compute X in memory, or use a "
                "named action."
            )

    def _chunk_overlap(self, method, ndim):
        self._refuse_callable_action(method)
        if ndim == 3:
            return 0, 0  # every sequence is scored and repaired on its own
        if method == "transform" and "interpolate" in self._named_actions():
            raise ValueError(
                "action='interpolate' draws a line between the unflagged values on "
                "either side of a flagged run, however far apart, so a dask array "
                "cannot be transformed chunk by chunk: compute X in memory, or use "
                "action='clip', 'scale' or 'nan'."
            )
        # Each row is scored by the window that ends at it, and imputed from
        # the rows either side of it, as flagged or not.
        if method == "transform" and self._named_actions() & _IMPUTING:
            return self.window_ - 1 + IMPUTE_LAGS, IMPUTE_LAGS
        return self.window_ - 1, 0

    def _output_columns(self, method):
        if method == "flag":
            return self.n_features_in_
        if method == "score_samples":
            return self.threshold_.shape[-1]
        return super()._output_columns(method)

    # -- detection from repaired history -----------------------------------------

    def _repairs_from_history(self, X):
        """Whether X is scored in time order from repaired history: a 2-D
        series scored by what the model says it should be."""
        return X.ndim == 2 and self.score_by_ in _EXPECTATION_SCORES

    def _detect(
        self,
        X,
        predictions,
        X_new,
        *,
        forced=None,
        use_threshold=True,
        scores=True,
        spans=True,
        accepted=None,
    ):
        """The scores and flags of X; ``X_new`` (a copy of X) gets the model's
        values at the flagged cells when the score gives them.

        ``forced`` (shaped like the flags) flags cells whatever their score,
        by default the stuck ones; ``use_threshold=False`` flags those cells
        only. ``scores=False``
        returns None for the scores of a series scored from repaired history,
        which are then never all held at once. With ``spans`` (and a fitted
        ``span_threshold_``), the departures of the repaired series from the
        model's free runs are flagged too (see ``_sustained_cells``).
        ``accepted`` (shaped like the flags) gets True at the runs taken as a
        lasting change. Inside ``_marking_repairs``, the rows repaired from
        history at some point are marked.
        """
        want_scores = scores
        if forced is None and use_threshold:
            forced = self._stuck_cells(X)
        if not scores and use_threshold and self._repairs_from_history(X):
            scores, flags = None, self._flags_by_blocks(X, predictions)
        else:
            scores = self._scores(X, predictions)
            flags = self._flags(scores) if use_threshold else np.zeros(scores.shape, dtype=bool)
        if forced is not None:
            flags |= forced
        if self.score_by_ not in _EXPECTATION_SCORES:
            return scores, flags
        expected = self._expected(X, predictions)
        if not self._repairs_from_history(X):
            np.copyto(
                self._after_history(X_new),
                expected,
                where=self._after_history(np.broadcast_to(flags, X.shape)),
            )
            return scores, flags
        history, window = self._history_rows(), self.window_
        offsets = np.arange(window)

        def flags_of(rows, row_scores, continuing=None):
            """The flags of ``rows``, and which of them are evidence of a
            fault: past the threshold itself, or stuck."""
            if use_threshold:
                evidence = self._flags(row_scores)
            else:
                evidence = np.zeros(row_scores.shape, dtype=bool)
            if forced is not None:
                evidence |= forced[rows]
            if continuing is None or not use_threshold or self.side != "upper":
                return evidence, evidence
            lower_bar = continuing & (row_scores > self.hysteresis * self.threshold_)
            return evidence | lower_bar, evidence

        def forecast(rows):
            values = np.empty((len(rows), X.shape[1]), dtype=np.float32)
            for first in range(0, len(rows), FORECAST_BLOCK_ROWS):
                block = rows[first : first + FORECAST_BLOCK_ROWS]
                windows = X_new[(block - history)[:, None] + offsets]
                values[first : first + len(block)] = self._model_values(windows)
            return values

        growth = self.error_growth_ if use_threshold else None
        if accepted is None and spans and self.span_threshold_ is not None:
            accepted = np.zeros(flags.shape, dtype=bool)

        def rescore(rows, values, steps, continuing=None):
            raw = np.abs(X[rows] - values)
            if growth is not None:
                raw = np.maximum(raw - growth[np.minimum(steps, len(growth) - 1)], 0)
            row_scores = self._combined(raw.astype(X.dtype, copy=False))
            return row_scores, *flags_of(rows, row_scores, continuing)

        def unrepaired(rows):
            return expected[rows - history]

        _repair_from_history(
            X,
            X_new,
            scores,
            flags,
            history=history,
            forecast=forecast,
            unrepaired=unrepaired,
            rescore=rescore,
            max_run=self.max_run_ if use_threshold else len(X),
            repaired=_repairs_marked_in.get(),
            accepted=accepted,
        )
        if spans and use_threshold and self.span_threshold_ is not None:
            return self._flag_departures(
                X, predictions, X_new, scores, flags, accepted, forced, want_scores
            )
        return scores, flags

    def _flag_departures(
        self, X, predictions, X_new, scores, flags, accepted, forced, want_scores, departures=None
    ):
        """``_detect``'s scores and flags once the departures of the repaired
        ``X_new`` from the model's free runs (``departures``, if known, see
        ``_mean_departures``) are flagged: where they add flags, X is repaired
        again from its history with them (and ``forced``) forced."""
        sustained = self._sustained_cells(X_new, accepted, departures)
        if not any((new & ~old).any() for new, old in zip(sustained.T, flags.T, strict=True)):
            return scores, flags
        del scores, flags, accepted, departures
        np.copyto(X_new, X)
        if forced is not None:
            sustained |= forced
        return self._detect(
            X, predictions, X_new, forced=sustained, scores=want_scores, spans=False
        )

    def _model_values(self, windows, batch_size=FRONT_BATCH):
        """The model's values of the rows after (forecast) or at the end of
        (reconstruction) each window."""
        # At one batch size however many windows: a row is forecast the same
        # whichever rows come with it (a chunk of a dask array).
        output = _predict.predict_windows(
            self.model_, windows, batch_size=batch_size, fixed_batch=True
        )
        if self.score_by_ == "reconstruction":
            return output[:, -1, :]
        return output.reshape(len(windows), -1)

    # -- faults that last: departures from the model's free runs -------------------

    def _checks_spans(self, X):
        """Whether free runs are used on X: a 2-D series with a forecaster,
        flagged above the threshold, long enough for one free run."""
        return (
            self.span_ is not None
            and self._repairs_from_history(X)
            and self.score_by_ == "residual"
            and self.side == "upper"
            and len(X) >= self._history_rows() + self.span_
        )

    def _fit_span_thresholds(self, X, predictions):
        """Set ``span_threshold_`` where free runs are used on the training
        data, and return their flags (``_detect``'s, reusing the one-step pass
        and the free runs the threshold was measured on); None where they are
        not used."""
        if not self._checks_spans(X):
            return None
        X_new = np.array(X, copy=True)
        accepted = np.zeros((len(X), self.threshold_.shape[-1]), dtype=bool)
        _, flags = self._detect(X, predictions, X_new, scores=False, spans=False, accepted=accepted)
        departures = self._mean_departures(X_new, accepted)
        self.span_threshold_ = self._span_thresholds(departures)
        if self.span_threshold_ is None:
            return None
        _, flags = self._flag_departures(
            X, predictions, X_new, None, flags, accepted, self._stuck_cells(X), False, departures
        )
        return flags

    def _span_thresholds(self, departures):
        """``span_threshold_``, from the mean departures of the repaired
        training data (see ``_mean_departures``); None where there are none."""
        departures = departures[~np.isnan(departures).any(axis=1)]
        if not len(departures):
            return None
        quantile, median = np.quantile(departures, [SPAN_QUANTILE, 0.5], axis=0)
        fence = quantile + SPAN_SPREADS * (quantile - median)
        self._span_past_fraction = (departures > fence).mean(axis=0)
        return fence

    def _mean_departures(self, X_new, accepted):
        """Per row ``t`` from which a free run fits in X_new (from
        ``_history_rows()`` on) and per feature, the mean departure of X_new
        from the free run from ``t`` (see ``_departure_blocks``); NaN where
        the run reaches into a run taken as a lasting change (``accepted``,
        shaped like the flags), whose departure is the change itself."""
        starts = range(self._history_rows(), len(X_new) - self.span_ + 1)
        departures = np.empty((len(starts), X_new.shape[1]), dtype=X_new.dtype)
        for block_starts, apart in self._departure_blocks(X_new, starts):
            departures[block_starts - starts.start] = apart.mean(axis=1)
        across = self._across_lasting_changes(accepted)
        if across is not None:
            across = np.broadcast_to(across[starts.start : starts.stop], departures.shape)
            departures[across] = np.nan
        return departures

    def _departure_blocks(self, X_new, starts):
        """Blocks of ``(starts, apart)``: the rows ``t`` of ``starts`` (an
        array or a range of rows from which a free run fits in X_new), and
        ``|X_new - run|`` over the ``span_`` rows from ``t`` on, shaped
        ``(len(starts), span_, n_features)``. The free run from ``t``
        forecasts each of those rows from the window before it, in which the
        rows from ``t`` on are the run's own forecasts; it is the same
        whichever starts come with it."""
        span, history = self.span_, self._history_rows()
        n_features = X_new.shape[1]
        block = max(
            RUN_BATCH,
            min(
                self._param("predict_batch_size"),
                SPAN_BLOCK_VALUES // ((history + span) * n_features),
            ),
        )
        ahead = np.arange(span)
        for first in range(0, len(starts), block):
            block_starts = np.asarray(starts[first : first + block])
            run = np.empty((len(block_starts), history + span, n_features), dtype=X_new.dtype)
            run[:, :history] = X_new[(block_starts - history)[:, None] + np.arange(history)]
            for step in range(span):
                run[:, history + step] = self._model_values(
                    run[:, step : step + history], batch_size=block
                )
            apart = X_new[block_starts[:, None] + ahead]
            np.subtract(apart, run[:, history:], out=apart)
            yield block_starts, np.abs(apart, out=apart)

    def _across_lasting_changes(self, accepted):
        """Per row ``t`` (shaped like ``accepted``), whether the free run from
        ``t``, or the window before it, reaches into a run taken as a lasting
        change: its departure is then the change itself. None where there is
        no such run."""
        if not accepted.any():
            return None
        across = np.zeros(accepted.shape, dtype=bool)
        for column, values in enumerate(accepted.T):
            for first, stop in zip(*_runs(values), strict=True):
                across[max(first - self.span_ + 1, 0) : stop + self._history_rows(), column] = True
        return across

    def _sustained_cells(self, X_new, accepted, departures=None):
        """The cells flagged for departing from the model's free runs, shaped
        like ``accepted`` (the flags): for each row and feature whose free run
        departs from X_new past ``span_threshold_`` on average, its rows that
        depart past it, from the first to the last. Free runs across a
        lasting change are not judged. With ``departures`` (see
        ``_mean_departures``) only the free runs past the threshold are run
        again, for their rows; without, every free run is, a block at a
        time. Inside ``_marking_repairs``, the rows each free run past the
        threshold read are marked."""
        history = self._history_rows()
        starts = range(history, len(X_new) - self.span_ + 1)
        cells = np.zeros(X_new.shape, dtype=bool)
        if departures is not None:
            past = np.nan_to_num(departures, nan=-np.inf) > self.span_threshold_
            n_past = past.sum(axis=0)
            runs_past = np.flatnonzero(past.any(axis=1)) + history
            for block_starts, apart in self._departure_blocks(X_new, runs_past):
                self._mark_departures(cells, block_starts, apart, past[block_starts - history])
        else:
            n_past = np.zeros(X_new.shape[1], dtype=int)
            across = self._across_lasting_changes(accepted)
            for block_starts, apart in self._departure_blocks(X_new, starts):
                past = apart.mean(axis=1) > self.span_threshold_
                if across is not None:
                    past &= ~np.broadcast_to(across[block_starts], past.shape)
                n_past += past.sum(axis=0)
                self._mark_departures(cells, block_starts, apart, past)
        self._warn_many_departures(n_past, len(starts))
        return cells.any(axis=1, keepdims=True) if accepted.shape[1] == 1 else cells

    def _mark_departures(self, cells, starts, apart, past):
        """Flag in ``cells`` the rows of the free runs from ``starts`` that are
        ``past`` the threshold (see ``_sustained_cells``), and mark the rows
        they read."""
        marked = _repairs_marked_in.get()
        for index, feature in np.argwhere(past):
            rows = np.flatnonzero(apart[index, :, feature] > self.span_threshold_[feature])
            start = starts[index]
            cells[start + rows[0] : start + rows[-1] + 1, feature] = True
            if marked is not None:
                marked[start - self._history_rows() : start + self.span_] = True

    def _warn_many_departures(self, n_past, n_runs):
        fraction = n_past / n_runs
        limit = np.maximum(MANY_FLAGS_TIMES * self._span_past_fraction, MANY_SPANS_MIN_FRACTION)
        many = np.flatnonzero((fraction > limit) & (n_past >= MANY_FLAGS_MIN_COUNT))
        if not len(many):
            return
        described = ", ".join(
            f"{self._feature_name(f)} ({fraction[f]:.1%} against {self._span_past_fraction[f]:.1%})"
            for f in many[:5]
        ) + (", ..." if len(many) > 5 else "")
        warnings.warn(
            f"The model's free runs of {self.span_} rows depart from X past "
            f"span_threshold_ far more often than from the training data: {described}. "
            f"Free runs make a model's mismatch with the data larger than its one-step "
            f"forecasts do, so their flags here may be the model's errors, not faults. "
            f"Fit on data like X, or set span=None.",
            UserWarning,
            stacklevel=7,
        )

    def _stuck_cells(self, X):
        """The cells of X, after the rows without history, that repeat the
        value before them in a run of ``stuck_limit_`` to ``max_run_`` rows,
        shaped like the flags; None where there are none. Inside
        ``_marking_repairs``, the repeats of every run from ``stuck_limit_``
        rows on are marked, however long: a pass begun inside a run would
        see it shorter."""
        if self.stuck_limit_ is None or not self._repairs_from_history(X):
            return None
        marked = _repairs_marked_in.get()
        n_columns = self.threshold_.shape[-1]
        held = None
        for feature, column in enumerate(X.T):
            starts, stops = _repeat_runs(column, self.frequent_values_[feature])
            lengths = stops - starts + 1
            long_enough = lengths >= self.stuck_limit_[feature]
            for start, stop, length in zip(
                starts[long_enough], stops[long_enough], lengths[long_enough], strict=True
            ):
                if marked is not None:
                    marked[start:stop] = True
                if length <= self.max_run_:
                    if held is None:
                        held = np.zeros((len(X), n_columns), dtype=bool)
                    held[start:stop, 0 if n_columns == 1 else feature] = True
        if held is None:
            return None
        held[: self._history_rows()] = False
        return held

    def _stuck_limits(self, X):
        """``stuck_limit_`` and ``frequent_values_`` from the training data."""
        if self.stuck is None or not self._repairs_from_history(X):
            return None, None
        n_rows, n_features = X.shape
        frequent = []
        for column in X.T:
            values, counts = np.unique(column[~np.isnan(column)], return_counts=True)
            frequent.append(values[counts >= STUCK_FREQUENT_FRACTION * n_rows])
        if self.stuck != "auto":
            return np.full(n_features, self.stuck), frequent
        limits = np.empty(n_features, dtype=int)
        for feature, column in enumerate(X.T):
            starts, stops = _repeat_runs(column, frequent[feature])
            lengths = stops - starts + 1
            # Runs of >= 2 rows, and the chance a repeat goes on (smoothed, so
            # that a series without repeats still gets a finite limit).
            at_least_two = len(lengths) + 1
            goes_on = (np.count_nonzero(lengths >= 3) + 1) / (len(lengths) + 2)
            steps = np.floor(np.log(STUCK_EXPECTED_RUNS / at_least_two) / np.log(goes_on))
            limits[feature] = max(3, 2 + int(steps) + 1)
        return limits, frequent

    def _flags_by_blocks(self, X, predictions):
        """``_flags(_scores(X, predictions))`` of a series scored by what the
        model says it should be, scored a block of rows at a time."""
        history = self._history_rows()
        expected = self._expected(X, predictions)
        flags = np.zeros((len(X), self.threshold_.shape[-1]), dtype=bool)
        raw = np.empty((min(FLAG_BLOCK_ROWS, len(X)), X.shape[1]), dtype=X.dtype)
        for start in range(history, len(X), FLAG_BLOCK_ROWS):
            stop = min(start + FLAG_BLOCK_ROWS, len(X))
            block = raw[: stop - start]
            np.subtract(X[start:stop], expected[start - history : stop - history], out=block)
            np.abs(block, out=block)
            flags[start:stop] = self._flags(self._combined(block))
        return flags

    def _error_growth(self, X, predictions):
        """How much the model's error grows as its forecasts are made from
        repaired values: per number of rows since a run of repairs began (0:
        from X's own window) and per feature, the median absolute error of the
        forecasts of hidden blocks of X at that row of the block, less that at
        the block's first row: 0 for the first, and never falling. None where
        nothing is repaired from history."""
        if not self._repairs_from_history(X):
            return None
        horizon = min(self.max_run_, GROWTH_HORIZON_WINDOWS * self.window_)
        no_flags = np.zeros((len(X), self.threshold_.shape[-1]), dtype=bool)
        rng = check_random_state(self.random_state)
        hidden = self._hidden_blocks(X, no_flags, rng, lengths=np.array([horizon]))
        if hidden is None:
            horizon = max(1, (len(X) - 3 * self._history_rows()) // 4)
            hidden = self._hidden_blocks(X, no_flags, rng, lengths=np.array([horizon]))
        if hidden is None:
            return np.zeros((1, X.shape[-1]))
        X_new = np.array(X, copy=True)
        self._detect(X, predictions, X_new, forced=hidden, use_threshold=False)
        starts, columns = np.nonzero(_block_starts(hidden))
        errors = np.abs(X_new - X)[starts[:, None] + np.arange(horizon)]  # (blocks, steps, f)
        growth = np.zeros((horizon, X.shape[-1]))
        for column in np.unique(columns):
            features = slice(None) if hidden.shape[-1] == 1 else [column]
            growth[:, features] = np.quantile(
                errors[columns == column][..., features], GROWTH_QUANTILE, axis=0
            )
            growth[:, features] -= growth[0, features]
        return np.maximum.accumulate(np.maximum(growth, 0.0), axis=0)

    def _warn_many_flags(self, X, flags):
        flagged = self._after_history(np.broadcast_to(flags, X.shape))
        fraction = float(flagged.mean()) if flagged.size else 0.0
        limit = max(MANY_FLAGS_TIMES * self.flagged_fraction_, MANY_FLAGS_MIN_FRACTION)
        if fraction > limit and np.count_nonzero(flagged) >= MANY_FLAGS_MIN_COUNT:
            warnings.warn(
                f"{fraction:.0%} of the values of X are flagged, against "
                f"{self.flagged_fraction_:.1%} of the training data: the threshold "
                f"was calibrated on data unlike X (another scale, season or "
                f"sensor), or X is mostly faulty. Fit on data like X, or set "
                f"threshold= or contamination= for this data.",
                UserWarning,
                stacklevel=4,
            )

    # -- what the model is worth -------------------------------------------------

    def _forecast_errors(self, X, predictions, flags):
        """Mean absolute one-step error per feature of the model, of repeating
        the last value and (given a period) of the seasonal-naive forecast,
        over the training rows that are not flagged; None without a forecaster
        (or without an unflagged row)."""
        if self.score_by_ != "residual":
            return None
        if X.ndim == 2:
            target, previous = X[self.window_ :], X[self.window_ - 1 : -1]
        else:
            target, previous = X[:, 1:], X[:, :-1]
        clean = ~self._after_history(flags.any(axis=-1, keepdims=True))[..., 0]
        if not clean.any():
            return None  # every row flagged: nothing to measure on
        target, previous = target[clean], previous[clean]
        expected = self._expected(X, predictions)[clean]
        errors = {
            "model": np.abs(target - expected).mean(axis=0),
            "persistence": np.abs(target - previous).mean(axis=0),
            "seasonal_naive": None,
        }
        if self.period is not None and X.ndim == 2 and len(X) > self.period + self.window_:
            rows = np.arange(max(self.window_, self.period), len(X))
            rows = rows[clean[rows - self.window_]]
            if len(rows):
                errors["seasonal_naive"] = np.abs(X[rows] - X[rows - self.period]).mean(axis=0)
        return errors

    def _warn_worse_than_persistence(self):
        errors = self.forecast_errors_
        if errors is None:
            return
        worse = np.flatnonzero(errors["model"] > errors["persistence"])
        if not len(worse):
            return
        described = ", ".join(
            f"{self._feature_name(f)} "
            f"({errors['model'][f]:.3g} against {errors['persistence'][f]:.3g})"
            for f in worse[:5]
        ) + (", ..." if len(worse) > 5 else "")
        if self.model is None:
            # The default chose its form from X; what it learnt from is X too.
            fix = (
                f"The default model was trained on X itself, and its forecasts from "
                f"windows that hold faults follow them: fit on data with fewer "
                f"faults if you have it, or raise epochs (now {self.epochs})"
            )
        else:
            fix = (
                "Train it longer, or on the changes from one row to the next (as "
                "the default model=None does on a series that drifts)"
            )
        warnings.warn(
            f"The model forecasts X worse than repeating the last value does "
            f"(mean absolute one-step error on the training data): {described}. Its "
            f"residuals flag what it cannot forecast, and its forecasts are poor "
            f"repairs. {fix}, or repair with action='interpolate' or 'impute' "
            f"(action='auto' chooses them where they repair hidden values better).",
            UserWarning,
            stacklevel=4,
        )

    # -- the repair action="auto" chooses ------------------------------------------

    def _choose_repairs(self, X, predictions, flags):
        """Per feature, the repair with the lowest error on hidden clean values
        (fits the imputers that measure the imputation; ``fit`` replaces
        ``imputer_`` after)."""
        n_features = X.shape[-1]
        if self.score_by_ != "residual":
            return np.full(n_features, "interpolate", dtype=object), None

        # Another action only reports the errors: one draw of blocks will do.
        rounds = HIDDEN_ROUNDS if self.action == "auto" else 1
        draws = self._hidden_draws(X, flags, check_random_state(self.random_state), rounds)
        if not draws:  # too short to measure: the repair that needs no model
            return np.full(n_features, "interpolate", dtype=object), None
        error_sums = []
        # No imputer sees the values it repairs, nor the flagged ones: each
        # group of draws is imputed by an imputer fitted with that group's
        # hidden values missing (a few fits, not one per draw), each draw from
        # the values only it and the flags leave missing.
        for group in (draws[i::IMPUTE_GROUPS] for i in range(IMPUTE_GROUPS)):
            if not group:
                continue
            self._fit_imputer(X, np.broadcast_to(flags | np.logical_or.reduce(group), X.shape))
            for hidden in group:
                mask = np.broadcast_to(hidden, X.shape)
                forecast = np.array(X, copy=True)
                self._detect(X, predictions, forecast, forced=hidden, use_threshold=False)
                interpolated = np.array(X, copy=True)
                _interpolate(interpolated, mask)
                imputed = np.array(X, copy=True)
                self._impute(X, imputed, np.broadcast_to(flags | hidden, X.shape), mask)
                # Bounded as transform bounds them.
                self._bound(forecast, mask)
                self._bound(imputed, mask)
                repairs = {"forecast": forecast, "interpolate": interpolated, "impute": imputed}
                error_sums.append(_error_sums(X, hidden, repairs))
        errors = _pooled_errors(error_sums)
        candidates = np.array(list(errors), dtype=object)
        # NaN where a repair had nothing to estimate from: never chosen, and
        # where none was measured, the repair that needs no model.
        stacked = np.stack(list(errors.values()))
        best = np.argmin(np.nan_to_num(stacked, nan=np.inf), axis=0)
        unmeasured = np.isnan(stacked).all(axis=0)
        best[unmeasured] = list(errors).index("interpolate")
        return candidates[best], errors

    # -- action="impute" ---------------------------------------------------------

    def _fit_imputer(self, X, mask):
        """Fit ``imputer_``: an IterativeImputer of X's rows with their
        neighbours (see ``_neighbourhoods``), with the masked values missing,
        on the columns that hold a value (``_imputer_columns``)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        random_state = check_random_state(self.random_state)
        n_rows = mask.size // mask.shape[-1]
        n_columns = (2 * IMPUTE_LAGS + 1) * mask.shape[-1]
        rows = np.arange(n_rows)
        if n_rows * n_columns > IMPUTE_FIT_VALUES:
            size = max(IMPUTE_FIT_VALUES // n_columns, 2 * n_columns)
            rows = np.sort(random_state.choice(n_rows, min(size, n_rows), replace=False))
        neighbourhoods = _neighbourhoods(X, mask, rows)
        # Columns with no value (every value flagged, or lags beyond short
        # sequences) tell nothing.
        self._imputer_columns = np.flatnonzero(~np.isnan(neighbourhoods).all(axis=0))
        self.imputer_ = None
        if not len(self._imputer_columns):
            return
        imputer = IterativeImputer(
            n_nearest_features=(
                IMPUTE_PREDICTORS if len(self._imputer_columns) > IMPUTE_PREDICTORS + 1 else None
            ),
            max_iter=IMPUTE_ROUNDS,
            random_state=random_state.randint(2**31),
        )
        with warnings.catch_warnings():
            # Its early-stopping criterion is rarely met; the estimates are
            # the ones action="auto" measured, converged or not.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.imputer_ = imputer.fit(neighbourhoods[:, self._imputer_columns])

    def _impute(self, X, X_new, mask, where):
        """Estimate the ``where`` values of ``X_new`` with ``imputer_``, in place,
        from X with its ``mask`` values missing: NaN for a feature the
        training data held no value of."""
        if self._imputer_columns is None:
            raise ValueError(
                f"action={self.action!r} estimates flagged values with an imputer that "
                "fit builds for action='impute', 'blend' or 'auto' (with a forecaster), "
                f"and this {type(self).__name__} was fitted without one. Call fit again "
                f"with action={self.action!r}."
            )
        n_features = X.shape[-1]
        # Where each feature's own value lies among the imputer's columns.
        position = np.full((2 * IMPUTE_LAGS + 1) * n_features, -1)
        position[self._imputer_columns] = np.arange(len(self._imputer_columns))
        position = position[IMPUTE_LAGS * n_features : (IMPUTE_LAGS + 1) * n_features]
        known = position >= 0
        rows = np.flatnonzero(where.any(axis=-1))  # of the rows one after another
        for start in range(0, len(rows), IMPUTE_ROWS):
            block = rows[start : start + IMPUTE_ROWS]
            estimates = np.full((len(block), n_features), np.nan)
            if self.imputer_ is not None:
                neighbourhoods = _neighbourhoods(X, mask, block)[:, self._imputer_columns]
                imputed = _impute_rows(self.imputer_, neighbourhoods)
                estimates[:, known] = imputed[:, position[known]]
            at = np.unravel_index(block, X.shape[:-1])
            X_new[at] = np.where(where[at], estimates, X_new[at])

    def _hidden_draws(self, X, flags, random_state, rounds=HIDDEN_ROUNDS):
        """Up to ``rounds`` draws of hidden blocks (see ``_hidden_blocks``),
        until they hold about ``HIDDEN_BLOCKS`` blocks per score column; none
        when X has no room for a block."""
        draws, blocks = [], 0
        for _ in range(rounds):
            hidden = self._hidden_blocks(X, flags, random_state)
            if hidden is None:
                break
            draws.append(hidden)
            blocks += int(_block_starts(hidden).sum())
            if blocks >= HIDDEN_BLOCKS * hidden.shape[-1]:
                break
        return draws

    def _hidden_blocks(self, X, flags, random_state, lengths=None):
        """A mask of blocks of values to hide, shaped like the flags.

        Each block is one score column over a run of rows, with clean
        (unflagged) rows around it: the model's history before it, and the
        rows after it whose windows hold it (where flags leave no such room,
        blocks are hidden among them). Lengths are drawn from ``lengths``, by
        default from the flagged runs of X, or from 1 to ``window_`` rows
        when there are few: a repair that restores single values well may
        fail on a run (imputation from a value's neighbours does). Single
        values where X is too short for those; None when X has no room for
        a block.
        """
        n_columns = flags.shape[-1]
        if X.ndim == 3:
            return self._hidden_values_of_panel(flags, random_state)
        history = self._history_rows()
        row_flagged = flags.any(axis=1)
        drawn = lengths is None
        if drawn:
            lengths = _run_lengths(flags)
            lengths = lengths[lengths <= self.max_run_]
            if len(lengths) < MIN_RUNS_FOR_LENGTHS:
                lengths = np.arange(1, self.window_ + 1)
        longest = int(lengths.max())
        first, last = history + 1, len(X) - longest - history - 1
        if last <= first:
            if drawn and longest > 1:  # too short for runs: single values
                return self._hidden_blocks(X, flags, random_state, np.ones(1, dtype=int))
            return None
        n_candidates = min(last - first, HIDDEN_BLOCKS * n_columns * 4)
        candidates = np.sort(random_state.choice(last - first, n_candidates, replace=False)) + first
        flagged_before = np.concatenate([[0], np.cumsum(row_flagged)])
        hidden = np.zeros(flags.shape, dtype=bool)
        free_from, count = 0, 0
        for start in candidates:
            length = int(random_state.choice(lengths))
            low, high = start - history - 1, start + length + history + 1
            if low < free_from or flagged_before[high] > flagged_before[low]:
                continue
            hidden[start : start + length, count % n_columns] = True
            free_from, count = high, count + 1
            if count >= HIDDEN_BLOCKS * n_columns:
                break
        if not count and row_flagged.any():
            # Flags everywhere: hide blocks among them, repaired from their
            # neighbours as they are, rather than measure nothing.
            return self._hidden_blocks(X, np.zeros_like(flags), random_state, lengths)
        return hidden if count else None

    def _hidden_values_of_panel(self, flags, random_state):
        """Single unflagged values of a panel to hide (steps with history)."""
        free = ~flags.any(axis=-1)
        free[:, 0] = False  # the first step has nothing to forecast it from
        candidates = np.argwhere(free)
        if not len(candidates):
            return None
        size = min(len(candidates), HIDDEN_BLOCKS * flags.shape[-1])
        sequence, step = candidates[random_state.choice(len(candidates), size, replace=False)].T
        hidden = np.zeros(flags.shape, dtype=bool)
        hidden[sequence, step, random_state.randint(flags.shape[-1], size=size)] = True
        return hidden

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

    def _raw_scores(self, X, predictions):
        """Scores of every score column, aligned with X's rows: shape (n, k) for
        a series, (n_sequences, 1 or timesteps, k) for a panel; NaN without
        history. Each row is scored from the unrepaired window."""
        if self.score_by_ in _EXPECTATION_SCORES:
            scores = np.full(X.shape, np.nan, dtype=X.dtype)
            scored = self._after_history(scores)
            # In place: a temporary the size of X would be a third copy of it.
            np.subtract(self._after_history(X), self._expected(X, predictions), out=scored)
            np.abs(scored, out=scored)
            return scores
        raw = predictions
        if callable(self.score_by_):
            windows = self._windows(X)
            raw = np.asarray(self.score_by_(windows, predictions), dtype=X.dtype)
            self._check_callable_scores(raw, X, len(windows))
        return self._align_output(raw, X)

    def _scores(self, X, predictions):
        """The scores the threshold is compared with, from unrepaired windows."""
        return self._combined(self._raw_scores(X, predictions))

    def _combined(self, raw):
        """One score per row when ``per_feature=False``: the mean over the
        columns of the scores in robust units of each column, so that a noisy
        feature weighs no more than a quiet one."""
        if self.per_feature or raw.shape[-1] == 1:
            return raw
        standardised = (raw - self.score_center_) / self.score_scale_
        return standardised.mean(axis=-1, keepdims=True).astype(raw.dtype, copy=False)

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
        """The threshold per score column: given, robust, or from contamination."""
        n_columns = scores.shape[-1]
        if self.threshold is None:
            values = scores.reshape(-1, n_columns)
            values = values[~np.isnan(values).any(axis=1)]
            if self.contamination == "auto":
                lower, upper = _skew_adjusted_fences(values)
                bounds = {"upper": upper, "lower": lower, "both": np.stack([lower, upper])}
                return bounds[self.side].astype(np.float64)
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

    def _apply(self, X, X_new, mask, action):
        """Apply ``action`` to the masked values of ``X_new``, in place.

        ``X_new`` holds X, and the model's values at the masked cells when the
        score gives them (see ``_detect``): ``"forecast"`` keeps those.
        """
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
            return
        per_feature = self.repair_ if action == "auto" else np.full(X.shape[-1], action)
        for name in np.unique(per_feature):
            where = mask & (per_feature == name)
            if name == "forecast":  # X_new holds the model's values already
                self._bound(X_new, where)
                continue
            if name == "blend":
                forecasts = self._bound(X_new, where)[where]
                self._impute(X, X_new, mask, where)
                X_new[where] = (self._bound(X_new, where)[where] + forecasts) / 2
                continue
            np.copyto(X_new, X, where=where)
            if name == "scale":
                np.multiply(X_new, self.factor, out=X_new, where=where, casting="unsafe")
            elif name == "clip":
                np.clip(
                    X_new, self.data_min_, self.data_max_, out=X_new, where=where, casting="unsafe"
                )
            elif name == "nan":
                np.copyto(X_new, np.nan, where=where)
            elif name == "impute":
                self._impute(X, X_new, mask, where)
                self._bound(X_new, where)
            else:  # "interpolate"
                _interpolate(X_new, where)

    def _bound(self, X_new, where):
        """Clip the ``where`` estimates of ``X_new`` (forecasts, imputations) to
        ``_repair_bounds`` in place, and return ``X_new``."""
        low, high = self._repair_bounds
        return np.clip(X_new, low, high, out=X_new, where=where, casting="unsafe")

    def _bounds_the_data_sit_on(self, X):
        """Per feature, the lowest and highest value a forecast or an
        imputation may take: a frequent training value (a rain gauge's zero)
        with at most ``BOUND_OUTSIDE_FRACTION`` of the training values beyond
        it (faults), else none. A linear estimate knows no such floor; a
        fitted range without one would cap the repairs of a series that
        trends past its training data."""
        n_features = X.shape[-1]
        low, high = np.full(n_features, -np.inf), np.full(n_features, np.inf)
        for feature, frequent in enumerate(self.frequent_values_ or []):
            column = X[:, feature]
            for value in frequent:
                if np.mean(column < value) <= BOUND_OUTSIDE_FRACTION:
                    low[feature] = max(low[feature], value)
                if np.mean(column > value) <= BOUND_OUTSIDE_FRACTION:
                    high[feature] = min(high[feature], value)
        return low, high


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
        for feature in np.flatnonzero(flagged.any(axis=0)):
            bad = flagged[:, feature]
            column = values[:, feature]
            if bad.all():
                column[:] = np.nan
                continue
            # Run by run, from the unflagged values either side (the nearer
            # one at an end), as np.interp computes it: in memory of the
            # flagged values, not of the series.
            starts, stops = _runs(bad)
            left, right = starts - 1, stops
            at_left = column[np.maximum(left, 0)].astype(np.float64)
            at_right = column[np.minimum(right, len(column) - 1)].astype(np.float64)
            at_left = np.where(left >= 0, at_left, at_right)
            at_right = np.where(right < len(column), at_right, at_left)
            slope = (at_right - at_left) / (right - left)
            run = np.repeat(np.arange(len(starts)), stops - starts)
            rows = np.flatnonzero(bad)
            column[rows] = slope[run] * (rows - left[run]) + at_left[run]


def _neighbourhoods(X, mask, rows):
    """The rows of ``action="impute"``'s imputer: for each of ``rows`` (of X's
    rows, a panel's sequences one after another), the values of every feature
    from ``IMPUTE_LAGS`` rows before it to as many after it, side by side, as
    float64, NaN where masked or beyond its series or sequence."""
    length = X.shape[-2]
    lags = range(-IMPUTE_LAGS, IMPUTE_LAGS + 1)
    out = np.full((len(rows), len(lags), X.shape[-1]), np.nan)
    for column, lag in enumerate(lags):
        inside = (rows % length + lag >= 0) & (rows % length + lag < length)
        at = np.unravel_index(rows[inside] + lag, X.shape[:-1])
        out[inside, column] = np.where(mask[at], np.nan, X[at])
    return out.reshape(len(rows), -1)


def _impute_rows(imputer, A):
    """The missing values of A imputed by a fitted IterativeImputer with
    linear estimators (its default BayesianRidge), round after round as its
    transform does, but row by row in a fixed order: a row's estimates never
    depend on the other rows imputed with it, as a matrix product's last bits
    may, so a dask array is imputed chunk by chunk bit for bit as in memory."""
    missing = np.isnan(A)
    filled = np.where(missing, imputer.initial_imputer_.statistics_, A)
    for column, predictors, estimator in imputer.imputation_sequence_:
        rows = np.flatnonzero(missing[:, column])
        if not len(rows):
            continue
        estimate = np.full(len(rows), float(estimator.intercept_))
        for predictor, weight in zip(predictors, estimator.coef_, strict=True):
            estimate += weight * filled[rows, predictor]
        filled[rows, column] = estimate
    return filled


def _robust_center_and_scale(scores):
    """Per column, the median and 1.4826 x the median absolute deviation of the
    finite scores (the standard deviation for normal scores), falling back to
    the standard deviation, then 1, where that is 0."""
    values = scores.reshape(-1, scores.shape[-1]).astype(np.float64)
    values = values[np.isfinite(values).all(axis=1)]
    if not len(values):
        return np.zeros(scores.shape[-1]), np.ones(scores.shape[-1])
    center = np.median(values, axis=0)
    scale = 1.4826 * np.median(np.abs(values - center), axis=0)
    scale = np.where(scale > 0, scale, values.std(axis=0))
    return center, np.where(scale > 0, scale, 1.0)


def _medcouple(values, rng):
    """The medcouple of ``values`` (a robust measure of skewness in [-1, 1]),
    on a random sample of at most MEDCOUPLE_SAMPLE of them."""
    if len(values) > MEDCOUPLE_SAMPLE:
        values = rng.choice(values, MEDCOUPLE_SAMPLE, replace=False)
    median = np.median(values)
    above, below = values[values >= median], values[values <= median]
    spread = above[:, None] - below[None, :]
    kernel = ((above[:, None] - median) - (median - below[None, :]))[spread > 0] / spread[
        spread > 0
    ]
    return float(np.median(kernel)) if kernel.size else 0.0


def _skew_adjusted_fences(values):
    """Per column, the fences of the skewness-adjusted boxplot (Hubert and
    Vandervieren, 2008) with AUTO_FENCE_IQRS in place of 1.5."""
    rng = np.random.RandomState(0)
    lower, upper = [], []
    for column in values.T.astype(np.float64):
        q1, q3 = np.quantile(column, [0.25, 0.75])
        iqr = q3 - q1 if q3 > q1 else max(column.std(), 1e-12)
        mc = _medcouple(column, rng)
        low, high = (-4 * mc, 3 * mc) if mc >= 0 else (-3 * mc, 4 * mc)
        lower.append(q1 - AUTO_FENCE_IQRS * np.exp(low) * iqr)
        upper.append(q3 + AUTO_FENCE_IQRS * np.exp(high) * iqr)
    return np.array(lower), np.array(upper)


def _block_starts(hidden):
    """Where each hidden block starts: its first row in a series; every hidden
    value of a panel is a block of its own."""
    if hidden.ndim == 3:
        return hidden
    return np.diff(hidden, axis=0, prepend=False) & hidden


def _error_sums(X, hidden, repairs):
    """Per repair (name -> repaired copy of X, made with the ``hidden`` values
    hidden) and feature, the sum of ``|repair - X|`` over the hidden values;
    and the number of hidden values per feature."""
    mask = np.broadcast_to(hidden, X.shape)
    sums = {
        name: np.where(mask, np.abs(X_new - X), 0.0).reshape(-1, X.shape[-1]).sum(axis=0)
        for name, X_new in repairs.items()
    }
    return sums, mask.reshape(-1, X.shape[-1]).sum(axis=0)


def _pooled_errors(error_sums):
    """Per repair and feature, the mean absolute error over every hidden value
    of ``error_sums`` (see ``_error_sums``, one per draw of hidden values);
    NaN where a repair gave NaN for a hidden value."""
    totals, counts = {}, 0
    for sums, n_hidden in error_sums:
        for name, total in sums.items():
            totals[name] = totals.get(name, 0.0) + total
        counts = counts + n_hidden
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: total / counts for name, total in totals.items()}


def _runs(mask):
    """(starts, stops) of the runs of True values of a 1-D boolean array."""
    # Padded by hand: np.diff's prepend=0 would make the whole array int64.
    padded = np.zeros(len(mask) + 2, dtype=np.int8)
    padded[1:-1] = mask
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _repeat_runs(column, frequent):
    """(start, stop) of every run of rows of ``column`` that repeat the row
    before them (a value held ``stop - start + 1`` rows, from row
    ``start - 1``), except runs of the ``frequent`` values."""
    repeats = column[1:] == column[:-1]
    if len(frequent):
        repeats &= ~np.isin(column[1:], frequent)
    starts, stops = _runs(repeats)
    return starts + 1, stops + 1


def _run_lengths(flags):
    """The lengths of the runs of consecutive flagged rows of every column."""
    lengths = []
    for column in flags.T:
        starts, stops = _runs(column)
        lengths.append(stops - starts)
    return np.concatenate(lengths)


def _repair_from_history(
    X,
    X_new,
    scores,
    flags,
    *,
    history,
    forecast,
    unrepaired,
    rescore,
    max_run,
    repaired=None,
    accepted=None,
):
    """Score and repair a 2-D series in time order, from repaired history.

    On entry ``scores`` and ``flags`` hold the one-pass scores and flags (each
    row scored from the unrepaired window before it; ``scores`` may be None,
    when they are not wanted) and ``X_new`` a copy of
    X. A flagged row's values are replaced by the model's values, and the
    rows whose windows hold it are scored again, from the repaired window,
    in turn: a fault that lasts stays flagged through its body. On return
    ``X_new`` holds the model's values at every flagged cell.

    The work is done by fronts, one per flagged run, advanced one row per
    step together, so the number of steps grows with the longest run, not
    with the number of flags; each front's rows are forecast ahead of it
    until its next repair (see ``_ForecastsAhead``), so the number of forward
    passes grows with the repairs of one front, not with its rows. A front
    that repairs a row in the windows the next front has read makes that one
    stale: the later front is undone and its flagged rows are taken up again
    in time order, when the earlier front has passed. A run of more
    than ``max_run`` consecutive flagged rows of one score column (up to its
    last evidence) is taken as a lasting change: its values are restored and
    unflagged, so the rows after it are scored from windows that hold the new
    level.

    ``forecast(rows)`` returns the model's values of ``rows`` from their
    windows in ``X_new``, ``unrepaired(rows)`` those from the windows of X (the
    one-pass values), and ``rescore(rows, values, steps, continuing)`` their
    scores, their flags and which of those are evidence of a fault (past the
    threshold itself, or stuck), ``steps`` being the rows since the front
    began (0 for a window of X). ``continuing`` is True in the score columns
    where a run may go on past the lower bar (``hysteresis``): the row before
    is flagged, and evidence lies within the ``history`` rows before, so in
    the window. A run's bar does not stay low after its evidence has left the
    window, or a run of forecasts from forecasts could feed itself; nor does
    a run's tail past its last evidence count toward ``max_run``.
    ``repaired``, if given, gets True at every row a front repaired,
    even if the repair was undone later or accepted as a lasting change:
    after ``history`` rows in a row without one, no front is under way and
    the windows hold X's own values, so the pass could start afresh there
    (see ``_dask.in_time_order``). ``accepted``, if given (shaped like the
    flags), gets True at every run taken as a lasting change.
    """
    n, n_columns = flags.shape
    seeds = np.flatnonzero(flags.any(axis=1))

    def heads(candidates):
        """The flagged rows of ``candidates`` to start fronts at: those more
        than ``history`` rows after the one before. A front started closer
        would be undone at its first step, when the front before repairs its
        own first row; such rows are taken up when that front has passed."""
        return candidates[np.diff(candidates, prepend=candidates[:1] - history - 1) > history]

    # Per front: start, its first row; pos, its next row; last, its last
    # repaired row (a front starts with none in its window); per score
    # column, run, the first row of the current flagged run (-1: none), and
    # evidence_at, the last row of evidence; and the forecasts it holds (see
    # _ForecastsAhead).
    none_yet = -n - history - 1
    starts = heads(seeds)
    fronts = _PerFront(
        start=starts,
        pos=starts,
        last=starts - history - 1,
        active=np.ones(len(starts), dtype=bool),
        run=np.full((len(starts), n_columns), -1),
        evidence_at=np.full((len(starts), n_columns), none_yet),
        held_from=np.zeros(len(starts), dtype=int),
        held_count=np.zeros(len(starts), dtype=int),
        held_at=np.zeros(len(starts), dtype=int),
    )
    forecasts = _ForecastsAhead(forecast, history, X.shape[1])

    def one_pass(first, stop):
        rows = np.arange(first, stop)
        return rescore(rows, unrepaired(rows), np.zeros(len(rows), dtype=int))[:2]

    def undo(first, stop):
        X_new[first:stop] = X[first:stop]
        row_scores, flags[first:stop] = one_pass(first, stop)
        if scores is not None:
            scores[first:stop] = row_scores

    def accept(first, stop, column):
        """Take a run of one score column as a lasting change: restored, unflagged."""
        features = slice(None) if n_columns == 1 else column
        X_new[first:stop, features] = X[first:stop, features]
        if accepted is not None:
            accepted[first:stop, column] = True
        if scores is not None:
            scores[first:stop, column] = one_pass(first, stop)[0][:, column]
        flags[first:stop, column] = False

    def take_up(index, after):
        """Start fronts at the seeds between a finished front and the next one."""
        following = fronts.start[index + 1] if index + 1 < len(fronts) else n
        new = heads(seeds[(seeds >= after) & (seeds < following)])
        if len(new):
            fronts.insert(
                index + 1,
                len(new),
                start=new,
                pos=new,
                last=new - history - 1,
                active=True,
                run=-1,
                evidence_at=none_yet,
                held_from=0,
                held_count=0,
                held_at=0,
            )

    while fronts.active.any():
        moving = np.flatnonzero(fronts.active)
        rows = fronts.pos[moving]
        last = fronts.last[moving]
        # A window without a repaired value gives the one-pass value: only
        # the first row of a front, which the one-pass flags already flagged.
        fresh = rows > last + history
        values = np.empty((len(rows), X.shape[1]), dtype=np.float32)
        values[fresh] = unrepaired(rows[fresh])
        if not fresh.all():
            # A front runs until ``history`` rows after its last repair.
            values[~fresh] = forecasts.of(
                fronts, moving[~fresh], rows[~fresh], np.minimum(last[~fresh] + history, n - 1)
            )
        run, evidence_at = fronts.run[moving], fronts.evidence_at[moving]
        continuing = (run >= 0) & (rows[:, None] - evidence_at <= history)
        row_scores, row_flags, evidence = rescore(
            rows, values, rows - fronts.start[moving], continuing
        )
        evidence_at = np.where(evidence, rows[:, None], evidence_at)
        flags[rows] = row_flags
        if scores is not None:
            scores[rows] = row_scores
        X_new[rows] = np.where(np.broadcast_to(row_flags, values.shape), values, X[rows])
        flagged = row_flags.any(axis=1)
        fronts.last[moving[flagged]] = rows[flagged]
        fronts.held_count[moving[flagged]] = 0  # forecast from the rows before the repair
        if repaired is not None:
            repaired[rows[flagged]] = True
        run = np.where(row_flags, np.where(run < 0, rows[:, None], run), -1)
        for front, column in np.argwhere(evidence & (rows[:, None] - run + 1 > max_run)):
            accept(run[front, column], rows[front] + 1, column)
            run[front, column] = -1
            evidence_at[front, column] = none_yet
        fronts.run[moving], fronts.evidence_at[moving] = run, evidence_at
        fronts.pos[moving] += 1
        # A repair in the rows a later front has read makes what it computed
        # stale: that front is undone, its flagged rows taken up again later.
        for index, row in zip(moving[flagged][::-1], rows[flagged][::-1], strict=True):
            while index + 1 < len(fronts) and row >= fronts.start[index + 1] - history:
                undo(fronts.start[index + 1], fronts.pos[index + 1])
                fronts.delete(index + 1)
        ended = np.flatnonzero(
            fronts.active & ((fronts.pos > fronts.last + history) | (fronts.pos >= n))
        )
        fronts.active[ended] = False
        for index in ended[::-1]:  # from the end, so indices stay valid
            take_up(index, fronts.pos[index])


class _PerFront:
    """Arrays with a row per front of ``_repair_from_history``, in time
    order, kept aligned as fronts are inserted and deleted."""

    def __init__(self, **fields):
        self._names = tuple(fields)
        for name, values in fields.items():
            setattr(self, name, np.array(values))

    def __len__(self):
        return len(getattr(self, self._names[0]))

    def insert(self, at, n_fronts, **fields):
        """Insert ``n_fronts`` fronts before front ``at``, with the given
        field values (broadcast)."""
        for name in self._names:
            current = getattr(self, name)
            new = np.broadcast_to(fields[name], (n_fronts, *current.shape[1:]))
            setattr(self, name, np.insert(current, at, new, axis=0))

    def delete(self, index):
        for name in self._names:
            setattr(self, name, np.delete(getattr(self, name), index, axis=0))


class _ForecastsAhead:
    """The forecasts of the rows ahead of the fronts of
    ``_repair_from_history``, made before they are needed.

    Until a front repairs a row, the windows of the rows after it hold what
    they held when they were forecast: X's own values or the front's earlier
    repairs (another front writing there is undone first). So one forward
    pass can serve a front up to its next repair rather than one row: a
    front that repairs none in its last ``history`` rows ends after one pass.
    What a front's repair makes stale is wasted, so a front is forecast twice
    as many rows ahead as it went on its last forecasts (in a run of repairs,
    about two), or as many as fill the forward pass anyway. The fronts'
    fields ``held_from``, ``held_count`` and ``held_at`` say which rows'
    forecasts a front holds and where; about ``AHEAD_ROWS`` forecasts are
    held in all.
    """

    def __init__(self, forecast, history, n_features):
        self._forecast, self._history = forecast, history
        self._held = np.empty((0, n_features), dtype=np.float32)

    def of(self, fronts, moving, rows, lasts):
        """The forecasts of ``rows``, the next rows of the fronts ``moving``
        (every front under way whose row is not the first), each front going
        no further than its row of ``lasts``."""
        offsets = rows - fronts.held_from[moving]
        left = fronts.held_count[moving] - offsets
        missing = left <= 0
        if missing.any():
            # Forecast ahead of the fronts that hold no forecast of their row,
            # and keep, from the row on, what the others hold.
            left[missing] = 0
            n_missing = np.count_nonzero(missing)
            share = max(AHEAD_ROWS - int(left.sum()), 0) // n_missing
            ahead = np.maximum(2 * offsets[missing], FRONT_BATCH // n_missing)
            ahead = np.clip(ahead, 1, max(min(share, self._history), 1))
            counts = left.copy()
            counts[missing] = np.minimum(lasts[missing] - rows[missing] + 1, ahead)
            at = np.cumsum(counts) - counts
            held = np.empty((counts.sum(), self._held.shape[1]), dtype=np.float32)
            kept = ~missing
            held[_spread(at[kept], counts[kept])] = self._held[
                _spread(fronts.held_at[moving[kept]] + offsets[kept], counts[kept])
            ]
            held[_spread(at[missing], counts[missing])] = self._forecast(
                _spread(rows[missing], counts[missing])
            )
            self._held = held
            fronts.held_from[moving], fronts.held_count[moving] = rows, counts
            fronts.held_at[moving] = at
            offsets = np.zeros_like(rows)
        return self._held[fronts.held_at[moving] + offsets]


def _spread(firsts, counts):
    """``firsts[i], firsts[i] + 1, ..., firsts[i] + counts[i] - 1`` for every
    i, concatenated."""
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(firsts, counts) + within
