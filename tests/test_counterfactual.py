"""CounterfactualReshaper: classifiers, regressors, series, targets, bad input."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline

from sklearn_lstm_reshape import CounterfactualReshaper
from sklearn_lstm_reshape import _optimize as optimize_module
from sklearn_lstm_reshape._windows import sliding_windows
from sklearn_lstm_reshape.metrics import lof_outliers, predicted_class, proximity

from .conftest import WINDOW

STEPS = 16
FEATURES = 2


def two_classes(n, random_state):
    """Sequences of noise; class 1 has a bump in its middle third."""
    rng = np.random.default_rng(random_state)
    labels = rng.integers(0, 2, n)
    X = rng.normal(scale=0.3, size=(n, STEPS, FEATURES)).astype(np.float32)
    X[labels == 1, 5:11, 0] += 1.5
    return X, labels


@pytest.fixture(scope="module")
def classes():
    return two_classes(160, 0)


@pytest.fixture(scope="module")
def classifier(classes):
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((STEPS, FEATURES)),
            keras.layers.LSTM(8),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(*classes, epochs=40, batch_size=16, verbose=0)
    return model


@pytest.fixture(scope="module")
def fitted(classifier, classes):
    return CounterfactualReshaper(classifier).fit(classes[0][:120])


@pytest.fixture(scope="module")
def held_out(classes):
    return classes[0][120:]


def with_params(fitted, **params):
    return pickle.loads(pickle.dumps(fitted)).set_params(**params)


def test_the_classifier_is_good_enough_to_explain(classifier, classes):
    X, labels = classes
    accuracy = np.mean(predicted_class(classifier.predict(X[120:], verbose=0)) == labels[120:])
    assert accuracy > 0.9


@pytest.mark.backend
def test_every_counterfactual_flips_the_class(fitted, held_out, classifier):
    assert list(fitted.classes_) == [0, 1] and fitted.prediction_scale_ is None
    X_cf = fitted.transform(held_out)
    before = predicted_class(classifier.predict(held_out, verbose=0))
    after = predicted_class(classifier.predict(X_cf, verbose=0))
    assert np.all(after == 1 - before)
    report = fitted.report(held_out)
    assert report["validity"] == report["searched_validity"] == 1.0
    assert report["validity_before"] == 0.0
    np.testing.assert_array_equal(report["targets"], 1 - before)


def test_a_segment_swap_changes_few_timesteps_and_refining_brings_it_closer(fitted, held_out):
    swapped = with_params(fitted, steps=0).report(held_out)
    # Without the other terms, a refinement only returns steps of less change.
    refined = with_params(fitted, sparsity=0.0, plausibility=0.0).report(held_out)
    neighbours = with_params(fitted, start="neighbour", steps=0).report(held_out)
    assert swapped["validity"] == refined["validity"] == neighbours["validity"] == 1.0
    assert swapped["changed_timesteps"] < 0.6 < neighbours["changed_timesteps"]
    assert refined["changed_timesteps"] <= swapped["changed_timesteps"]
    assert refined["l2"] < swapped["l2"] <= neighbours["l2"]


def test_the_refinement_only_moves_the_swapped_timesteps(fitted, held_out):
    # plausibility=0: no result is replaced by a more plausible one.
    swapped = with_params(fitted, steps=0).transform(held_out)
    refined = with_params(fitted, plausibility=0.0).transform(held_out)
    untouched = np.all(swapped == held_out, axis=2)
    np.testing.assert_array_equal(refined[untouched], held_out[untouched])


def test_every_counterfactual_changes_one_stretch_of_timesteps(fitted, held_out):
    # A refined swap, or a swap that replaced an implausible result.
    changed = np.any(fitted.transform(held_out) != held_out, axis=2)
    for steps in changed:
        where = np.flatnonzero(steps)
        assert len(where) and where[-1] - where[0] + 1 == len(where)


def test_results_that_are_outliers_of_the_target_class_are_replaced(fitted, held_out):
    # plausibility=0 turns the replacement off; a tiny weight turns it on and
    # leaves the refinement as it was.
    off = with_params(fitted, plausibility=0.0)
    on = with_params(fitted, plausibility=1e-9)
    X_off, X_on = off.transform(held_out), on.transform(held_out)
    targets = off.report(held_out)["targets"]
    by_class = dict(
        target=targets, reference_classes=predicted_class(fitted.reference_predictions_)
    )
    outliers = lof_outliers(X_off, fitted.reference_, **by_class)
    assert outliers.mean() >= 0.2  # there is something to replace
    assert lof_outliers(X_on, fitted.reference_, **by_class).mean() <= outliers.mean() / 2
    assert on.report(held_out)["validity"] == 1.0
    # Results that were plausible keep their distance.
    np.testing.assert_allclose(X_on[~outliers], X_off[~outliers], atol=1e-4)


def test_the_unlike_neighbour_is_the_nearest_training_sequence_of_the_target(
    fitted, held_out, classifier
):
    X_cf = with_params(fitted, start="neighbour", steps=0).transform(held_out[:5])
    reference = fitted.reference_
    reference_classes = predicted_class(fitted.reference_predictions_)
    targets = 1 - predicted_class(classifier.predict(held_out[:5], verbose=0))
    for instance, found, target in zip(held_out[:5], X_cf, targets, strict=True):
        candidates = reference[reference_classes == target]
        distances = np.linalg.norm((candidates - instance).reshape(len(candidates), -1), axis=1)
        np.testing.assert_array_equal(found, candidates[np.argmin(distances)])


def test_an_instance_already_at_its_target_comes_back_unchanged(fitted, held_out, classifier):
    own = predicted_class(classifier.predict(held_out, verbose=0))
    X_new = with_params(fitted, target=lambda p: predicted_class(p)).transform(held_out)
    np.testing.assert_array_equal(X_new, held_out)
    mixed = own.copy()
    mixed[::2] = 1 - mixed[::2]
    X_new = with_params(fitted, target=mixed).transform(held_out)
    np.testing.assert_array_equal(X_new[1::2], held_out[1::2])
    assert not np.array_equal(X_new[::2], held_out[::2])


def test_a_min_probability_is_met(fitted, held_out, classifier):
    X_cf = with_params(fitted, min_probability=0.9).transform(held_out)
    probabilities = classifier.predict(X_cf, verbose=0)
    targets = 1 - predicted_class(classifier.predict(held_out, verbose=0))
    assert np.all(probabilities[np.arange(len(targets)), targets] >= 0.9)


@pytest.mark.backend
def test_the_latent_space_search_is_valid_and_reports_its_own_figures(classifier, classes):
    latent = CounterfactualReshaper(
        classifier, space="latent", latent_dim=4, units=8, epochs=3, random_state=0
    ).fit(classes[0][:120])
    report = latent.report(classes[0][120:])
    assert report["validity"] == 1.0
    assert report["reconstruction_error"] > 0 and 0 <= report["latent_fallbacks"] <= 40
    assert latent.code_scale_.shape == (4,)
    assert CounterfactualReshaper(classifier).fit(classes[0][:120]).decoder_ is None


def test_a_regressor_reaches_numeric_targets_and_holds_other_outputs(forecaster, series):
    panel = np.ascontiguousarray(sliding_windows(series.X_clean, WINDOW)[::3])
    # More than half of these requests are above every forecast on the 100
    # fitted windows, which their range cannot reach: no bound.
    cf = CounterfactualReshaper(forecaster, tol=0.2, bounds=None).fit(panel[:100])
    assert cf.classes_ is None and cf.prediction_scale_.shape == (3,)
    report = cf.report(panel[100:140])
    assert report["validity_before"] == 0.0
    assert report["validity"] >= 0.9
    # A request about one output: the others stay within tol of where they were.
    one = cf.set_params(target=lambda p: p + np.array([1.0, 0.0, 0.0]) * cf.prediction_scale_)
    after = one.report(panel[100:140])
    held = np.abs(after["predictions_after"] - after["predictions_before"])[:, 1:]
    unit = cf.prediction_scale_
    reached = after["predictions_after"][:, 0] >= after["targets"][:, 0] - 0.2 * unit[0]
    assert np.all(held[reached] <= 0.2 * cf.prediction_scale_[1:] + 1e-6)


# The series tests of the search itself ask every forecast +1 sd, which on
# the peaks of this seasonal series is above any forecast of the fitted
# rows: their range cannot reach it, so they lift the bound (UNBOUNDED).
UNBOUNDED = dict(bounds=None)


def test_a_series_request_survives_because_the_rows_are_searched(forecaster, series):
    X = series.X_clean
    cf = CounterfactualReshaper(forecaster, **UNBOUNDED).fit(X[:300])
    report = cf.report(X[300:420])
    assert report["validity_before"] == 0.0
    assert report["validity"] >= 0.9
    # The returned series is the searched one: the model finds what the search found.
    assert report["validity"] == pytest.approx(report["searched_validity"], abs=0.02)


def test_a_series_counterfactual_keeps_to_the_range_seen_in_fit(forecaster, series):
    X = series.X_clean
    far = 3.0 * forecaster.predict(sliding_windows(X[:300], WINDOW), verbose=0).std(axis=0)
    bounded = CounterfactualReshaper(forecaster, target=lambda p: p + far).fit(X[:300])
    low, high = bounded.data_min_, bounded.data_max_
    np.testing.assert_array_equal(low, X[:300].min(axis=0))
    held_out = X[300:420]
    floor, ceiling = np.minimum(held_out, low), np.maximum(held_out, high)
    result = bounded.transform(held_out)
    assert np.all((result >= floor) & (result <= ceiling))
    # The request is far enough that an unbounded search leaves the range.
    free = bounded.set_params(bounds=None).transform(held_out)
    assert np.mean((free < floor) | (free > ceiling)) > 0.01


def test_a_series_searched_in_many_blocks_is_reached_at_the_block_edges(
    forecaster, series, monkeypatch
):
    # Blocks of 24 windows: the first windows of each block read rows that the
    # block before wrote and holds, and only their last rows are free.
    monkeypatch.setattr(optimize_module, "SEARCH_BATCH_SIZE", 24)
    X = series.X_clean[300:420]
    cf = CounterfactualReshaper(forecaster, **UNBOUNDED).fit(series.X_clean[:300])
    windows = sliding_windows(X, WINDOW)
    before = forecaster.predict(windows, verbose=0)
    after = forecaster.predict(sliding_windows(cf.transform(X), WINDOW), verbose=0)
    reached = np.all(
        np.abs(after - (before + cf.prediction_scale_)) <= 0.1 * cf.prediction_scale_, axis=1
    )
    assert reached.mean() >= 0.9
    edges = np.arange(24, len(windows) - 24, 24)
    assert reached[edges].mean() >= 0.8


def search_toy_series(series, search):
    """``search_series`` on a one-feature series whose every window asks for
    1, reached when the window's last row is within 0.1 of it."""
    return optimize_module.search_series(
        series,
        lambda first, last: np.ones((last - first, 1)),
        window=3,
        predict=lambda windows: windows[:, -1, :],
        reached=lambda outputs, aims: np.abs(outputs - aims)[:, 0] < 0.1,
        search=search,
    )


def test_the_last_block_keeps_the_better_of_its_two_searches(monkeypatch):
    # 20 rows, windows of 3, blocks of 8 windows: blocks at 0, 8 and 10 (the
    # last overlaps the one before). A window is reached when its last row is
    # 1; this search writes 1 into the free rows only when there are few.
    monkeypatch.setattr(optimize_module, "SEARCH_BATCH_SIZE", 8)
    series = np.zeros((20, 1))
    held_rows = []

    def search(rows, aims, mask):
        held_rows.append(int(np.argmax(mask[0, :, 0] > 0)))
        value = 1.0 if mask.sum() <= 4 else 0.5
        return np.where(mask > 0, value, rows)

    done = search_toy_series(series, search)
    # The second block holds the rows of the first's windows; the last is
    # searched free of the rows the second wrote (held: 2), then holding them
    # (held: 8), which reached more, so it is the one kept.
    assert held_rows == [0, 2, 2, 8]
    np.testing.assert_array_equal(series[:, 0], [0.5] * 18 + [1.0] * 2)
    np.testing.assert_array_equal(done, [False] * 16 + [True] * 2)


def test_the_last_block_is_searched_once_when_its_free_search_reaches_every_window(
    monkeypatch,
):
    monkeypatch.setattr(optimize_module, "SEARCH_BATCH_SIZE", 8)
    series = np.zeros((20, 1))
    held_rows = []

    def search(rows, aims, mask):
        held_rows.append(int(np.argmax(mask[0, :, 0] > 0)))
        return np.where(mask > 0, 1.0, rows)

    done = search_toy_series(series, search)
    # Every search reaches all its windows, so the last block, free of the
    # rows the second wrote (held: 2), is not searched again holding them.
    assert held_rows == [0, 2, 2]
    assert done.all()
    np.testing.assert_array_equal(series[:, 0], 1.0)


def test_a_series_request_about_some_rows_holds_the_others(forecaster, series):
    X = series.X_clean[300:420]
    rows = np.arange(60, 80)
    cf = CounterfactualReshaper(forecaster, rows=rows, steps=200, **UNBOUNDED)
    cf.fit(series.X_clean[:300])
    X_new = cf.transform(X)
    windows = sliding_windows(X, WINDOW)
    before = forecaster.predict(windows, verbose=0)
    after = forecaster.predict(sliding_windows(X_new, WINDOW), verbose=0)
    requested = np.zeros(len(windows), bool)
    requested[rows - (WINDOW - 1)] = True
    miss = np.abs(after - before) / cf.prediction_scale_
    assert np.mean(np.all(miss[~requested] <= cf.tol, axis=1)) >= 0.9
    change = after[requested] - before[requested]
    assert np.mean(np.abs(change - cf.prediction_scale_) <= 0.1 * cf.prediction_scale_) > 0.8
    report = cf.report(X)
    assert report["targets"].shape == (len(rows), 3)


def test_score_is_validity_minus_the_rms_change(fitted, held_out):
    X_cf = fitted.transform(held_out)
    rms = np.sqrt(np.mean(np.square((X_cf - held_out) / fitted.feature_scale_), axis=(1, 2)))
    assert fitted.score(held_out) == pytest.approx(1.0 - rms.mean(), rel=1e-5)
    assert with_params(fitted, steps=0).score(held_out) < fitted.score(held_out)


def test_a_grid_search_tunes_the_search_on_its_own(classifier, classes):
    grid = GridSearchCV(
        CounterfactualReshaper(classifier),
        {"proximity": [0.1, 1.0], "steps": [0, 30]},
        cv=2,
    ).fit(classes[0][:80])
    assert grid.best_params_["steps"] == 30


@pytest.mark.backend
def test_transform_is_deterministic_and_leaves_x_alone(fitted, held_out):
    X = held_out.copy()
    first = fitted.transform(X)
    np.testing.assert_array_equal(X, held_out)
    np.testing.assert_array_equal(first, clone(fitted).fit(fitted.reference_).transform(X))
    assert proximity(held_out, first) > 0


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(target=2), r"target holds class 2, but the model has 2 classes \(0 to 1\)"),
        (dict(target=0.5), r"target must give class indices for a classifier; got"),
        (dict(target=[0, 1, 0]), r"target gives 3 class indices for 40 instances"),
    ],
)
def test_bad_targets_of_a_classifier(fitted, held_out, params, message):
    with pytest.raises(ValueError, match=message):
        with_params(fitted, **params).transform(held_out)


def test_given_bounds_hold_and_values_already_beyond_them_move_no_further(fitted, held_out):
    low, high = np.array([-0.5, -0.6]), np.array([0.8, 0.7])
    result = with_params(fitted, bounds=(low, high)).transform(held_out)
    low, high = low.astype(held_out.dtype), high.astype(held_out.dtype)  # X's precision
    floor, ceiling = np.minimum(held_out, low), np.maximum(held_out, high)
    assert np.all((result >= floor) & (result <= ceiling))
    assert np.any(result != held_out)


@pytest.mark.parametrize(
    "bounds, message",
    [
        ((0.0, 1.0, 2.0), r"bounds has 3 items, not 2; pass bounds=\(low, high\) with a number"),
        (([0.0, 0.0, 0.0], 1.0), r"bounds cannot be read per feature"),
        ((1.0, 0.0), r"bounds holds NaN or a low above its high"),
        (([0.0, np.nan], 1.0), r"bounds holds NaN or a low above its high"),
    ],
)
def test_bad_bounds(classifier, classes, bounds, message):
    with pytest.raises(ValueError, match=message):
        CounterfactualReshaper(classifier, bounds=bounds).fit(classes[0][:40])


def test_min_probability_is_refused_for_a_regressor(forecaster, series):
    with pytest.raises(ValueError, match=r"min_probability=0.9 applies to a classifier"):
        CounterfactualReshaper(forecaster, min_probability=0.9).fit(series.X_clean[:100])


@pytest.mark.parametrize(
    "rows, message",
    [
        (np.ones(5, bool), r"rows is a boolean mask of shape \(5,\); it must have one value"),
        (np.array([0.5]), r"rows must be row indices \(int\) or a boolean mask"),
        (np.array([2]), r"rows must lie in \[7, 120\)"),
    ],
)
def test_bad_rows(forecaster, series, rows, message):
    cf = CounterfactualReshaper(forecaster, rows=rows).fit(series.X_clean[:300])
    with pytest.raises(ValueError, match=message):
        cf.transform(series.X_clean[300:420])


# -- scikit-learn integration ------------------------------------------------------


def test_in_a_pipeline_before_a_regressor_and_in_a_parallel_grid_search(forecaster, series):
    X = series.X_clean[:300]
    y = np.roll(X[:, 0], -1)
    pipe = make_pipeline(CounterfactualReshaper(forecaster, steps=5), Ridge())
    grid = GridSearchCV(
        pipe, {"counterfactualreshaper__proximity": [0.5, 1.0]}, cv=TimeSeriesSplit(2), n_jobs=2
    ).fit(X, y)
    serial = GridSearchCV(
        pipe, {"counterfactualreshaper__proximity": [0.5, 1.0]}, cv=TimeSeriesSplit(2)
    ).fit(X, y)
    assert grid.best_params_ == serial.best_params_
    np.testing.assert_allclose(
        grid.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_clone_shares_the_model_and_pickle_gives_the_same_counterfactuals(fitted, held_out):
    assert clone(fitted).model is fitted.model
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(held_out), fitted.transform(held_out))
    np.testing.assert_array_equal(restored.reference_, fitted.reference_)


def test_pandas_in_and_out(forecaster, series):
    frame = pd.DataFrame(series.X_clean[:200], columns=["temp", "wind", "rain"])
    cf = CounterfactualReshaper(forecaster, steps=5).set_output(transform="pandas")
    result = cf.fit(frame).transform(frame.iloc[100:])
    assert isinstance(result, pd.DataFrame) and list(result.columns) == ["temp", "wind", "rain"]
    assert result.index.equals(frame.index[100:])


def test_a_keras_file_path_gives_the_same_counterfactuals(classifier, classes, tmp_path):
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    X = classes[0]
    from_path = CounterfactualReshaper(str(path)).fit(X[:120]).transform(X[120:])
    np.testing.assert_array_equal(
        from_path, CounterfactualReshaper(classifier).fit(X[:120]).transform(X[120:])
    )
