"""ThresholdReshaper: scores, thresholds, actions, report, and bad input."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_lstm_reshape import ThresholdReshaper

from .conftest import N_FEATURES, WINDOW, model_weights


def last_value_of_feature_0(windows, predictions):
    """A score that flags exactly the rows whose feature 0 is large."""
    return windows[:, -1, 0]


# -- scores and alignment ----------------------------------------------------


def test_residual_score_is_the_forecast_error_of_each_row(series, forecaster):
    X = series.X
    # Nothing flagged: every row is scored from the window of X before it.
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf).fit(X)
    assert reshaper.score_by_ == "residual"
    forecast = forecaster.predict(
        np.stack([X[t - WINDOW : t] for t in range(WINDOW, len(X))]), verbose=0
    )
    scores = reshaper.score_samples(X)
    assert scores.shape == X.shape
    assert np.isnan(scores[:WINDOW]).all()
    # float32 forecasts of other batch sizes differ in their last bits, so a
    # small error is compared to a tolerance in the series' units too.
    np.testing.assert_allclose(
        scores[WINDOW:], np.abs(X[WINDOW:] - forecast), rtol=1e-5, atol=1e-6 * np.abs(X).max()
    )


def test_reconstruction_score_compares_each_row_with_the_last_row_of_its_window(
    series, autoencoder
):
    X = series.X[:100]
    reshaper = ThresholdReshaper(autoencoder, threshold=np.inf).fit(X)
    assert reshaper.score_by_ == "reconstruction"
    assert reshaper.window_ == WINDOW  # taken from the model
    windows = np.stack([X[t - WINDOW + 1 : t + 1] for t in range(WINDOW - 1, len(X))])
    expected = np.abs(X[WINDOW - 1 :] - autoencoder.predict(windows, verbose=0)[:, -1])
    scores = reshaper.score_samples(X)
    assert np.isnan(scores[: WINDOW - 1]).all()
    np.testing.assert_allclose(scores[WINDOW - 1 :], expected, rtol=1e-5)


def test_output_score_is_one_value_per_row(series, scorer):
    X = series.X[:100]
    reshaper = ThresholdReshaper(scorer, action="nan").fit(X)
    assert reshaper.score_by_ == "output"
    scores = reshaper.score_samples(X)
    assert scores.shape == (100,)
    assert np.isnan(scores[: WINDOW - 1]).all()
    assert ((scores[WINDOW - 1 :] > 0) & (scores[WINDOW - 1 :] < 1)).all()
    # A one-value score flags whole rows.
    mask = reshaper.flag(X)
    assert (mask == mask[:, :1]).all()


def test_contamination_calibrates_the_threshold_on_the_training_rows(series, forecaster):
    # The quantile of the scores against the unrepaired windows.
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, contamination=0.1).fit(series.X)
    unrepaired = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf).fit(series.X)
    scored = unrepaired.score_samples(series.X)[WINDOW:]
    assert reshaper.threshold_.shape == (N_FEATURES,)
    np.testing.assert_allclose((scored > reshaper.threshold_).mean(axis=0), 0.1, atol=0.01)


def test_side_both_and_lower(series, scorer):
    X = series.X[:200]
    both = ThresholdReshaper(scorer, side="both", contamination=0.2, action="nan").fit(X)
    low, high = both.threshold_[:, 0]
    scores = both.score_samples(X)
    flagged = both.flag(X)[:, 0]
    np.testing.assert_array_equal(flagged, (scores < low) | (scores > high))
    assert 0.15 < flagged[WINDOW - 1 :].mean() < 0.25

    lower = ThresholdReshaper(scorer, side="lower", threshold=0.5, action="nan").fit(X)
    np.testing.assert_array_equal(lower.flag(X)[:, 0], scores < 0.5)


def test_per_feature_false_flags_whole_rows_on_the_mean_standardised_score(series, forecaster):
    unrepaired = dict(window=WINDOW, threshold=np.inf)
    reshaper = ThresholdReshaper(forecaster, per_feature=False, **unrepaired).fit(series.X)
    scores = reshaper.score_samples(series.X)
    assert scores.shape == (len(series.X),)
    per_feature = ThresholdReshaper(forecaster, **unrepaired).fit(series.X)
    standardised = (
        per_feature.score_samples(series.X) - reshaper.score_center_
    ) / reshaper.score_scale_
    np.testing.assert_allclose(scores, standardised.mean(axis=1), rtol=1e-5)
    # Each feature in robust units: the median score 0, the scaled MAD 1.
    np.testing.assert_allclose(np.nanmedian(standardised, axis=0), 0, atol=1e-6)
    mask = (
        ThresholdReshaper(forecaster, window=WINDOW, per_feature=False).fit(series.X).flag(series.X)
    )
    np.testing.assert_array_equal(mask, np.repeat(mask[:, :1], N_FEATURES, axis=1))


def test_fixed_threshold_per_feature(series, forecaster):
    threshold = [0.1, 0.2, 0.3]
    # With no run long enough to be taken as a lasting change, nor a lower
    # bar for the values after a flag, the flags are exactly the scores (from
    # repaired history) past the threshold.
    reshaper = ThresholdReshaper(
        forecaster, window=WINDOW, threshold=threshold, max_run=len(series.X), hysteresis=1.0
    ).fit(series.X)
    np.testing.assert_array_equal(reshaper.threshold_, threshold)
    scores = reshaper.score_samples(series.X)
    np.testing.assert_array_equal(reshaper.flag(series.X), scores > np.array(threshold))


# -- actions -----------------------------------------------------------------


def test_forecast_action_repairs_injected_anomalies(series, forecaster):
    X, clean, anomalous = series.X, series.X_clean, series.mask
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, action="forecast").fit(X)
    repaired = reshaper.transform(X)
    flagged = reshaper.flag(X)
    # Most anomalies are caught, and where they are, the repair is closer to
    # the clean series than the anomaly was.
    assert (flagged & anomalous).sum() >= 0.6 * anomalous.sum()
    caught = flagged & anomalous
    assert np.abs(repaired - clean)[caught].mean() < 0.5 * np.abs(X - clean)[caught].mean()


def test_actions_on_hand_picked_rows():
    X = np.zeros((12, 2))
    X[:, 1] = np.arange(12.0)
    X[[5, 9], 0] = [10.0, -20.0]  # rows 5 and 9 stand out in feature 0
    from sklearn_lstm_reshape.models import make_forecaster

    model = make_forecaster(3, 2, units=2)
    common = dict(window=3, score_by=last_value_of_feature_0, threshold=5.0, side="both")

    def transform(**params):
        return ThresholdReshaper(model, **common, **params).fit(X).transform(X)

    flagged_rows = [5, 9]
    np.testing.assert_array_equal(transform(action="scale", factor=0.5)[flagged_rows, 0], [5, -10])
    np.testing.assert_array_equal(transform(action="nan")[flagged_rows], np.nan * X[flagged_rows])
    np.testing.assert_array_equal(transform(action="interpolate")[flagged_rows], [[0, 5], [0, 9]])
    np.testing.assert_array_equal(transform(action="clip")[flagged_rows], X[flagged_rows])
    replaced = transform(action=lambda X, mask: np.full_like(X, 7.0))
    np.testing.assert_array_equal(replaced[flagged_rows], 7.0)
    np.testing.assert_array_equal(
        np.delete(replaced, flagged_rows, axis=0), np.delete(X, flagged_rows, axis=0)
    )


def test_interpolate_from_the_only_unflagged_row():
    from sklearn_lstm_reshape.models import make_forecaster

    X = np.arange(20.0).reshape(10, 2)
    reshaper = ThresholdReshaper(
        make_forecaster(2, 2, units=2),
        window=2,
        score_by=lambda w, p: np.ones(len(w)),
        threshold=0.5,
        action="interpolate",
    ).fit(X)
    result = reshaper.transform(X)
    np.testing.assert_array_equal(result[:1], X[:1])  # no history: kept
    np.testing.assert_array_equal(result[1:], np.broadcast_to(X[0], (9, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolation_run_by_run_is_numpys_interp_bit_for_bit(dtype):
    from sklearn_lstm_reshape._threshold import _interpolate

    rng = np.random.default_rng(0)
    for _ in range(200):
        X = rng.standard_normal((int(rng.integers(1, 40)), 3)).astype(dtype)
        mask = rng.random(X.shape) < rng.random()  # ends, runs, all or nothing
        expected, time = X.copy(), np.arange(len(X))
        for feature, bad in enumerate(mask.T):
            if bad.all():
                expected[:, feature] = np.nan
            elif bad.any():
                expected[bad, feature] = np.interp(time[bad], time[~bad], X[~bad, feature])
        repaired = X.copy()
        _interpolate(repaired, mask)
        np.testing.assert_array_equal(repaired, expected)


def test_add_indicator_appends_the_flags(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, add_indicator=True)
    result = reshaper.fit_transform(series.X)
    assert result.shape == (len(series.X), 2 * N_FEATURES)
    np.testing.assert_array_equal(result[:, N_FEATURES:], reshaper.flag(series.X))
    assert list(reshaper.get_feature_names_out()) == [
        "x0",
        "x1",
        "x2",
        "flagged_x0",
        "flagged_x1",
        "flagged_x2",
    ]


def test_report_describes_what_transform_changes(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, contamination=0.02).fit(series.X)
    report = reshaper.report(series.X)
    mask = reshaper.flag(series.X)
    X_new = reshaper.transform(series.X)
    assert report["rows"] == len(series.X)
    assert report["rows_flagged"] == mask.any(axis=1).sum()
    assert report["fraction_flagged"] == pytest.approx(mask.any(axis=1).mean())
    assert report["values_changed"] == np.count_nonzero(X_new != series.X)
    assert report["mean_abs_change"] == pytest.approx(np.abs(X_new - series.X).mean())
    # Replacing anomalies by forecasts lowers the model's error on the series.
    assert report["model_error_after"] < report["model_error_before"]
    assert report["model_error_before"] == report["mean_score_before"]


def test_report_of_an_output_score_has_no_model_error(series, scorer):
    report = ThresholdReshaper(scorer, action="nan").fit(series.X).report(series.X)
    assert report["model_error_before"] is None
    assert report["model_error_after"] is None


def test_the_given_model_is_never_trained_or_modified(series, forecaster):
    before = model_weights(forecaster)
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    reshaper.transform(series.X)
    reshaper.report(series.X)
    assert reshaper.model_ is forecaster
    for old, new in zip(before, model_weights(forecaster), strict=True):
        np.testing.assert_array_equal(old, new)


def test_refitting_with_another_threshold_does_not_run_the_model_again(
    series, forecaster, monkeypatch
):
    from sklearn_lstm_reshape import _predict

    calls = []
    original = _predict.predict_windows
    monkeypatch.setattr(
        _predict, "predict_windows", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k)
    )
    X = series.X + 1.0  # data the cache has not seen
    for contamination in (0.01, 0.05, 0.1):
        for action in ("forecast", "nan"):
            ThresholdReshaper(
                forecaster, window=WINDOW, contamination=contamination, action=action
            ).fit(X).transform(X)
    # One pass over every window. The rows scored again from repaired history
    # are forecast at most a window ahead of each front, and fronts start
    # more than a window apart, so no later call covers as many windows.
    n_windows = len(X) - WINDOW + 1
    assert calls.count(n_windows) == 1
    assert max(calls[1:]) < n_windows


def test_refits_with_a_seed_reuse_the_trained_default_model(series, monkeypatch):
    from sklearn_lstm_reshape import clear_cache, models

    trained = []
    original = models.train_forecaster
    monkeypatch.setattr(
        models, "train_forecaster", lambda *a, **k: trained.append(1) or original(*a, **k)
    )
    clear_cache()
    X = series.X[:200]
    params = dict(window=WINDOW, units=4, epochs=1)
    first = ThresholdReshaper(**params, random_state=0, contamination=0.01).fit(X)
    second = ThresholdReshaper(**params, random_state=0, action="nan").fit(X)
    assert len(trained) == 1
    # The weights are shared, not the object: each estimator owns its model,
    # and fine-tuning one leaves the other (and the next fit) alone.
    assert second.model_ is not first.model_
    before = [w.copy() for w in second.model_.get_weights()]
    first.model_.set_weights([w + 1.0 for w in first.model_.get_weights()])
    for old, new in zip(before, second.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    third = ThresholdReshaper(**params, random_state=0).fit(X)
    for old, new in zip(before, third.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert len(trained) == 1
    # Another seed, other data or other settings train a new model...
    ThresholdReshaper(**params, random_state=1).fit(X)
    ThresholdReshaper(**params, random_state=0).fit(X[:150])
    ThresholdReshaper(**{**params, "units": 5}, random_state=0).fit(X)
    assert len(trained) == 4
    # ...and so does every fit without a seed, whose training is not reproducible.
    ThresholdReshaper(**params).fit(X)
    ThresholdReshaper(**params).fit(X)
    assert len(trained) == 6


def test_a_grid_search_over_five_folds_trains_one_default_model_per_fold(series, monkeypatch):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    from sklearn_lstm_reshape import clear_cache, models

    trained = []
    original = models.train_forecaster
    monkeypatch.setattr(
        models, "train_forecaster", lambda *a, **k: trained.append(1) or original(*a, **k)
    )
    clear_cache()
    X = series.X[:300]
    pipe = make_pipeline(
        ThresholdReshaper(window=WINDOW, units=4, epochs=1, random_state=0), Ridge()
    )
    grid = {"thresholdreshaper__contamination": [0.01, 0.05, 0.1]}
    # Five folds: the default of TimeSeriesSplit. Every fold of one candidate is
    # fitted before the next candidate, so each fold's model must outlive four
    # others; the refit on all of X trains one more.
    GridSearchCV(pipe, grid, cv=TimeSeriesSplit(5)).fit(X, X[:, 0])
    assert len(trained) == 5 + 1


# -- panels ------------------------------------------------------------------


def test_panel_with_the_default_model_is_scored_per_step(series):
    panel = series.X[:480].reshape(20, 24, N_FEATURES)
    reshaper = ThresholdReshaper(units=8, epochs=2, random_state=0).fit(panel)
    assert reshaper.window_ is None
    assert reshaper.score_by_ == "residual"
    scores = reshaper.score_samples(panel)
    assert scores.shape == panel.shape
    assert np.isnan(scores[:, 0]).all() and np.isfinite(scores[:, 1:]).all()
    result = reshaper.transform(panel)
    assert result.shape == panel.shape
    assert not reshaper.flag(panel)[:, 0].any()


def test_panel_with_a_sequence_scorer_flags_whole_sequences(series, scorer):
    panel = series.X[:400].reshape(50, WINDOW, N_FEATURES)
    reshaper = ThresholdReshaper(scorer, contamination=0.1, action="scale", factor=0.0)
    result = reshaper.fit_transform(panel)
    mask = reshaper.flag(panel)
    sequences = mask.any(axis=(1, 2))
    assert 3 <= sequences.sum() <= 7
    assert mask[sequences].all()
    assert (result[sequences] == 0).all()
    np.testing.assert_array_equal(result[~sequences], panel[~sequences])


# -- bad input: a clear message, and X left untouched -------------------------


@pytest.fixture
def fitted(series, forecaster):
    return ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)


def _bad_value_cases(X):
    with_nan, with_inf = X.copy(), X.copy()
    with_nan[20, 1] = np.nan
    with_inf[20, 1] = np.inf
    return [
        (with_nan, "Input X contains NaN"),
        (with_inf, "Input X contains infinity"),
        (X[:, 0], "X must be 2-D .* got a 1-D array .* Reshape your data"),
        (X[None, None], "X must be 2-D .* got a 4-D array"),
        (X[:, :2], "X has 2 features, but ThresholdReshaper is expecting 3 features"),
        (X[:WINDOW], f"X has {WINDOW} sample.*window={WINDOW} needs at least {WINDOW + 1} rows"),
        (X.astype(str).astype(object) + "m", "X must hold numbers only: could not convert"),
        (X[:0], r"0 sample\(s\)"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_bad_input_to_transform_is_refused_and_left_untouched(fitted, series, case):
    X, message = _bad_value_cases(series.X)[case]
    before = X.copy()
    with pytest.raises(ValueError, match=message):
        fitted.transform(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("case", [0, 1, 2, 3, 5, 6, 7])
def test_bad_input_to_fit_is_refused_and_left_untouched(forecaster, series, case):
    X, message = _bad_value_cases(series.X)[case]
    before = X.copy()
    with pytest.raises(ValueError, match=message):
        ThresholdReshaper(forecaster, window=WINDOW).fit(X)
    np.testing.assert_array_equal(X, before)


def test_data_the_model_cannot_take(series, forecaster):
    two_features = series.X[:, :2].copy()
    with pytest.raises(ValueError, match="X has 2 features, but the model takes windows of 3"):
        ThresholdReshaper(forecaster).fit(two_features)
    with pytest.raises(
        ValueError,
        match=re.escape("window=12, but the model takes windows of 8 timesteps. Set window=8"),
    ):
        ThresholdReshaper(forecaster, window=12).fit(series.X)
    panel = series.X[:600].reshape(50, 12, N_FEATURES)
    with pytest.raises(
        ValueError, match="sequences have 12 timesteps, but the model takes sequences of 8"
    ):
        ThresholdReshaper(forecaster).fit(panel)


def test_a_panel_too_short_for_the_default_forecaster(series):
    panel = series.X[:50, None, :]
    with pytest.raises(
        ValueError, match="sequences have 1 timestep, but the default forecaster of a panel"
    ):
        ThresholdReshaper(epochs=1).fit(panel)


def test_score_that_does_not_match_the_model(series, scorer, forecaster):
    with pytest.raises(
        ValueError,
        match=r"score_by='reconstruction' needs a model whose "
        r"output is the window",
    ):
        ThresholdReshaper(scorer, score_by="reconstruction").fit(series.X)
    with pytest.raises(
        ValueError, match="action='forecast' replaces flagged values with the model's forecast"
    ):
        ThresholdReshaper(scorer, action="forecast").fit(series.X)
    with pytest.raises(
        ValueError, match="action='blend' replaces flagged values with the model's forecast"
    ):
        ThresholdReshaper(scorer, action="blend").fit(series.X)
    # The same when the action is set after fit, in transform and report.
    fitted = ThresholdReshaper(scorer, action="nan").fit(series.X).set_params(action="forecast")
    for method in (fitted.transform, fitted.report):
        with pytest.raises(ValueError, match="action='forecast' replaces flagged values"):
            method(series.X)
    with pytest.raises(ValueError, match=r"score_by\(windows, predictions\) must return"):
        ThresholdReshaper(forecaster, score_by=lambda w, p: p[:3], action="nan").fit(series.X)


def test_dataframe_with_other_column_names(series, forecaster):
    frame = pd.DataFrame(series.X, columns=["a", "b", "c"])
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(frame)
    renamed = frame.rename(columns={"c": "d"})
    before = renamed.copy()
    with pytest.raises(ValueError, match="feature names should match"):
        reshaper.transform(renamed)
    pd.testing.assert_frame_equal(renamed, before)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"action": "smooth"}, "The 'action' parameter of ThresholdReshaper must be"),
        ({"score_by": "likelihood"}, "The 'score_by' parameter of ThresholdReshaper must be"),
        ({"contamination": 0.0}, r"The 'contamination' parameter .* range \(0.0, 0.5\]"),
        ({"contamination": 0.6}, r"The 'contamination' parameter .* range \(0.0, 0.5\]"),
        ({"model": 3}, "The 'model' parameter of ThresholdReshaper must be"),
        ({"model": "nowhere.keras"}, "model='nowhere.keras' does not exist"),
        ({"model": "model.h5"}, "model='model.h5' is not a .keras file"),
        ({"threshold": [1.0, 2.0]}, r"threshold has shape \(2,\), but the score has 3 column"),
    ],
)
def test_bad_parameters(series, params, message):
    with pytest.raises(ValueError, match=message):
        ThresholdReshaper(**{"window": WINDOW, **params}).fit(series.X)


def test_transform_before_fit(series):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ThresholdReshaper().transform(series.X)


def test_2d_fit_then_3d_transform(fitted, series):
    with pytest.raises(ValueError, match="X is 3-D, but ThresholdReshaper was fitted on 2-D"):
        fitted.transform(series.X[:480].reshape(20, 24, N_FEATURES))
