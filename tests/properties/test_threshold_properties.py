"""Properties of ThresholdReshaper that must hold for any data.

The models are built once per module (see conftest.py) and passed as
``model=``, so ``fit`` only calibrates the threshold: no example trains a
network, except in the reproducibility test, which is limited to a few.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import Phase, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lstm_reshape import ThresholdReshaper, _keras, clear_cache
from sklearn_lstm_reshape._threshold import IMPUTE_LAGS

from .strategies import (
    DTYPES,
    LAYOUTS,
    assert_bits_equal,
    assert_unmodified,
    memory_of,
    values,
    with_layout,
)

N_FEATURES = 2
SERIES_ROWS = (5, 60)  # 5: the fewest rows a window-4 forecaster can score
PANEL_SEQUENCES = (2, 12)
SEQUENCE_FORECASTER_STEPS = 6
SIDES = ["upper", "lower", "both"]
BUILTIN_ACTIONS = ["forecast", "interpolate", "impute", "blend", "nan", "clip", "scale"]
CASE_NAMES = ["series-forecaster", "series-autoencoder", "panel-autoencoder", "panel-forecaster"]


# -- scoring cases -------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A model and the data it scores.

    ``history`` is the number of leading rows (2-D series) or leading steps
    of every sequence (3-D panel) that have no full window and so no score.
    """

    name: str
    model: object
    ndim: int
    history: int
    steps: int | None = None
    score_by: str = "auto"

    def reshaper(self, **params):
        return ThresholdReshaper(self.model, score_by=self.score_by, **params)

    def without_history(self, A):
        """The part of A (shaped like X) that can be scored."""
        return A[self.history :] if self.ndim == 2 else A[:, self.history :]

    def history_part(self, A):
        """The part of A (shaped like X) that has no full window of history."""
        return A[: self.history] if self.ndim == 2 else A[:, : self.history]


@pytest.fixture(scope="module")
def cases(forecaster, autoencoder, sequence_forecaster):
    window, n_features = _keras.model_input_shape(forecaster)
    ae_steps, ae_features = _keras.model_input_shape(autoencoder)
    assert n_features == ae_features == N_FEATURES
    all_cases = [
        Case("series-forecaster", forecaster, ndim=2, history=window),
        Case("series-autoencoder", autoencoder, ndim=2, history=ae_steps - 1),
        Case("panel-autoencoder", autoencoder, ndim=3, history=0, steps=ae_steps),
        Case(
            "panel-forecaster",
            sequence_forecaster,
            ndim=3,
            history=1,
            steps=SEQUENCE_FORECASTER_STEPS,
            score_by="residual",
        ),
    ]
    return {case.name: case for case in all_cases}


# -- callable actions ----------------------------------------------------------


def negate_plus_one(X, mask):
    """A well-behaved action: a new array, of another dtype than X's."""
    return 1.0 - X.astype(np.float64)


def identity(X, mask):
    """Returns the (read-only) X it was given."""
    return X


def write_into_X(X, mask):
    X[...] = 12345.0
    return X


def make_X_writeable_and_write(X, mask):
    X.setflags(write=True)  # the usual way around "assignment destination is read-only"
    X[...] = 12345.0
    return X


ACTIONS = [*BUILTIN_ACTIONS, negate_plus_one]


def action_id(action):
    return action if isinstance(action, str) else action.__name__


# -- strategies ----------------------------------------------------------------


def data_for(case, dtype, *, unique=False, min_rows=SERIES_ROWS[0]):
    """Arrays the case's model takes: a series of 2 features, or a panel."""
    if case.ndim == 2:
        shape = st.tuples(st.integers(min_rows, SERIES_ROWS[1]), st.just(N_FEATURES))
    else:
        shape = st.tuples(st.integers(*PANEL_SEQUENCES), st.just(case.steps), st.just(N_FEATURES))
    return arrays(dtype, shape, elements=values(dtype), unique=unique)


# How values are flagged: a calibrated threshold, or one that flags every
# value with a score, or none.
flagging = st.one_of(
    st.fixed_dictionaries({"contamination": st.floats(0.01, 0.5), "side": st.sampled_from(SIDES)}),
    st.just({"threshold": -1.0, "side": "upper"}),
    st.just({"threshold": np.inf, "side": "lower"}),
    st.just({"threshold": np.inf, "side": "upper"}),
)


@st.composite
def scenarios(draw, case, *, dtype=None):
    """(X_fit, X, params): data to fit on, data to transform, how to flag."""
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    X = draw(data_for(case, dtype))
    if draw(st.booleans()):
        X_fit = X
    else:
        X_fit = draw(data_for(case, draw(st.sampled_from(DTYPES))))
    params = {**draw(flagging), "per_feature": draw(st.booleans())}
    return X_fit, X, params


# -- shape and dtype -----------------------------------------------------------


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_output_shape_is_input_shape(cases, case_name, data):
    case = cases[case_name]
    X_fit, X, params = data.draw(scenarios(case))
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    reshaper = case.reshaper(action=action, **params).fit(X_fit)

    assert reshaper.transform(X).shape == X.shape
    assert reshaper.fit_transform(X).shape == X.shape


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_indicator_columns_are_the_flags(cases, case_name, data):
    case = cases[case_name]
    X_fit, X, params = data.draw(scenarios(case))
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    reshaper = case.reshaper(action=action, **params).fit(X_fit)
    X_new = reshaper.transform(X)
    mask = reshaper.flag(X)

    with_indicator = case.reshaper(action=action, add_indicator=True, **params).fit(X_fit)
    out = with_indicator.transform(X)

    n_indicators = N_FEATURES if params["per_feature"] else 1
    assert out.shape == (*X.shape[:-1], N_FEATURES + n_indicators)
    assert_bits_equal(out[..., :N_FEATURES], X_new)
    indicator = out[..., N_FEATURES:]
    assert np.isin(indicator, [0.0, 1.0]).all()
    if params["per_feature"]:
        np.testing.assert_array_equal(indicator == 1.0, mask)
    else:
        # One flag per row: a row is flagged in all its features or in none.
        np.testing.assert_array_equal(mask.any(axis=-1), mask.all(axis=-1))
        np.testing.assert_array_equal(indicator[..., 0] == 1.0, mask.any(axis=-1))


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_dtype_is_kept(cases, case_name, data):
    case = cases[case_name]
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    # X_fit's dtype is drawn independently: the output follows the X transformed.
    X_fit, X, params = data.draw(scenarios(case, dtype=dtype))
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    add_indicator = data.draw(st.booleans(), label="add_indicator")
    reshaper = case.reshaper(action=action, add_indicator=add_indicator, **params).fit(X_fit)

    assert reshaper.transform(X).dtype == dtype
    assert reshaper.fit_transform(X).dtype == dtype


# -- X is never written to, nor shared -----------------------------------------


@pytest.mark.parametrize("action", [*ACTIONS, identity], ids=action_id)
@given(data=st.data())
def test_X_is_never_modified(cases, action, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X_fit, X, params = data.draw(scenarios(case))
    X = with_layout(X, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    X_fit = with_layout(X_fit, data.draw(st.sampled_from(LAYOUTS), label="fit layout"))
    add_indicator = data.draw(st.booleans(), label="add_indicator")
    memory, fit_memory = memory_of(X), memory_of(X_fit)

    reshaper = case.reshaper(action=action, add_indicator=add_indicator, **params)
    reshaper.fit(X_fit)
    assert_unmodified(X_fit, fit_memory)
    reshaper.transform(X)
    reshaper.flag(X)
    reshaper.score_samples(X)
    reshaper.report(X)
    assert_unmodified(X, memory)
    reshaper.fit_transform(X)
    assert_unmodified(X, memory)


@pytest.mark.parametrize("action", [write_into_X, make_X_writeable_and_write], ids=action_id)
@given(data=st.data())
def test_callable_action_cannot_write_into_X(cases, action, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = data.draw(data_for(case, data.draw(st.sampled_from(DTYPES), label="dtype")))
    X = with_layout(X, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    memory = memory_of(X)
    reshaper = case.reshaper(action=action, threshold=-1.0).fit(X)

    with pytest.raises(ValueError, match=r"read-only|cannot set WRITEABLE flag"):
        reshaper.transform(X)
    assert_unmodified(X, memory)


@pytest.mark.parametrize("action", [*ACTIONS, identity], ids=action_id)
@given(data=st.data())
def test_output_never_shares_memory_with_X(cases, action, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X_fit, X, params = data.draw(scenarios(case))
    X = with_layout(X, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    add_indicator = data.draw(st.booleans(), label="add_indicator")
    reshaper = case.reshaper(action=action, add_indicator=add_indicator, **params).fit(X_fit)

    assert not np.shares_memory(reshaper.transform(X), X)
    assert not np.shares_memory(reshaper.fit_transform(X), X)
    assert not np.shares_memory(reshaper.flag(X), X)


# -- what is changed -----------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS, ids=action_id)
@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_unflagged_values_are_bit_identical(cases, case_name, action, data):
    case = cases[case_name]
    X_fit, X, params = data.draw(scenarios(case))
    factor = data.draw(st.floats(-10, 10), label="factor")
    reshaper = case.reshaper(action=action, factor=factor, **params).fit(X_fit)
    X_new = reshaper.transform(X)
    mask = reshaper.flag(X)

    event("some values flagged" if mask.any() else "nothing flagged")
    event("some values not flagged" if not mask.all() else "everything flagged")
    assert mask.shape == X.shape and mask.dtype == bool
    assert_bits_equal(X_new[~mask], X[~mask])


@pytest.mark.parametrize(
    "action",
    ["interpolate", "impute", "blend", "nan", "clip", "scale", negate_plus_one],
    ids=action_id,
)
@given(data=st.data())
def test_flagged_values_get_the_action(cases, action, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X_fit, X, params = data.draw(scenarios(case))
    factor = data.draw(st.floats(-10, 10), label="factor")
    reshaper = case.reshaper(action=action, factor=factor, **params).fit(X_fit)
    X_new = reshaper.transform(X)
    mask = reshaper.flag(X)
    event("some values flagged" if mask.any() else "nothing flagged")

    if action == "nan":
        assert np.isnan(X_new[mask]).all()
    elif action == "scale":
        assert_bits_equal(X_new[mask], (X * factor)[mask])
    elif action == "clip":
        clipped = np.clip(X, reshaper.data_min_, reshaper.data_max_).astype(X.dtype)
        assert_bits_equal(X_new[mask], clipped[mask])
    elif action == "interpolate":
        # Between the unflagged values of the same feature of the same series,
        # or NaN when there are none.
        series = [(X, X_new, mask)] if X.ndim == 2 else zip(X, X_new, mask, strict=True)
        for values_, new, flagged in series:
            for j in range(N_FEATURES):
                bad = flagged[:, j]
                if not bad.any():
                    continue
                good = values_[~bad, j]
                if good.size == 0:
                    assert np.isnan(new[bad, j]).all()
                else:
                    assert (new[bad, j] >= good.min()).all()
                    assert (new[bad, j] <= good.max()).all()
    elif action == "impute":
        # Estimated from the values around them; NaN only for a feature of
        # which fit saw no unflagged value.
        own_columns = IMPUTE_LAGS * N_FEATURES + np.arange(N_FEATURES)
        estimable = np.isin(own_columns, reshaper._imputer_columns)
        assert np.isfinite(X_new[mask & estimable]).all()
        assert np.isnan(X_new[mask & ~estimable]).all()
    elif action == "blend":
        # Between the forecast and the imputation, each bounded alike.
        forecast = reshaper.set_params(action="forecast").transform(X)
        imputed = reshaper.set_params(action="impute").transform(X)
        both = np.isfinite(imputed)
        assert_bits_equal(np.isnan(X_new[mask]), ~both[mask])
        low, high = np.minimum(forecast, imputed), np.maximum(forecast, imputed)
        assert (low[mask & both] <= X_new[mask & both]).all()
        assert (X_new[mask & both] <= high[mask & both]).all()
    else:
        assert_bits_equal(X_new[mask], action(X, mask).astype(X.dtype)[mask])


@given(data=st.data())
def test_infinite_upper_threshold_changes_nothing(cases, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X_fit, X, _ = data.draw(scenarios(case))
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    per_feature = data.draw(st.booleans(), label="per_feature")
    reshaper = case.reshaper(
        threshold=np.inf, side="upper", action=action, per_feature=per_feature, stuck=None
    ).fit(X_fit)

    assert not reshaper.flag(X).any()
    assert_bits_equal(reshaper.transform(X), X)
    assert_bits_equal(reshaper.fit_transform(X), X)


def _stuck_reference(reshaper, X):
    """Row by row: the cells that repeat the row before them in a run of one
    value from stuck_limit_ to max_run_ rows, not a frequent value, after the
    rows without history."""
    held = np.zeros(X.shape, dtype=bool)
    for feature in range(X.shape[1]):
        t = 1
        while t < len(X):
            if (
                X[t, feature] != X[t - 1, feature]
                or X[t, feature] in reshaper.frequent_values_[feature]
            ):
                t += 1
                continue
            end = t
            while end < len(X) and X[end, feature] == X[t - 1, feature]:
                end += 1
            if reshaper.stuck_limit_[feature] <= end - t + 1 <= reshaper.max_run_:
                held[t:end, feature] = True
            t = end
    held[: reshaper._history_rows()] = False
    return held


@given(data=st.data())
def test_with_an_infinite_threshold_only_stuck_values_are_flagged(cases, data):
    case = cases[data.draw(st.sampled_from(["series-forecaster", "series-autoencoder"]))]
    X_fit, X, _ = data.draw(scenarios(case))
    stuck = data.draw(st.sampled_from(["auto", 2, 3]), label="stuck")
    reshaper = case.reshaper(threshold=np.inf, stuck=stuck).fit(X_fit)
    expected = _stuck_reference(reshaper, X)
    np.testing.assert_array_equal(reshaper.flag(X), expected)


def _unrepaired_scores(case, X, per_feature=True):
    """The scores of X against its own windows: nothing flagged, nothing repaired."""
    return case.reshaper(threshold=np.inf, per_feature=per_feature).fit(X).score_samples(X)


def _past(scores, threshold, side):
    """Scores past the threshold, compared in float64 as the reshaper's
    ``threshold_`` is held (a tiny threshold may round to 0 in float32)."""
    scores, threshold = np.asarray(scores, dtype=np.float64), np.float64(threshold)
    return scores > threshold if side == "upper" else scores < threshold


@pytest.mark.parametrize("side", ["upper", "lower"])
@given(data=st.data())
def test_flags_are_monotone_in_the_threshold_where_scores_do_not_depend_on_repairs(
    cases, side, data
):
    """Panels are scored in one pass: a higher upper threshold flags a subset."""
    case = cases[data.draw(st.sampled_from(["panel-autoencoder", "panel-forecaster"]))]
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    X = data.draw(data_for(case, dtype), label="X")
    per_feature = data.draw(st.booleans(), label="per_feature")
    scores = _unrepaired_scores(case, X, per_feature)
    scores = scores[np.isfinite(scores)].astype(np.float64)
    # Thresholds at the scores themselves hit the boundary cases.
    thresholds = st.one_of(st.sampled_from(sorted(set(scores.tolist()))), st.floats(-1, 3e3))
    low, high = sorted([data.draw(thresholds, label="t1"), data.draw(thresholds, label="t2")])

    def flags(threshold):
        reshaper = case.reshaper(threshold=threshold, side=side, per_feature=per_feature)
        return reshaper.fit(X).flag(X)

    at_low, at_high = flags(low), flags(high)
    if side == "upper":
        assert not (at_high & ~at_low).any()
    else:
        assert not (at_low & ~at_high).any()


@pytest.mark.parametrize("side", ["upper", "lower"])
@given(data=st.data())
def test_flags_from_repaired_history_grow_from_the_unrepaired_flags(cases, side, data):
    """What holds instead of monotonicity for a series scored from repaired
    history: the first flag of every run is a flag against the unrepaired
    windows, a flag spreads only to the rows whose windows hold a repaired
    value, and the flags are exactly the scores past the threshold (or past
    ``hysteresis`` times it, right after a flagged value while a score past
    the threshold is in the window)."""
    case = cases[data.draw(st.sampled_from(["series-forecaster", "series-autoencoder"]))]
    X = data.draw(data_for(case, data.draw(st.sampled_from(DTYPES))), label="X")
    per_feature = data.draw(st.booleans(), label="per_feature")
    unrepaired = _unrepaired_scores(case, X, per_feature)
    finite = unrepaired[np.isfinite(unrepaired)].astype(np.float64)
    threshold = data.draw(
        st.one_of(st.sampled_from(sorted(set(finite.tolist()))), st.floats(-1, 3e3))
    )
    reshaper = case.reshaper(
        threshold=threshold, side=side, per_feature=per_feature, max_run=len(X)
    ).fit(X)
    all_flags = reshaper.flag(X)
    flags = all_flags.any(axis=1)
    first_pass = _past(unrepaired.reshape(len(X), -1), threshold, side).any(axis=1)
    history = case.history
    for row in np.flatnonzero(flags | first_pass):
        recent = flags[max(0, row - history) : row].any()
        if not recent:  # scored from the unrepaired window: the same verdict
            assert flags[row] == first_pass[row]
    scores = reshaper.score_samples(X).reshape(len(X), -1)
    expected = _past(scores, threshold, side)
    if side == "upper":
        # After a flagged value, while a value past the threshold is in the
        # window, past the lower bar.
        column_flags = all_flags[:, : scores.shape[1]]
        after_flag = np.zeros_like(column_flags)
        after_flag[1:] = column_flags[:-1]
        in_window = np.zeros_like(expected)
        for lag in range(1, history + 1):
            in_window[lag:] |= expected[:-lag]
        expected |= after_flag & in_window & _past(scores, reshaper.hysteresis * threshold, side)
    np.testing.assert_array_equal(all_flags, np.broadcast_to(expected, X.shape))


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_rows_without_history_are_never_flagged(cases, case_name, data):
    case = cases[case_name]
    X_fit, X, params = data.draw(scenarios(case))
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    reshaper = case.reshaper(action=action, **params).fit(X_fit)

    assert not case.history_part(reshaper.flag(X)).any()
    assert np.isnan(case.history_part(reshaper.score_samples(X))).all()
    assert_bits_equal(case.history_part(reshaper.transform(X)), case.history_part(X))

    # A threshold below every score flags every row that has a full window
    # (when a run that long is not taken as a lasting change).
    flags_all = case.reshaper(threshold=-1.0, side="upper", max_run=len(X)).fit(X_fit).flag(X)
    assert not case.history_part(flags_all).any()
    assert case.without_history(flags_all).all()


# -- training and calibration --------------------------------------------------


# Each example trains two networks: few examples, and no time spent shrinking.
@settings(max_examples=3, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(
    X=arrays(np.float64, (40, N_FEATURES), elements=values(np.float64)),
    random_state=st.integers(0, 2**31 - 1),
)
def test_same_random_state_same_result(X, random_state):
    params = dict(window=4, units=4, epochs=1, random_state=random_state, contamination=0.1)
    first = ThresholdReshaper(**params).fit(X)
    clear_cache()  # train the second model, rather than reuse the first
    second = ThresholdReshaper(**params).fit(X)
    assert second.model_ is not first.model_

    for a, b in zip(first.model_.get_weights(), second.model_.get_weights(), strict=True):
        assert_bits_equal(a, b)
    assert_bits_equal(first.threshold_, second.threshold_)
    assert_bits_equal(first.transform(X), second.transform(X))


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_contamination_calibrates_the_flagged_fraction(cases, case_name, side, data):
    case = cases[case_name]
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    X = data.draw(data_for(case, dtype, unique=True, min_rows=16), label="X")
    contamination = data.draw(st.floats(0.01, 0.5), label="contamination")
    reshaper = case.reshaper(contamination=contamination, side=side, action="nan").fit(X)

    # Calibrated on the scores against the unrepaired windows.
    unrepaired = _unrepaired_scores(case, X)
    scores = case.without_history(unrepaired).reshape(-1, N_FEATURES)
    assert np.isfinite(scores).all()
    for column in scores.T:
        assume(len(np.unique(column)) == len(column))

    threshold = reshaper.threshold_
    if side == "both":
        flagged = (scores < threshold[0]) | (scores > threshold[1])
    else:
        flagged = _past(scores, threshold, side)
    n_scored = len(flagged)
    # The quantile lands between two scores: one value of rounding per tail.
    tolerance = (2 if side == "both" else 1) / n_scored + 1e-9
    for fraction in flagged.mean(axis=0):
        assert abs(fraction - contamination) <= tolerance
