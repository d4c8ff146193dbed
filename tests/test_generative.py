"""GenerativeReshaper: regeneration, conditions, determinism, integration, bad input."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline

from sklearn_lstm_reshape import GenerativeReshaper

from .conftest import N_FEATURES, WINDOW, model_weights

SMALL = dict(window=WINDOW, latent_dim=4, units=16, epochs=15, random_state=0)


@pytest.fixture(scope="module")
def fitted(series, forecaster):
    """A CVAE trained on the clean half of the series, conditioned on forecasts."""
    return GenerativeReshaper(forecaster, **SMALL).fit(series.X_clean[:300])


def test_shape_dtype_and_a_new_array(fitted, series):
    for X in (series.X[300:], series.X[300:].astype(np.float32)):
        X_new = fitted.transform(X)
        assert X_new.shape == X.shape and X_new.dtype == X.dtype
        assert not np.shares_memory(X_new, X)
    assert fitted.condition_shape_ == (N_FEATURES,)
    assert fitted.encoder_.input[0].shape[1:] == (WINDOW, N_FEATURES)


@pytest.mark.backend
def test_regeneration_under_the_prediction_is_close_to_X(fitted, series):
    X = series.X_clean[300:]
    report = fitted.report(X)
    assert report["condition_gap_before"] == 0.0
    assert report["reconstruction_error"] < 0.5 * np.abs(X - X.mean(axis=0)).mean()


def test_a_requested_condition_moves_the_predictions_towards_it(fitted, series):
    X = series.X_clean[300:]
    shifted = clone(fitted).set_params(condition=lambda p: p + 1.0).fit(series.X_clean[:300])
    report = shifted.report(X)
    assert report["condition_gap_before"] == pytest.approx(1.0)
    assert report["condition_gap_after"] < report["condition_gap_before"]


def with_condition(fitted, condition):
    """A copy of a fitted reshaper asking for another condition (read only in transform)."""
    return pickle.loads(pickle.dumps(fitted)).set_params(condition=condition)


def test_last_fold_follows_the_requested_condition_more_closely(fitted, series):
    X = series.X_clean[300:]
    requested = lambda p: p + 1.0  # noqa: E731
    unrefined = with_condition(fitted, requested).set_params(refine_steps=0)
    mean = unrefined.report(X)
    last = unrefined.set_params(overlap="last").report(X)
    assert last["condition_gap_after"] < mean["condition_gap_after"] < 1.0


def test_conditions_as_number_array_and_callable(fitted, series):
    X = series.X_clean[300:]
    as_number = with_condition(fitted, 0.5).transform(X)
    np.testing.assert_array_equal(
        as_number, with_condition(fitted, np.full(N_FEATURES, 0.5)).transform(X)
    )
    np.testing.assert_array_equal(
        as_number, with_condition(fitted, lambda p: np.full_like(p, 0.5)).transform(X)
    )
    assert not np.array_equal(as_number, fitted.transform(X))


def test_a_callable_condition_may_edit_its_argument_in_place(fitted, series):
    X = series.X_clean[300:]

    def plus_one_in_place(predictions):
        predictions += 1.0
        return predictions

    in_place = with_condition(fitted, plus_one_in_place)
    np.testing.assert_array_equal(
        in_place.transform(X), with_condition(fitted, lambda p: p + 1.0).transform(X)
    )
    # Twice, so an edit of the cached predictions would show.
    np.testing.assert_array_equal(in_place.transform(X), in_place.transform(X))


def test_sample_is_seeded_and_the_mean_is_deterministic(fitted, series):
    X = series.X[300:]
    np.testing.assert_array_equal(fitted.transform(X), fitted.transform(X))
    sampled = clone(fitted).set_params(stochastic=True).fit(series.X_clean[:300])
    np.testing.assert_array_equal(sampled.transform(X), sampled.transform(X))
    assert not np.array_equal(sampled.transform(X), fitted.transform(X))


def test_panel_with_the_default_model(series):
    panel = series.X_clean[:480].reshape(20, 24, N_FEATURES)
    gen = GenerativeReshaper(latent_dim=2, units=8, epochs=2, random_state=0).fit(panel)
    assert gen.window_ is None and gen.condition_shape_ == (24, N_FEATURES)
    assert gen.transform(panel).shape == panel.shape


def test_the_given_model_is_never_modified(fitted, forecaster, series):
    # fit trains the CVAE through a frozen copy of the model (the closed-loop
    # term); the model itself keeps its weights and its trainable flag.
    before = model_weights(forecaster)
    trained = clone(fitted).set_params(epochs=2).fit(series.X_clean[:200])
    trained.transform(series.X)
    for old, new in zip(before, model_weights(forecaster), strict=True):
        np.testing.assert_array_equal(old, new)
    assert forecaster.trainable
    assert trained.model_ is forecaster and clone(trained).model is forecaster


@pytest.mark.backend
def test_the_closed_loop_term_makes_the_decoder_obey_the_condition(fitted, series):
    # Regenerated (not edited) under a shifted forecast: the term is what
    # teaches the decoder that the condition matters. Unrefined, so that the
    # decoder is measured, not the search after it (which reaches the
    # condition from either decoding).
    X = series.X_clean[300:]
    gaps = {}
    for weight in (0.0, 1.0):
        gen = clone(fitted).set_params(
            condition=lambda p: p + 1.0,
            condition_weight=weight,
            mode="regenerate",
            overlap="last",
            refine_steps=0,
        )
        gaps[weight] = gen.fit(series.X_clean[:300]).report(X)["condition_gap_after"]
    assert gaps[1.0] < 0.9 * gaps[0.0]


def test_on_the_bundled_weather_the_requested_forecast_is_approached():
    from sklearn_lstm_reshape.datasets import load_seattle_weather
    from sklearn_lstm_reshape.models import train_forecaster

    X = load_seattle_weather().data
    X_train, X_test = X[:1100], X[1100:]
    lstm = train_forecaster(X_train, window=14, units=16, epochs=10, random_state=0)
    gen = GenerativeReshaper(
        lstm, window=14, latent_dim=8, epochs=20, condition=lambda p: 0.8 * p, random_state=0
    )
    report = gen.fit(X_train).report(X_test)
    assert report["condition_gap_after"] < 0.25 * report["condition_gap_before"]
    # Editing changes X less than regenerating it does.
    regenerated = gen.set_params(mode="regenerate").report(X_test)
    assert report["mean_abs_change"] < regenerated["mean_abs_change"]


def test_pickle_round_trip_is_bit_identical(fitted, series):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(series.X), fitted.transform(series.X))


def test_pandas_in_and_out(fitted, series):
    frame = pd.DataFrame(series.X_clean[:300], columns=["a", "b", "c"])
    gen = clone(fitted).set_params(epochs=1).set_output(transform="pandas").fit(frame)
    result = gen.transform(frame)
    assert isinstance(result, pd.DataFrame) and list(result.columns) == ["a", "b", "c"]


def test_grid_search_over_latent_dim_and_beta_in_parallel(series, forecaster):
    X, y = series.X_clean, series.X_clean[:, 0]
    pipe = make_pipeline(
        GenerativeReshaper(forecaster, window=WINDOW, units=4, epochs=1, random_state=0), Ridge()
    )
    search = GridSearchCV(
        pipe,
        {"generativereshaper__latent_dim": [2, 4], "generativereshaper__beta": [0.5, 2.0]},
        cv=TimeSeriesSplit(2),
        n_jobs=2,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_bad_input(fitted, series):
    X = series.X[300:].copy()
    with_nan = X.copy()
    with_nan[5, 0] = np.nan
    cases = [
        (with_nan, "Input X contains NaN"),
        (X[:, :2], "X has 2 features, but GenerativeReshaper is expecting 3 features"),
        (X[: WINDOW - 1], f"window={WINDOW} needs at least {WINDOW} rows"),
    ]
    for bad, message in cases:
        before = bad.copy()
        with pytest.raises(ValueError, match=message):
            fitted.transform(bad)
        np.testing.assert_array_equal(bad, before)
    wrong = with_condition(fitted, np.zeros(5))
    with pytest.raises(ValueError, match=r"condition gives shape \(5,\), which does not fit"):
        wrong.transform(X)
    with pytest.raises(NotFittedError):
        GenerativeReshaper().transform(X)
    with pytest.raises(ValueError, match="The 'beta' parameter of GenerativeReshaper"):
        GenerativeReshaper(beta=-1.0).fit(X)


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda X: X[:, 0], "X must be 2-D .* got a 1-D array .* Reshape your data"),
        (lambda X: X[None, None], "X must be 2-D .* got a 4-D array"),
        (lambda X: X.astype(str).astype(object) + "m", "X must hold numbers only"),
        (lambda X: X[:0], r"0 sample\(s\)"),
        (lambda X: np.where(np.arange(len(X))[:, None] == 3, np.inf, X), "contains infinity"),
    ],
)
def test_more_bad_input_to_fit_and_transform(fitted, series, forecaster, make_bad, message):
    bad = make_bad(series.X[300:])
    before = bad.copy()
    with pytest.raises(ValueError, match=message):
        fitted.transform(bad)
    with pytest.raises(ValueError, match=message):
        GenerativeReshaper(forecaster, **SMALL).fit(bad)
    np.testing.assert_array_equal(bad, before)


def test_data_the_model_or_the_fit_cannot_take(fitted, series, forecaster):
    with pytest.raises(ValueError, match="X has 2 features, but the model takes windows of 3"):
        GenerativeReshaper(forecaster, **SMALL).fit(series.X[:, :2].copy())
    with pytest.raises(ValueError, match="window=12, but the model takes windows of 8"):
        GenerativeReshaper(forecaster, **{**SMALL, "window": 12}).fit(series.X)
    frame = pd.DataFrame(series.X_clean[:300], columns=["a", "b", "c"])
    gen = GenerativeReshaper(forecaster, **{**SMALL, "epochs": 1}).fit(frame)
    with pytest.raises(ValueError, match="feature names should match"):
        gen.transform(frame.rename(columns={"c": "d"}))


def test_a_model_that_cannot_be_copied_needs_condition_weight_and_refine_steps_zero(series):
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()

    class Forecaster(keras.Model):  # subclassed, without get_config: not cloneable
        def __init__(self):
            super().__init__()
            self.lstm = keras.layers.LSTM(4)
            self.head = keras.layers.Dense(N_FEATURES)

        def call(self, windows):
            return self.head(self.lstm(windows))

    model = Forecaster()
    model(np.zeros((1, WINDOW, N_FEATURES), dtype=np.float32))
    X = series.X_clean[:100]
    gen = GenerativeReshaper(model, window=WINDOW, latent_dim=2, units=4, epochs=1)
    with pytest.raises(ValueError, match="or pass condition_weight=0 to train without"):
        gen.fit(X)
    gen.set_params(condition_weight=0.0, condition=lambda p: p + 1.0).fit(X)
    with pytest.raises(ValueError, match="or pass refine_steps=0 to return the decoded windows"):
        gen.transform(X)
    assert gen.set_params(refine_steps=0).transform(X).shape == X.shape


# -- sample(): new windows, no X --------------------------------------------------


def test_sample_draws_windows_of_the_training_shape_seeded(fitted):
    windows, conditions = fitted.sample(50, random_state=0)
    assert windows.shape == (50, WINDOW, N_FEATURES) and windows.dtype == np.float32
    assert conditions.shape == (50, N_FEATURES) and conditions.dtype == np.float32
    again, same_conditions = fitted.sample(50, random_state=0)
    np.testing.assert_array_equal(again, windows)
    np.testing.assert_array_equal(same_conditions, conditions)
    assert not np.array_equal(fitted.sample(50, random_state=1)[0], windows)
    assert fitted.sample()[0].shape == (1, WINDOW, N_FEATURES)


def test_sample_follows_the_requested_condition(fitted):
    from sklearn_lstm_reshape._predict import predict_windows

    typical = fitted.training_conditions_
    spread = typical.std(axis=0)

    def predicted(windows):
        return predict_windows(fitted.model_, windows, batch_size=256)

    own = predicted(fitted.sample(300, random_state=0)[0]).mean(axis=0)
    windows, conditions = fitted.sample(300, condition=lambda p: p + spread, random_state=0)
    assert np.all(predicted(windows).mean(axis=0) > own)
    np.testing.assert_allclose(
        conditions, fitted.sample(300, random_state=0)[1] + spread, rtol=1e-6
    )
    lower = fitted.sample(300, condition=typical.mean(axis=0) - spread, random_state=0)[0]
    assert np.all(predicted(lower).mean(axis=0) < own)


def test_sampled_windows_vary_from_step_to_step_as_the_training_windows_do(fitted, series):
    from sklearn_lstm_reshape._windows import sliding_windows

    def roughness(windows):
        return np.diff(windows, axis=1).std(axis=(0, 1))

    real = roughness(sliding_windows(series.X_clean[:300], WINDOW))
    drawn, _ = fitted.sample(300, random_state=0)
    means_only = pickle.loads(pickle.dumps(fitted))
    means_only.residuals_ = None
    decoded, _ = means_only.sample(300, random_state=0)
    # Measured: decoded 0.53-0.76 of the real roughness, drawn 1.24-1.44.
    assert np.all(roughness(decoded) < 0.8 * real)
    assert np.all(roughness(decoded) < roughness(drawn))
    assert np.all((0.8 * real < roughness(drawn)) & (roughness(drawn) < 1.6 * real))
    assert fitted.residuals_.shape == (300 - WINDOW + 1, WINDOW, N_FEATURES)


def test_the_residual_bank_is_bounded_in_values(fitted, series, monkeypatch):
    from sklearn_lstm_reshape import _generative

    monkeypatch.setattr(_generative, "MAX_RESIDUAL_VALUES", 50 * WINDOW * N_FEATURES)
    reshaper = clone(fitted).set_params(epochs=1).fit(series.X_clean[:300])
    assert reshaper.residuals_.shape == (50, WINDOW, N_FEATURES)
    assert reshaper.sample(3, random_state=0)[0].shape == (3, WINDOW, N_FEATURES)


def test_sampled_values_stay_in_the_training_range_and_keep_to_its_floor(series, forecaster):
    X = series.X_clean[:300].copy()
    floor = np.quantile(X[:, 0], 0.4)
    X[:, 0] = np.maximum(X[:, 0], floor)  # 40 % of the rows at the floor, as a rain gauge's zero
    reshaper = GenerativeReshaper(forecaster, **SMALL).fit(X)
    low, high = X.min(axis=0).astype(np.float32), X.max(axis=0).astype(np.float32)
    windows, _ = reshaper.sample(200, random_state=0)
    assert np.all((windows >= low) & (windows <= high))
    unrefined, _ = (
        pickle.loads(pickle.dumps(reshaper)).set_params(refine_steps=0).sample(200, random_state=0)
    )
    at_floor = unrefined[..., 0] == low[0]
    assert at_floor.mean() > 0.1  # measured 0.155, against 0.40 in X
    np.testing.assert_array_equal(windows[..., 0][at_floor], low[0])
    assert not np.array_equal(windows, unrefined)


def test_an_edit_keeps_to_the_training_range_and_x_beyond_it_goes_no_further(fitted, series):
    X = series.X_clean[300:].copy()
    X[:5, 1] = fitted.data_max_[1] + 1.0  # already beyond the range
    far = with_condition(fitted, lambda p: p + 3.0)
    floor = np.minimum(X, fitted.data_min_)
    ceiling = np.maximum(X, fitted.data_max_)
    for steps in (0, 20):
        edited = far.set_params(refine_steps=steps).transform(X)
        assert np.all((edited >= floor) & (edited <= ceiling))
    free = far.set_params(bounds=None).transform(X)
    assert np.mean((free < floor) | (free > ceiling)) > 0.01


def test_sample_keeps_to_given_bounds(fitted):
    low, high = fitted.data_min_ / 2, fitted.data_max_ / 2
    windows, _ = (
        with_condition(fitted, "prediction")
        .set_params(bounds=(low, high))
        .sample(50, random_state=0)
    )
    assert np.all((windows >= low.astype(np.float32)) & (windows <= high.astype(np.float32)))
    assert np.any(windows == low.astype(np.float32))


def test_bad_bounds_are_refused(series, forecaster):
    with pytest.raises(ValueError, match=r"bounds holds NaN or a low above its high"):
        GenerativeReshaper(forecaster, bounds=(1.0, 0.0), **SMALL).fit(series.X_clean[:100])


def test_sample_draws_its_conditions_from_the_training_predictions(fitted):
    rng = np.random.RandomState(0)
    drawn = fitted._sample_conditions(None, 40, rng)
    known = {tuple(row) for row in fitted.training_conditions_}
    assert all(tuple(row) in known for row in drawn)
    assert fitted.classes_ is None  # a forecaster: an int is a number, not a class
    np.testing.assert_array_equal(fitted._sample_conditions(2, 3, rng), np.full((3, N_FEATURES), 2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=0), "n_samples must be a positive int; got 0"),
        (dict(n_samples=True), "n_samples must be a positive int; got True"),
        (dict(condition=np.zeros(N_FEATURES + 1)), r"condition gives shape \(4,\), which does not"),
    ],
)
def test_sample_refuses_bad_arguments(fitted, kwargs, message):
    kwargs = {"n_samples": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        fitted.sample(**kwargs)


def test_sample_needs_a_fitted_reshaper():
    with pytest.raises(NotFittedError):
        GenerativeReshaper().sample(3)


@pytest.fixture(scope="module")
def fitted_on_classes(series):
    """A CVAE conditioned on the class probabilities of a classifier of bumps."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    X = rng.normal(scale=0.3, size=(200, 12, 2)).astype(np.float32)
    X[labels == 1, 4:8, 0] += 1.5
    keras.utils.set_random_seed(0)
    classifier = keras.Sequential(
        [keras.Input((12, 2)), keras.layers.LSTM(8), keras.layers.Dense(2, activation="softmax")]
    )
    classifier.compile("adam", "sparse_categorical_crossentropy")
    classifier.fit(X, labels, epochs=30, batch_size=16, verbose=0)
    return GenerativeReshaper(classifier, latent_dim=4, units=16, epochs=20, random_state=0).fit(X)


def test_sample_takes_a_class_for_a_classifier(fitted_on_classes):
    from sklearn_lstm_reshape.metrics import predicted_class

    reshaper = fitted_on_classes
    np.testing.assert_array_equal(reshaper.classes_, [0, 1])
    rng = np.random.RandomState(0)
    for label in (0, 1):
        conditions = reshaper._sample_conditions(label, 30, rng)
        assert np.all(predicted_class(conditions) == label)
    per_window = reshaper._sample_conditions(np.array([0, 1, 1]), 3, rng)
    np.testing.assert_array_equal(predicted_class(per_window), [0, 1, 1])
    windows, conditions = reshaper.sample(5, condition=1, random_state=0)
    assert windows.shape == (5, 12, 2)
    assert np.all(predicted_class(conditions) == 1)
    with pytest.raises(ValueError, match=r"condition names class 2, but the model predicts"):
        reshaper.sample(2, condition=2)


def test_sample_says_when_no_training_window_has_the_class(fitted_on_classes):
    from sklearn_lstm_reshape.metrics import predicted_class

    reshaper = pickle.loads(pickle.dumps(fitted_on_classes))
    conditions = reshaper.training_conditions_
    reshaper.training_conditions_ = conditions[predicted_class(conditions) == 0]
    with pytest.raises(ValueError, match="predicts class 1 for none of the training windows"):
        reshaper.sample(2, condition=1)


@pytest.mark.backend
def test_the_refinement_puts_sampled_windows_on_their_condition(fitted):
    from sklearn_lstm_reshape._predict import predict_windows
    from sklearn_lstm_reshape.metrics import condition_gap

    scale = fitted.prediction_scale_
    request = dict(condition=lambda p: p + scale, random_state=0)
    refined, conditions = fitted.sample(200, **request)
    decoded, _ = (
        with_condition(fitted, "prediction").set_params(refine_steps=0).sample(200, **request)
    )
    gaps = [
        condition_gap(
            predict_windows(fitted.model_, windows, batch_size=256), conditions, scale=scale
        )[0]
        for windows in (decoded, refined)
    ]
    assert gaps[1] < 0.5 * gaps[0]
    assert gaps[1] < 2 * fitted.tol


# Every forecast +1 sd is, on the peaks of this seasonal series, above any
# forecast of the fitted rows: tests of the refinement itself lift the bound.
UNBOUNDED = dict(bounds=None)


def test_the_refinement_puts_the_windows_of_a_series_on_their_condition(fitted, series):
    X = series.X_clean[300:]
    scale = fitted.prediction_scale_
    reshaper = with_condition(fitted, lambda p: p + scale).set_params(**UNBOUNDED)
    folded = reshaper.set_params(refine_steps=0).report(X)
    refined = reshaper.set_params(refine_steps=100).report(X)
    assert refined["condition_gap_after"] < 0.5 * folded["condition_gap_after"]
    assert refined["condition_gap_after"] < 2 * fitted.tol * scale.mean()


def test_the_refinement_moves_a_panel_toward_a_requested_class(fitted_on_classes):
    from sklearn_lstm_reshape._predict import predict_windows
    from sklearn_lstm_reshape.metrics import predicted_class

    reshaper = pickle.loads(pickle.dumps(fitted_on_classes))
    rng = np.random.default_rng(1)
    X = rng.normal(scale=0.3, size=(60, 12, 2)).astype(np.float32)  # class 0 days
    flip = dict(condition=np.array([0.0, 1.0]))
    hits = []
    for steps in (0, 100):
        X_new = reshaper.set_params(refine_steps=steps, **flip).transform(X)
        hits.append(
            np.mean(predicted_class(predict_windows(reshaper.model_, X_new, batch_size=64)) == 1)
        )
    assert hits[1] >= 0.9
    assert hits[1] > hits[0]


# -- generator="cgan" --------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_gan(series, forecaster):
    """A conditional GAN trained on the clean half of the series (a GAN needs
    more steps than the CVAE: 5 batches an epoch here)."""
    gan = GenerativeReshaper(forecaster, generator="cgan", **dict(SMALL, epochs=60))
    return gan.fit(series.X_clean[:300])


def test_the_gan_has_a_generator_of_noise_per_timestep_and_no_encoder(fitted_gan, series):
    assert fitted_gan.encoder_ is None
    assert fitted_gan.decoder_.inputs[0].shape[1:] == (WINDOW, SMALL["latent_dim"])
    X = series.X_clean[300:]
    X_new = fitted_gan.transform(X)
    assert X_new.shape == X.shape and np.isfinite(X_new).all()
    windows, conditions = fitted_gan.sample(7, random_state=0)
    assert windows.shape == (7, WINDOW, N_FEATURES) and conditions.shape == (7, N_FEATURES)


@pytest.mark.backend
def test_the_gan_is_seeded_pickled_and_its_noise_drawn_per_window(fitted_gan, series):
    X = series.X_clean[300:]
    X_new = fitted_gan.transform(X)
    np.testing.assert_array_equal(fitted_gan.transform(X), X_new)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted_gan)).transform(X), X_new)
    refit = clone(fitted_gan).fit(series.X_clean[:300])
    np.testing.assert_array_equal(refit.transform(X), X_new)
    reseeded = clone(fitted_gan).set_params(random_state=1).fit(series.X_clean[:300])
    assert not np.array_equal(reseeded.transform(X), X_new)
    # The noise of a window does not depend on the windows around it (up to the
    # rounding of another batch size, which TensorFlow shows).
    unrefined = with_condition(fitted_gan, "prediction").set_params(refine_steps=0)
    np.testing.assert_allclose(
        unrefined.transform(X[:100])[:50], unrefined.transform(X[:150])[:50], rtol=0, atol=1e-5
    )


@pytest.mark.backend
def test_the_gan_learns_the_distribution_of_the_windows(fitted_gan, series):
    from sklearn_lstm_reshape._windows import sliding_windows

    real = sliding_windows(series.X_clean[:300], WINDOW)
    untrained = clone(fitted_gan).set_params(epochs=1).fit(series.X_clean[:300])
    std = real.std(axis=(0, 1))

    def miss(reshaper):
        unrefined = pickle.loads(pickle.dumps(reshaper)).set_params(refine_steps=0)
        generated, _ = unrefined.sample(500, random_state=0)
        mean_miss = np.abs(generated.mean(axis=(0, 1)) - real.mean(axis=(0, 1))) / std
        spread = generated.std(axis=(0, 1)) / std
        return mean_miss.max(), np.abs(np.log(spread)).max()

    trained_miss, untrained_miss = miss(fitted_gan), miss(untrained)
    assert trained_miss[0] < 0.25 and trained_miss[1] < np.log(1.5)
    assert trained_miss[0] + trained_miss[1] < untrained_miss[0] + untrained_miss[1]


def test_the_gan_edit_and_its_refinement_move_predictions_to_the_request(fitted_gan, series):
    X = series.X_clean[300:]
    scale = fitted_gan.prediction_scale_
    reshaper = with_condition(fitted_gan, lambda p: p + scale).set_params(**UNBOUNDED)
    edited = reshaper.set_params(refine_steps=0).report(X)
    refined = reshaper.set_params(refine_steps=100).report(X)
    assert edited["condition_gap_after"] < edited["condition_gap_before"]
    assert refined["condition_gap_after"] < 2 * fitted_gan.tol * scale.mean()


def test_the_gan_runs_in_a_grid_search_over_the_generator(series, forecaster):
    X, y = series.X_clean, series.X_clean[:, 0]
    pipe = make_pipeline(
        GenerativeReshaper(forecaster, window=WINDOW, units=4, epochs=1, random_state=0), Ridge()
    )
    search = GridSearchCV(
        pipe,
        {"generativereshaper__generator": ["cvae", "cgan"]},
        cv=TimeSeriesSplit(2),
        n_jobs=2,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_the_gan_refuses_a_bad_generator_name(series):
    with pytest.raises(ValueError, match="'generator' parameter of GenerativeReshaper must be"):
        GenerativeReshaper(generator="gan").fit(series.X_clean[:100])


# -- score(): realism and obedience in one number ------------------------------------


def test_score_is_one_minus_the_condition_gap_and_twice_the_discriminative_score(fitted, series):
    from sklearn_lstm_reshape._predict import predict_windows
    from sklearn_lstm_reshape._windows import sliding_windows
    from sklearn_lstm_reshape.metrics import condition_gap, discriminative_score

    X = series.X_clean[300:]
    reshaper = with_condition(fitted, lambda p: p + fitted.prediction_scale_)
    real = sliding_windows(X, WINDOW)
    predictions = predict_windows(fitted.model_, real, batch_size=256)
    requested = predictions + fitted.prediction_scale_
    generated, _ = reshaper.sample(len(real), condition=requested, random_state=0)
    gap = condition_gap(
        predict_windows(fitted.model_, generated, batch_size=256),
        requested,
        scale=fitted.prediction_scale_,
    )[0]
    realism = discriminative_score(real, generated, random_state=0)
    assert reshaper.score(X) == pytest.approx(1 - gap - 2 * realism, abs=1e-6)
    assert -1.5 < reshaper.score(X) <= 1


def test_score_lets_a_grid_search_choose_the_generator(series, forecaster):
    X = series.X_clean
    search = GridSearchCV(
        GenerativeReshaper(forecaster, window=WINDOW, units=4, epochs=2, random_state=0),
        {"generator": ["cvae", "cgan"]},
        cv=TimeSeriesSplit(2),
        n_jobs=2,
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and search.best_params_["generator"] in ("cvae", "cgan")
    assert search.best_score_ == scores.max()


def test_auto_epochs_train_the_gan_on_a_small_data_set_for_at_least_2000_batches():
    reshaper = GenerativeReshaper(generator="cgan")
    assert reshaper.epochs == "auto"
    assert reshaper._training_epochs(67) == 1000  # two batches of 64 an epoch
    assert reshaper._training_epochs(1_077) == 118  # 17 batches an epoch
    assert reshaper._training_epochs(100_000) == 30
    assert reshaper.set_params(epochs=5)._training_epochs(67) == 5
    assert GenerativeReshaper()._training_epochs(67) == 30  # the CVAE: 30
    with pytest.raises(ValueError, match="'epochs' parameter of GenerativeReshaper must be"):
        GenerativeReshaper(epochs="many").fit(np.zeros((50, 2)))
