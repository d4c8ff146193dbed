"""ThresholdReshaper: detection and repair from repaired history, the action it
chooses, its robust threshold, and the warnings that say when something is off."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklearn_lstm_reshape import ThresholdReshaper
from sklearn_lstm_reshape.datasets import inject_anomalies, make_anomalous_series

from .conftest import N_FEATURES, WINDOW

# -- a reference: row by row ---------------------------------------------------


def sequential_reference(reshaper, X):
    """Flags and repairs of X computed one row at a time, in time order: each
    row forecast (or reconstructed) from the window of the series repaired so
    far, its score less the growth of the error since the stretch of repairs
    began, flagged (past hysteresis x the threshold after a flagged value,
    while a value past the threshold is in the window), repaired; a run
    longer than max_run up to a value past the threshold restored and
    unflagged."""
    history, window = reshaper._history_rows(), reshaper.window_
    n_columns = reshaper.threshold_.shape[-1]
    growth = reshaper.error_growth_
    X_new = X.copy()
    flags = np.zeros((len(X), n_columns), dtype=bool)
    run = np.full(n_columns, -1)
    past = np.full(n_columns, -len(X) - history - 1)  # the last row past the threshold
    began, last = None, -len(X)  # the first and the last row of a stretch of repairs
    for t in range(history, len(X)):
        if t > last + history:
            began = None
        output = reshaper.model_.predict(X_new[None, t - history : t - history + window], verbose=0)
        value = output[0, -1] if reshaper.score_by_ == "reconstruction" else output.reshape(-1)
        steps = 0 if began is None else t - began
        raw = np.maximum(np.abs(X[t] - value) - growth[min(steps, len(growth) - 1)], 0)
        score = reshaper._combined(raw[None])[0]
        past_threshold = reshaper._flags(score[None])[0]
        flags[t] = past_threshold
        if reshaper.side == "upper":  # a run goes on past the lower bar
            continuing = (run >= 0) & (t - past <= history)
            flags[t] |= continuing & (score > reshaper.hysteresis * reshaper.threshold_)
        past = np.where(past_threshold, t, past)
        if flags[t].any():
            began, last = t if began is None else began, t
        X_new[t] = np.where(np.broadcast_to(flags[t], value.shape), value, X[t])
        run = np.where(flags[t], np.where(run < 0, t, run), -1)
        for column in np.flatnonzero(past_threshold & (t - run + 1 > reshaper.max_run_)):
            features = slice(None) if n_columns == 1 else column
            X_new[run[column] : t + 1, features] = X[run[column] : t + 1, features]
            flags[run[column] : t + 1, column] = False
            run[column] = -1
            past[column] = -len(X) - history - 1
    return np.broadcast_to(flags, X.shape), X_new


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"per_feature": False},
        {"max_run": 3},
        {"contamination": 0.05, "side": "both"},
        {"threshold": 0.05},  # flags most rows: fronts merge and restart
    ],
    ids=["defaults", "rows", "short max_run", "both sides", "low threshold"],
)
def test_the_batched_fronts_repair_exactly_as_row_by_row(series, forecaster, params):
    X = series.X[:300]
    # span=None: the free runs are a second pass on top of this one.
    reshaper = ThresholdReshaper(
        forecaster, window=WINDOW, action="forecast", span=None, **params
    ).fit(X)
    flags, X_new = sequential_reference(reshaper, X)
    np.testing.assert_array_equal(reshaper.flag(X), flags)
    # The same windows, forecast in batches of other sizes: float32 rounding.
    np.testing.assert_allclose(reshaper.transform(X), X_new, rtol=1e-5, atol=1e-5)


def test_a_reconstruction_is_repaired_from_repaired_history_too(series, autoencoder):
    X = series.X[:150]
    reshaper = ThresholdReshaper(autoencoder, contamination=0.1, action="forecast").fit(X)
    flags, X_new = sequential_reference(reshaper, X)
    np.testing.assert_array_equal(reshaper.flag(X), flags)
    np.testing.assert_allclose(reshaper.transform(X), X_new, rtol=1e-5, atol=1e-5)


def engine_calls(reshaper, X, monkeypatch):
    """The flags of X, and the windows of every forward pass after the one
    pass over every window."""
    from sklearn_lstm_reshape import _predict

    calls = []
    original = _predict.predict_windows
    monkeypatch.setattr(
        _predict, "predict_windows", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k)
    )
    flags = reshaper.flag(X)
    monkeypatch.setattr(_predict, "predict_windows", original)
    assert calls[0] == len(X) - WINDOW + 1
    return flags, calls[1:]


@pytest.fixture
def spiked(series, forecaster):
    """A reshaper fitted on the clean series, and a copy of that series with
    one-row spikes every ``every`` rows."""

    def spiked(every):
        X = series.X_clean.copy()
        spikes = np.arange(40, 580, every)
        X[spikes, 0] += 5 * X[:, 0].std()
        # span=None: its free runs cost span passes however many flags there are.
        reshaper = ThresholdReshaper(forecaster, window=WINDOW, action="forecast", span=None)
        return reshaper.fit(series.X_clean), X, spikes

    return spiked


def test_repair_costs_grow_with_the_longest_run_not_the_number_of_flags(spiked, monkeypatch):
    reshaper, X, spikes = spiked(every=12)  # 45 isolated faults, more than a window apart
    flags, calls = engine_calls(reshaper, X, monkeypatch)
    assert flags[spikes, 0].all()
    # The WINDOW rows after every spike are forecast together, ahead of their
    # fronts: one pass, where a row at a time took WINDOW.
    assert len(calls) == 1
    assert calls[0] >= len(spikes) * WINDOW


def test_a_chain_of_repairs_costs_a_pass_per_repair_not_per_row(spiked, monkeypatch):
    reshaper, X, spikes = spiked(every=3)  # each window holds the repair before
    flags, calls = engine_calls(reshaper, X, monkeypatch)
    assert flags[spikes, 0].all()
    # One front runs through all of them: a row at a time, it took a pass per
    # row (540); what a repair makes stale is forecast again.
    assert len(calls) <= len(spikes) + 2


def test_forecasts_ahead_of_the_fronts_change_nothing(series, forecaster, monkeypatch):
    import sklearn_lstm_reshape._threshold as threshold_module
    from sklearn_lstm_reshape import _predict

    X = series.X[:400]
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, threshold=0.3, random_state=0)
    reshaper.fit(X)  # X's one pass is cached: every call below is a repair's
    calls = []
    original = _predict.predict_windows
    monkeypatch.setattr(
        _predict, "predict_windows", lambda *a, **k: calls.append(len(a[1])) or original(*a, **k)
    )
    ahead = reshaper.transform(X)
    passes_ahead = len(calls)
    monkeypatch.setattr(threshold_module, "AHEAD_ROWS", 0)  # one row per front and pass
    np.testing.assert_array_equal(reshaper.transform(X), ahead)
    # The two ways really differ: a row per pass takes more of them.
    assert len(calls) - passes_ahead > passes_ahead > 0


# -- lasting faults --------------------------------------------------------------


def test_a_level_shift_is_flagged_through_its_body(series, forecaster):
    start, stop, feature, _ = next(e for e in series.events if e[3] == "level_shift")
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    flags = reshaper.flag(series.X)[:, feature]
    unrepaired = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf).fit(series.X)
    one_pass = unrepaired.score_samples(series.X)[:, feature] > reshaper.threshold_[feature]
    assert flags[start:stop].all()
    assert one_pass[start:stop].sum() < stop - start  # against faulty windows: its edges only
    repaired = reshaper.transform(series.X)
    clean = series.X_clean[start:stop, feature]
    assert (
        np.abs(repaired[start:stop, feature] - clean).mean()
        < 0.25 * np.abs(series.X[start:stop, feature] - clean).mean()
    )


def test_a_fault_that_fades_below_the_threshold_stays_flagged_past_the_lower_bar(
    series, forecaster
):
    X = series.X_clean.copy()
    fitted = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean)
    threshold = fitted.threshold_[0]
    X[300, 0] += 2 * threshold  # an edge past the threshold
    end = 300 + WINDOW  # the edge stays in the window of the whole body
    X[301:end, 0] += 0.8 * threshold  # a body short of it, above half of it
    flags = fitted.flag(X)[:, 0]
    assert flags[300:end].all()
    assert not flags[end : end + WINDOW].any()  # the run ends with the fault
    single_bar = ThresholdReshaper(forecaster, window=WINDOW, hysteresis=1.0)
    assert single_bar.fit(series.X_clean).flag(X)[301:end, 0].mean() < 0.5
    clean = series.X_clean[300:end, 0]
    repaired = fitted.transform(X)[300:end, 0]
    assert np.abs(repaired - clean).mean() < 0.25 * np.abs(X[300:end, 0] - clean).mean()


def test_a_level_shift_under_the_threshold_is_flagged_by_its_departure_from_a_free_run(
    series, forecaster
):
    X = series.X_clean.copy()
    fitted = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean)
    start, stop = 300, 315
    X[start:stop, 0] += 0.8 * fitted.threshold_[0]  # every row short of the threshold
    one_step = ThresholdReshaper(forecaster, window=WINDOW, span=None).fit(series.X_clean)
    assert one_step.flag(X)[start:stop, 0].mean() < 0.2
    flags = fitted.flag(X)[:, 0]
    assert flags[start:stop].all()
    # The span rows of a departure: at most a span either side of the shift.
    assert not flags[: start - fitted.span_].any()
    assert not flags[stop + fitted.span_ :].any()
    clean = series.X_clean[start:stop, 0]
    repaired = fitted.transform(X)[start:stop, 0]
    assert np.abs(repaired - clean).mean() < 0.5 * np.abs(X[start:stop, 0] - clean).mean()
    assert fitted.span_threshold_.shape == (X.shape[1],)


def test_span_is_used_only_with_a_forecaster_of_a_series(series, forecaster, autoencoder):
    X = series.X[:200]
    for unused in (
        ThresholdReshaper(forecaster, window=WINDOW, span=None),
        ThresholdReshaper(forecaster, window=WINDOW, side="both"),
        ThresholdReshaper(forecaster, window=WINDOW, contamination=0.05),  # says how much
        ThresholdReshaper(forecaster, window=WINDOW, threshold=1.0),
        ThresholdReshaper(autoencoder),
    ):
        unused.fit(X)
        assert unused.span_ is None and unused.span_threshold_ is None
    given = ThresholdReshaper(forecaster, window=WINDOW, contamination=0.05, span=10).fit(X)
    assert given.span_ == 10 and given.span_threshold_.shape == (X.shape[1],)
    assert ThresholdReshaper(forecaster, window=WINDOW).fit(X).span_ == 20


def test_free_runs_that_depart_far_more_often_than_in_training_get_a_warning(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        reshaper.flag(series.X)  # the training data: silent
    # Another process: the one-step forecasts still fit it, their free runs
    # do not (2 % of them past the fence of feature 0, none in training).
    other = make_anomalous_series(n_timesteps=3000, n_features=N_FEATURES, random_state=3).X
    departing = r"free runs of 20 rows depart .* feature 0 \(2\.\d% against 0\.0%\)"
    with pytest.warns(UserWarning, match=departing):
        reshaper.flag(other)


def test_values_hidden_to_measure_repairs_are_the_only_ones_flagged(series, forecaster):
    # fit and score repair values they hide, flagged whatever their score and
    # nothing else: no run goes on past them over the lower bar, however low.
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, contamination=0.2).fit(series.X)
    X, predictions = reshaper._prepare(series.X)
    hidden = np.zeros(X.shape, dtype=bool)
    for start in range(50, 550, 25):
        hidden[start : start + 4, start % 3] = True
    _, flags = reshaper._detect(
        X, predictions, np.array(X, copy=True), forced=hidden, use_threshold=False
    )
    np.testing.assert_array_equal(flags, hidden)


def test_a_stuck_sensor_is_flagged_and_repaired(series, forecaster):
    X = series.X_clean.copy()
    X[300:330, 1] = X[:, 1].max()  # the sensor sticks at the top of its range
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean)
    flags = reshaper.flag(X)[:, 1]
    assert flags[300:330].mean() > 0.8
    assert flags[:300].sum() + flags[330 + WINDOW :].sum() <= 2
    repaired = reshaper.transform(X)
    clean = series.X_clean[300:330, 1]
    assert np.abs(repaired[300:330, 1] - clean).mean() < 0.5 * np.abs(X[300:330, 1] - clean).mean()


def test_a_sensor_frozen_at_its_last_reading_is_flagged_as_stuck(series, forecaster):
    X = series.X_clean.copy()
    X[300:330, 1] = X[299, 1]
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean)
    flags = reshaper.flag(X)
    # Every repeat of the reading, not the reading itself, in that feature only.
    assert flags[300:330, 1].all()
    assert not flags[299, 1] and not flags[300:330, [0, 2]].any()
    repaired = reshaper.transform(X)
    clean = series.X_clean[300:330, 1]
    assert np.abs(repaired[300:330, 1] - clean).mean() < 0.5 * np.abs(X[300:330, 1] - clean).mean()
    # Without the stuck rule, the forecaster follows the frozen window:
    # its residuals flag little of it.
    blind = ThresholdReshaper(forecaster, window=WINDOW, stuck=None).fit(series.X_clean)
    assert blind.stuck_limit_ is None
    assert blind.flag(X)[300:330, 1].mean() < 0.2


def test_stuck_limits_are_measured_on_the_training_data(series, forecaster):
    X = series.X_clean.copy()
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(X)
    # Continuous values never repeat: the smoothed chance of a repeat going on
    # is 1/2, and runs of at least 2 are expected once, so 0.01 expected runs
    # asks for 2 + 7 rows.
    np.testing.assert_array_equal(reshaper.stuck_limit_, [9, 9, 9])
    assert [len(values) for values in reshaper.frequent_values_] == [0, 0, 0]
    # With no threshold flags, the clean series holds nothing stuck.
    stuck_only = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf).fit(X)
    assert not stuck_only.flag(X).any()
    # A held value one row shorter than the limit is not stuck; at the limit it is.
    X[100:108, 0] = X[100, 0]
    X[400:409, 2] = X[400, 2]
    flags = stuck_only.flag(X)
    assert not flags[100:108, 0].any()
    assert flags[401:409, 2].all() and not flags[400, 2]
    # An int sets the limit of every feature.
    given = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf, stuck=4)
    np.testing.assert_array_equal(given.fit(series.X_clean).stuck_limit_, [4, 4, 4])
    assert given.flag(X)[101:108, 0].all()


def test_a_frequent_value_is_never_stuck(series, forecaster):
    X = series.X_clean.copy()
    X[X[:, 0] < np.quantile(X[:, 0], 0.3), 0] = 0.0  # a rain gauge's dry days
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf).fit(X)
    np.testing.assert_array_equal(reshaper.frequent_values_[0], [0.0])
    X_test = X.copy()
    X_test[200:230, 0] = 0.0  # a dry spell
    X_test[300:320, 0] = 1.5  # stuck at a reading it rarely holds
    flags = reshaper.flag(X_test)[:, 0]
    assert not flags[200:230].any()
    assert flags[301:320].all()


def test_a_value_held_longer_than_max_run_is_left_as_a_lasting_change(series, forecaster):
    X = series.X_clean.copy()
    X[200:300, 1] = X[200, 1]  # 100 rows: a sensor switched off, not a fault to repair
    X[400:420, 1] = X[400, 1]
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, threshold=np.inf, max_run=50)
    flags = reshaper.fit(series.X_clean).flag(X)[:, 1]
    assert not flags[200:300].any()
    assert flags[401:420].all()


def test_a_lasting_change_is_accepted_after_max_run(series, forecaster):
    X = series.X_clean.copy()
    X[300:, 2] += 4 * X[:, 2].std()  # a new normal from row 300 on
    fitted = dict(window=WINDOW, action="forecast")
    never = ThresholdReshaper(forecaster, max_run=len(X), **fitted).fit(series.X_clean)
    # With no limit, the new level is flagged until the forecasts from the
    # repaired history stray as far as it lies.
    assert never.flag(X)[300:315, 2].all()

    # span=None: free runs from a level the model never saw drift off it
    # here and there (below).
    reshaper = ThresholdReshaper(forecaster, max_run=10, span=None, **fitted)
    flags = reshaper.fit(series.X_clean).flag(X)[:, 2]
    assert not flags[300:315].any()
    assert flags[300:].sum() <= 3
    # The run is restored, and the series after it is left as it is.
    np.testing.assert_array_equal(
        reshaper.transform(X)[300:, 2][~flags[300:]], X[300:, 2][~flags[300:]]
    )
    assert reshaper.max_run_ == 10
    # No free run across the change is judged: its departure is the change.
    with_spans = ThresholdReshaper(forecaster, max_run=10, **fitted).fit(series.X_clean)
    assert with_spans.span_ is not None
    assert not with_spans.flag(X)[300 - with_spans.span_ : 310 + WINDOW, 2].any()
    assert ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean).max_run_ == 4 * WINDOW


# -- the action that chooses itself ------------------------------------------------

PERIOD = 8


def sine(n_rows, phase=0.0):
    return np.sin(2 * np.pi * np.arange(n_rows) / PERIOD + phase)[:, None]


@pytest.fixture(scope="module")
def sine_forecaster():
    """A Keras model that forecasts a sine of period 8 exactly, from its
    last two values: x_t = 2 cos(w) x_{t-1} - x_{t-2}."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    window = 6
    inputs = keras.Input((window, 1))
    last_two = keras.layers.Flatten()(keras.layers.Cropping1D((window - 2, 0))(inputs))
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, dense(last_two))
    dense.set_weights([np.array([[-1.0], [2 * np.cos(2 * np.pi / PERIOD)]])])
    return model


def test_auto_chooses_the_forecast_where_it_beats_interpolation(sine_forecaster):
    X = sine(400)
    X[[100, 200, 300]] += 3.0
    reshaper = ThresholdReshaper(sine_forecaster, random_state=0).fit(X)
    assert list(reshaper.repair_) == ["forecast"]
    errors = reshaper.repair_errors_
    assert errors["forecast"][0] < 1e-5 < errors["interpolate"][0]
    np.testing.assert_allclose(reshaper.transform(X), sine(400), atol=1e-5)


def test_auto_repairs_without_a_model_worse_than_persistence(series):
    from sklearn_lstm_reshape.models import make_forecaster

    untrained = make_forecaster(WINDOW, series.X.shape[1], units=4, predict_change=False)
    with pytest.warns(
        UserWarning,
        match=r"forecasts X worse than repeating the last value.* Train it longer, or on the "
        r"changes from one row to the next \(as the default model=None does on a series "
        r"that drifts\)",
    ):
        reshaper = ThresholdReshaper(untrained, random_state=0).fit(series.X)
    errors = reshaper.forecast_errors_
    assert (errors["model"] > errors["persistence"]).all()
    # Interpolation, or imputation from the features that move together,
    # whichever repaired the hidden values better: never the model.
    repair_errors = reshaper.repair_errors_
    assert "forecast" not in reshaper.repair_
    for feature, chosen in enumerate(reshaper.repair_):
        assert repair_errors[chosen][feature] == min(e[feature] for e in repair_errors.values())
        assert repair_errors["interpolate"][feature] < repair_errors["forecast"][feature]


def test_the_default_model_worse_than_persistence_gets_advice_that_fits_it():
    # A trend and a season with level shifts and spikes (as the repair
    # benchmark's CO2): the default forecaster, trained on the faults, forecasts
    # worse than the last value, and is not told to forecast changes, as it does.
    rows = np.arange(800)
    clean = (0.05 * rows + np.sin(2 * np.pi * rows / 52))[:, None]
    X = inject_anomalies(
        clean, anomaly_fraction=0.05, kinds=("level_shift", "spike"), random_state=0
    ).X
    with pytest.warns(UserWarning, match="forecasts X worse than repeating") as caught:
        reshaper = ThresholdReshaper(window=8, units=4, random_state=0).fit(X)
    message = next(str(w.message) for w in caught if "worse than repeating" in str(w.message))
    assert "The default model was trained on X itself" in message
    assert "raise epochs (now 10)" in message
    assert "as the default model=None does" not in message
    assert list(reshaper.repair_) == ["interpolate"]


def test_explicit_actions_are_kept(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, action="nan").fit(series.X)
    flags = reshaper.flag(series.X)
    np.testing.assert_array_equal(np.isnan(reshaper.transform(series.X)), flags)


@pytest.fixture(scope="module")
def mean_forecaster():
    """A Keras model that forecasts every feature's mean, 0: on white noise,
    better than repeating the last value, and no help in a repair."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    inputs = keras.Input((4, 2))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([np.zeros((8, 2))])
    return model


def mirrored_noise(n_rows, seed=0):
    """White noise, and a second feature that is minus the first: neither
    time nor a model tells a value, the other feature does."""
    rng = np.random.RandomState(seed)
    first = rng.normal(size=n_rows)
    return np.column_stack([first, -first + rng.normal(0, 0.01, n_rows)])


def test_auto_imputes_from_the_features_that_move_together(mean_forecaster):
    clean = mirrored_noise(400)
    X = clean.copy()
    X[[100, 200, 300], 0] += 12.0
    reshaper = ThresholdReshaper(mean_forecaster, random_state=0).fit(X)
    assert list(reshaper.repair_) == ["impute", "impute"]
    errors = reshaper.repair_errors_
    assert (errors["impute"] < 0.25 * np.minimum(errors["forecast"], errors["interpolate"])).all()
    flags = reshaper.flag(X)
    np.testing.assert_array_equal(np.flatnonzero(flags[:, 0]), [100, 200, 300])
    assert not flags[:, 1].any()
    np.testing.assert_allclose(reshaper.transform(X), clean, atol=0.05)


def test_impute_estimates_flagged_values_from_unflagged_ones(mean_forecaster):
    clean = mirrored_noise(400).astype(np.float32)
    X = clean.copy()
    X[150:153, 0] += 12.0  # a run: its own neighbours do not help
    X[[250, 350], 1] -= 12.0
    reshaper = ThresholdReshaper(mean_forecaster, action="impute", random_state=0).fit(X)
    X_new = reshaper.transform(X)
    flags = reshaper.flag(X)
    assert flags.sum() == 5
    assert X_new.dtype == np.float32
    np.testing.assert_array_equal(X_new[~flags], X[~flags])
    np.testing.assert_allclose(X_new[flags], clean[flags], atol=0.05)


def test_blend_is_the_mean_of_the_forecast_and_the_imputation(series, forecaster):
    fitted = {
        action: ThresholdReshaper(forecaster, action=action, random_state=0).fit(series.X)
        for action in ("forecast", "impute", "blend")
    }
    flags = fitted["blend"].flag(series.X)
    assert flags.any()
    assert fitted["blend"].imputer_ is not None
    np.testing.assert_array_equal(flags, fitted["forecast"].flag(series.X))
    repaired = {action: reshaper.transform(series.X) for action, reshaper in fitted.items()}
    np.testing.assert_array_equal(repaired["blend"][~flags], series.X[~flags])
    mean = (repaired["forecast"][flags] + repaired["impute"][flags]) / 2
    np.testing.assert_allclose(repaired["blend"][flags], mean, rtol=1e-6)
    assert not np.allclose(mean, repaired["forecast"][flags])
    # Not a candidate of action="auto" (see the action's documentation).
    assert set(fitted["blend"].repair_errors_) == {"forecast", "interpolate", "impute"}


def test_estimates_never_cross_a_floor_the_training_data_sit_on(mean_forecaster):
    # Rain-like: zero on half the rows, and read linearly from a mirror
    # feature, which puts the estimates of dry rows below zero.
    rng = np.random.RandomState(0)
    wet = rng.normal(size=400)
    clean = np.column_stack([np.maximum(wet, 0.0), -wet + rng.normal(0, 0.01, 400)])
    X = clean.copy()
    driest = np.argsort(wet[10:])[:3] + 10
    X[driest, 0] += 100.0  # past the fence of a feature mostly at zero
    X[5, 0] = -3.0  # a fault below the floor does not move it
    reshaper = ThresholdReshaper(mean_forecaster, action="impute", random_state=0).fit(X)
    flags = reshaper.flag(X)
    np.testing.assert_array_equal(np.flatnonzero(flags[:, 0]), np.sort(driest))
    unbounded = X.copy()
    reshaper._impute(X, unbounded, np.broadcast_to(flags, X.shape), flags)
    assert (unbounded[driest, 0] < -0.1).all()  # what the imputer alone estimates
    X_new = reshaper.transform(X)
    np.testing.assert_array_equal(X_new[driest, 0], 0.0)
    np.testing.assert_array_equal(X_new[~flags], X[~flags])
    # The mirror feature sits on no value: its estimates are not bounded.
    low, high = reshaper._repair_bounds
    np.testing.assert_array_equal(low, [0.0, -np.inf])
    np.testing.assert_array_equal(high, [np.inf, np.inf])
    # A forecast below the floor is held at it too.
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    inputs = keras.Input((4, 2))
    dense = keras.layers.Dense(2)
    below_zero = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([np.zeros((8, 2)), np.array([-1.0, 0.0])])
    forecast = ThresholdReshaper(below_zero, action="forecast", random_state=0).fit(X)
    flags = forecast.flag(X)
    assert flags[driest, 0].all()
    np.testing.assert_array_equal(forecast.transform(X)[flags[:, 0], 0], 0.0)
    # A blend is the mean of the two, each held at the floor before: on a
    # wet day's fault too, whose imputation lies above the floor.
    X[np.argmax(wet), 0] += 100.0
    fitted = {
        action: ThresholdReshaper(below_zero, action=action, random_state=0).fit(X)
        for action in ("forecast", "impute", "blend")
    }
    rows = fitted["blend"].flag(X)[:, 0]
    forecasts, imputations, blends = (
        reshaper.transform(X)[rows, 0] for reshaper in fitted.values()
    )
    assert (forecasts == 0.0).all() and (imputations > 1.0).any()
    np.testing.assert_allclose(blends, (forecasts + imputations) / 2, rtol=1e-6)


def test_impute_reads_the_rows_either_side_within_their_sequence():
    from sklearn_lstm_reshape._threshold import _neighbourhoods

    panel = np.arange(12.0).reshape(2, 3, 2)  # two sequences of three rows
    mask = np.zeros(panel.shape, dtype=bool)
    mask[0, 1, 1] = True
    # Rows 0 and 4 of the rows one after another: the first row of the first
    # sequence, and the second row of the second.
    rows = _neighbourhoods(panel, mask, np.array([0, 4]))
    nan = np.nan
    np.testing.assert_array_equal(
        rows,
        [
            [nan, nan, nan, nan, 0, 1, 2, nan, 4, 5],
            [nan, nan, 6, 7, 8, 9, 10, 11, nan, nan],
        ],
    )


def test_impute_row_by_row_is_the_iterative_imputers_transform():
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    from sklearn_lstm_reshape._threshold import _impute_rows

    rng = np.random.RandomState(0)
    A = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    A[rng.rand(*A.shape) < 0.2] = np.nan
    imputer = IterativeImputer(max_iter=3, n_nearest_features=4, random_state=0).fit(A[:200])
    rows = A[200:]
    np.testing.assert_allclose(_impute_rows(imputer, rows), imputer.transform(rows), rtol=1e-12)
    # Each row on its own, to the last bit.
    one_by_one = np.vstack([_impute_rows(imputer, row[None]) for row in rows])
    np.testing.assert_array_equal(one_by_one, _impute_rows(imputer, rows), strict=True)


def test_impute_after_fit_without_an_imputer_is_refused(series, forecaster, autoencoder):
    # A reconstruction gives action="auto" no choice to make: no imputer.
    reshaper = ThresholdReshaper(autoencoder, action="interpolate").fit(series.X)
    assert reshaper.repair_errors_ is None and reshaper.imputer_ is None
    reshaper.set_params(action="impute")
    with pytest.raises(
        ValueError,
        match=r"action='impute' estimates flagged values with an imputer that fit builds "
        r"for action='impute', 'blend' or 'auto' \(with a forecaster\), and this "
        r"ThresholdReshaper was fitted without one\. Call fit again with action='impute'\.",
    ):
        reshaper.transform(series.X)
    reshaper.set_params(action="blend")
    with pytest.raises(
        ValueError,
        match=r"action='blend' estimates flagged values with an imputer .* Call fit again "
        r"with action='blend'\.",
    ):
        reshaper.transform(series.X)
    # With a forecaster, fit measures every repair for action="auto", whatever
    # the action, and fits the imputer action="impute" uses.
    auto = ThresholdReshaper(forecaster, action="interpolate", random_state=0).fit(series.X)
    expected = ThresholdReshaper(forecaster, action="impute", random_state=0).fit(series.X)
    assert auto.imputer_ is not None
    flags = auto.flag(series.X)
    assert flags.any()
    imputed = auto.set_params(action="impute").transform(series.X)
    assert np.isfinite(imputed).all()
    np.testing.assert_array_equal(imputed[~flags], series.X[~flags])
    np.testing.assert_array_equal(imputed, expected.transform(series.X), strict=True)


def _drawn_blocks(reshaper, monkeypatch):
    """Record the hidden blocks each draw of ``_hidden_draws`` hides."""
    draws, draw = [], reshaper._hidden_blocks

    def recording(X, flags, random_state, lengths=None):
        hidden = draw(X, flags, random_state, lengths)
        if lengths is None and hidden is not None:  # not error growth's blocks
            draws.append(hidden)
        return hidden

    monkeypatch.setattr(reshaper, "_hidden_blocks", recording)
    return draws


def _n_blocks(hidden):
    """The hidden blocks of a series: runs of hidden rows, per column."""
    edges = np.diff(hidden.astype(np.int8), axis=0, prepend=0, append=0)
    return int((edges == 1).sum())


@pytest.mark.parametrize("enough", [20, 40])
def test_auto_draws_hidden_blocks_until_the_features_have_enough(
    series, forecaster, monkeypatch, enough
):
    import sklearn_lstm_reshape._threshold as threshold_module

    # 600 rows hold about ten blocks per feature at a time: one draw would
    # decide the repair on a handful of them.
    monkeypatch.setattr(threshold_module, "HIDDEN_BLOCKS", enough)
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, random_state=0)
    draws = _drawn_blocks(reshaper, monkeypatch)
    reshaper.fit(series.X)
    blocks = np.cumsum([_n_blocks(hidden) for hidden in draws])
    n_columns = series.X.shape[1]
    assert len(draws) > 1
    assert blocks[-1] >= enough * n_columns > blocks[-2]

    # Another action only reports the errors, from one draw.
    explicit = ThresholdReshaper(forecaster, window=WINDOW, action="forecast", random_state=0)
    draws = _drawn_blocks(explicit, monkeypatch)
    explicit.fit(series.X)
    assert len(draws) == 1


def test_a_panel_with_room_for_every_hidden_value_is_drawn_once(series, monkeypatch):
    # A panel hides single values in random columns: the draw stops once it
    # holds HIDDEN_BLOCKS per column on average, not in the least drawn one.
    panel = series.X[:480].reshape(20, 24, N_FEATURES)
    reshaper = ThresholdReshaper(units=8, epochs=2, random_state=0)
    draws = _drawn_blocks(reshaper, monkeypatch)
    reshaper.fit(panel)
    assert len(draws) == 1


def test_hidden_errors_are_pooled_over_every_hidden_value():
    from sklearn_lstm_reshape._threshold import _error_sums, _pooled_errors

    X = np.zeros((40, 2))
    first, second = np.zeros(X.shape, dtype=bool), np.zeros(X.shape, dtype=bool)
    first[2:4, 0] = first[10:11, 1] = True  # two values of feature 0, one of feature 1
    second[20:26, 0] = second[30:33, 1] = True  # six of feature 0, three of feature 1
    missed_by_3, nan_in_one = np.where(second, 3.0, 0.0), np.where(second, np.nan, 1.0)
    errors = _pooled_errors(
        [
            _error_sums(X, first, {"repair": X + 1, "nan": X + 1}),
            _error_sums(X, second, {"repair": X + missed_by_3, "nan": X + nan_in_one}),
        ]
    )
    # A mean over the values, not over the draws' means (1 and 3: 2 for both).
    np.testing.assert_allclose(errors["repair"], [(2 * 1 + 6 * 3) / 8, (1 + 3 * 3) / 4])
    # A repair that gave NaN for a hidden value in one draw is never chosen.
    assert np.isnan(errors["nan"]).all()


def _recorded_imputer_masks(reshaper, monkeypatch):
    """Record the values missing to each imputer ``fit`` fits."""
    missing, fit_imputer = [], reshaper._fit_imputer

    def recording(X, mask):
        missing.append(np.array(mask))
        return fit_imputer(X, mask)

    monkeypatch.setattr(reshaper, "_fit_imputer", recording)
    return missing


def test_each_imputer_that_measures_never_saw_the_values_it_repairs(
    series, forecaster, monkeypatch
):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, random_state=0)
    draws = _drawn_blocks(reshaper, monkeypatch)
    missing = _recorded_imputer_masks(reshaper, monkeypatch)
    reshaper.fit(series.X)
    assert len(draws) > 2
    # Two imputers measure, each with exactly its half of the draws missing.
    flags = np.broadcast_to(reshaper.flag(series.X), series.X.shape)
    for half, unseen in zip((draws[0::2], draws[1::2]), missing[:2], strict=True):
        np.testing.assert_array_equal(unseen, flags | np.logical_or.reduce(half))


def test_each_draw_is_imputed_with_only_its_own_values_and_the_flags_missing(
    series, forecaster, monkeypatch
):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, random_state=0)
    draws = _drawn_blocks(reshaper, monkeypatch)
    calls, impute = [], reshaper._impute

    def recording(X, X_new, mask, where):
        calls.append((np.array(mask), np.array(where)))
        return impute(X, X_new, mask, where)

    monkeypatch.setattr(reshaper, "_impute", recording)
    reshaper.fit(series.X)
    flags = np.broadcast_to(reshaper.flag(series.X), series.X.shape)
    assert len(calls) == len(draws) > 2
    # Imputed in halves: the even draws, then the odd ones.
    for (mask, where), hidden in zip(calls, draws[0::2] + draws[1::2], strict=True):
        np.testing.assert_array_equal(where, hidden)
        np.testing.assert_array_equal(mask, flags | hidden)


def test_a_feature_no_draw_measured_is_interpolated(series, forecaster, monkeypatch):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, random_state=0)
    draw = reshaper._hidden_blocks

    def none_in_the_last_feature(X, flags, random_state, lengths=None):
        hidden = draw(X, flags, random_state, lengths)
        if lengths is None and hidden is not None:
            hidden[:, -1] = False
        return hidden

    monkeypatch.setattr(reshaper, "_hidden_blocks", none_in_the_last_feature)
    reshaper.fit(series.X)
    assert np.isnan([errors[-1] for errors in reshaper.repair_errors_.values()]).all()
    assert reshaper.repair_[-1] == "interpolate"


def test_the_imputer_transform_applies_learns_from_every_unflagged_value(
    series, forecaster, monkeypatch
):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, action="impute", random_state=0)
    missing = _recorded_imputer_masks(reshaper, monkeypatch)
    reshaper.fit(series.X)
    flags = reshaper.flag(series.X)
    assert len(missing) == 2  # the one that measured, then the one transform applies
    assert missing[0].sum() > flags.sum()
    np.testing.assert_array_equal(missing[1], flags)


# -- scoring the repair on its own --------------------------------------------------


def test_score_measures_the_repair_of_hidden_values(sine_forecaster):
    X = sine(400)
    forecast = ThresholdReshaper(sine_forecaster, action="forecast", random_state=0).fit(X)
    interpolate = ThresholdReshaper(sine_forecaster, action="interpolate", random_state=0).fit(X)
    assert forecast.score(X) == pytest.approx(0.0, abs=1e-5)
    assert interpolate.score(X) < -0.05

    search = GridSearchCV(
        ThresholdReshaper(sine_forecaster, random_state=0),
        {"action": ["interpolate", "forecast"]},
        cv=[(np.arange(200), np.arange(200, 400))],
    ).fit(X)
    assert search.best_params_ == {"action": "forecast"}


def test_score_needs_a_repairing_action(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, action="nan").fit(series.X)
    with pytest.raises(ValueError, match="action='nan' leaves them NaN"):
        reshaper.score(series.X)


def test_score_hides_values_among_flags_when_flags_leave_no_room(series, forecaster):
    X = series.X[:80]
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, threshold=-1.0, max_run=len(X))
    assert np.isfinite(reshaper.fit(X).score(X))


def test_score_needs_rows_around_a_hidden_value(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    n_rows = 2 * WINDOW + 3
    with pytest.raises(ValueError, match=f"X has {n_rows} rows, too few to hide a value"):
        reshaper.score(series.X[:n_rows])
    assert np.isfinite(reshaper.score(series.X[: n_rows + 1]))


# -- thresholds without a contamination --------------------------------------------


def test_the_default_threshold_needs_no_contamination(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    flags = reshaper.flag(series.X)
    # Every injected fault found, and few false flags: far fewer than the 5 %
    # a fixed contamination would flag.
    assert (flags & series.mask).sum() == series.mask.sum()
    assert (flags & ~series.mask).sum() < 0.01 * flags.size
    assert reshaper.flagged_fraction_ < 0.02


def test_a_noisy_feature_does_not_swallow_the_rows_flagged(series, forecaster):
    X = series.X.copy()
    X[:, 0] += np.random.RandomState(0).normal(0, 20 * X[:, 0].std(), len(X))
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, per_feature=False).fit(X)
    assert (reshaper.score_scale_[0] > 20 * reshaper.score_scale_[1:]).all()
    assert reshaper.flag(X)[:, 0].mean() < 0.05


# -- warnings ------------------------------------------------------------------------


def test_transform_warns_when_it_flags_far_more_than_fit_did(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X_clean)
    noisy = series.X_clean + np.random.RandomState(0).normal(0, 0.5, series.X.shape)
    with pytest.warns(
        UserWarning, match=r"of the values of X are flagged, against .* of the training"
    ):
        reshaper.transform(noisy)
    with pytest.warns(UserWarning, match="of the values of X are flagged"):
        reshaper.flag(noisy)


def test_report_shows_the_model_against_the_naive_forecasts(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, period=50).fit(series.X)
    report = reshaper.report(series.X)
    errors = report["forecast_errors"]
    assert set(errors) == {"model", "persistence", "seasonal_naive"}
    assert errors["model"].shape == errors["seasonal_naive"].shape == (series.X.shape[1],)
    assert (errors["model"] < errors["persistence"]).all()
    assert report["repair"] is reshaper.repair_
    no_period = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    assert no_period.forecast_errors_["seasonal_naive"] is None


# -- the default forecaster ----------------------------------------------------------


def test_the_default_forecaster_follows_a_trend_beyond_the_training_range():
    from sklearn_lstm_reshape.models import train_forecaster

    t = np.arange(700.0)
    rng = np.random.RandomState(0)
    X = (0.05 * t + np.sin(2 * np.pi * t / 25) + rng.normal(0, 0.1, len(t)))[:, None]
    train, future = X[:500], X[500 - 12 :]  # the future lies above every training value
    windows = np.stack([future[i : i + 12] for i in range(len(future) - 12)])
    target = future[12:]
    persistence = np.abs(target - future[11:-1]).mean()
    errors = {}
    for predict_change in (True, False):
        model = train_forecaster(
            train, window=12, units=16, epochs=10, predict_change=predict_change, random_state=0
        )
        errors[predict_change] = np.abs(model.predict(windows, verbose=0) - target).mean()
    assert errors[True] < persistence < errors[False]


def _forecasts_changes(model):
    return any(layer.name == "change" for layer in model.layers)


def test_a_series_drifts_when_the_medians_of_its_halves_part():
    from sklearn_lstm_reshape.models import drifts

    t = np.arange(600.0)
    rng = np.random.RandomState(0)
    season = np.sin(2 * np.pi * t / 50) + rng.normal(0, 0.1, len(t))
    spiked = season.copy()
    spiked[rng.choice(len(t), 15, replace=False)] += 20  # faults do not make a drift
    step = season + 2.0 * (t >= 300)
    assert not drifts(np.column_stack([season, spiked]))
    assert drifts((season + 0.01 * t)[:, None])
    assert drifts(np.column_stack([season, step]))  # one feature is enough
    assert not drifts(season[:1, None])


def test_the_automatic_form_forecasts_changes_only_where_the_series_drifts():
    from sklearn_lstm_reshape.models import train_forecaster

    t = np.arange(400.0)
    season = np.sin(2 * np.pi * t / 25)[:, None]
    forms = {
        name: _forecasts_changes(
            train_forecaster(X, window=12, units=4, epochs=1, predict_change="auto", random_state=0)
        )
        for name, X in [("season", season), ("trend", season + 0.02 * t[:, None])]
    }
    assert forms == {"season": False, "trend": True}
    panel = np.stack([season[:40], season[40:80]])
    assert _forecasts_changes(train_forecaster(panel, units=4, epochs=1, predict_change="auto"))


@pytest.mark.parametrize("value", ["yes", None, 1])
def test_a_bad_forecaster_form_is_refused(value):
    from sklearn_lstm_reshape.models import train_forecaster

    with pytest.raises(ValueError, match=r"predict_change must be True, False or 'auto'; got "):
        train_forecaster(np.zeros((60, 1)), window=12, units=4, epochs=1, predict_change=value)


@pytest.mark.filterwarnings("ignore:The model forecasts X worse than repeating")
def test_the_default_model_forecasts_rows_unless_the_series_drifts(series):
    from sklearn_lstm_reshape import GenerativeReshaper

    t = np.arange(len(series.X), dtype=float)[:, None]
    settings = dict(window=WINDOW, units=4, epochs=1, random_state=0)
    level = ThresholdReshaper(**settings).fit(series.X)
    trend = ThresholdReshaper(**settings).fit(series.X + t * series.X.std(axis=0) / 50)
    assert not _forecasts_changes(level.model_)
    assert _forecasts_changes(trend.model_)
    # The other strategies keep the change form, which their figures measure;
    # a model cached for one is not handed to the other.
    generative = GenerativeReshaper(**settings).fit(series.X)
    assert _forecasts_changes(generative.model_)


@pytest.mark.parametrize("per_feature", [True, False])
def test_flags_found_a_block_of_rows_at_a_time_are_those_of_the_scores(
    series, forecaster, monkeypatch, per_feature
):
    import sklearn_lstm_reshape._threshold as threshold_module

    reshaper = ThresholdReshaper(forecaster, per_feature=per_feature, random_state=0)
    reshaper.fit(series.X)
    X = series.X.astype(np.float32)
    _, predictions = reshaper._prepare(X)
    whole = reshaper._flags(reshaper._scores(X, predictions))
    monkeypatch.setattr(threshold_module, "FLAG_BLOCK_ROWS", 37)  # many uneven blocks
    by_blocks = reshaper._flags_by_blocks(X, predictions)
    assert whole.any()
    np.testing.assert_array_equal(by_blocks, whole)
