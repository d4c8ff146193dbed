"""What a hostile or careless caller does: threads, parameters changed after
fit, data far from the training data, huge values, broken model files."""

import pickle
import random
import re
import threading
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_lstm_reshape import (
    CounterfactualReshaper,
    GenerativeReshaper,
    LatentReshaper,
    ThresholdReshaper,
    _keras,
    clear_cache,
)

from .conftest import WINDOW, model_weights

TINY = dict(units=4, epochs=1, random_state=0)
CODED = dict(latent_dim=2, **TINY)


def in_threads(function, n_threads=4):
    """``function(i)`` for i < n_threads, all started together; results and errors."""
    results, errors = [None] * n_threads, []
    start = threading.Barrier(n_threads)

    def run(i):
        start.wait()
        try:
            results[i] = function(i)
        except Exception as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def estimators(forecaster):
    return [
        ThresholdReshaper(window=WINDOW, **TINY),
        ThresholdReshaper(forecaster),
        GenerativeReshaper(forecaster, condition=lambda p: p + 0.5, **CODED),
        LatentReshaper(window=WINDOW, **CODED),
        LatentReshaper(forecaster, edit="optimize", target=lambda p: p + 0.5, steps=5, **CODED),
        CounterfactualReshaper(forecaster, steps=5),
    ]


# -- threads -----------------------------------------------------------------------


@pytest.mark.parametrize("index", range(6))
def test_threads_transforming_one_fitted_estimator_get_the_serial_result(index, series, forecaster):
    X = series.X[:200]
    reshaper = estimators(forecaster)[index].fit(X)
    expected = reshaper.transform(X)
    clear_cache()  # every thread runs the networks, none finds a cached result
    results, errors = in_threads(lambda i: reshaper.transform(X))
    assert errors == []
    for result in results:
        np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(reshaper.transform(X), expected)  # not broken afterwards


def test_threads_fitting_clones_that_share_a_frozen_model(series, forecaster):
    X = series.X[:200]
    reshaper = LatentReshaper(forecaster, edit="shift", **CODED)
    expected = clone(reshaper).fit(X).transform(X)
    clear_cache()
    results, errors = in_threads(lambda i: clone(reshaper).fit(X).transform(X))
    assert errors == []
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_pickling_waits_while_another_thread_is_inside_the_model(series, forecaster):
    # Keras empties a model's variables while it predicts, so a model pickled
    # meanwhile (a dask worker sending the estimator to another worker while
    # it transforms a chunk) failed with "'NoneType' object is not callable".
    reshaper = LatentReshaper(forecaster, edit="shift", **CODED).fit(series.X[:200])
    inside, leave = threading.Event(), threading.Event()

    def predicting():
        with _keras.model_lock(forecaster):
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=predicting)
    holder.start()
    inside.wait(30)
    pickled = []
    pickler = threading.Thread(target=lambda: pickled.append(pickle.dumps(reshaper)))
    pickler.start()
    pickler.join(0.5)
    waited = not pickled
    leave.set()
    holder.join()
    pickler.join()
    assert waited
    restored = pickle.loads(pickled[0])
    assert restored.model is restored.model_  # one model, as before pickling
    np.testing.assert_array_equal(
        restored.transform(series.X[200:]), reshaper.transform(series.X[200:])
    )


@pytest.mark.parametrize("generator", ["random", "numpy"])
def test_a_seeded_training_is_the_same_while_another_thread_draws_random_numbers(series, generator):
    # A dask worker's own threads draw from Python's and NumPy's global
    # generators while a task trains: the seeds of Keras's initialisers and
    # the shuffle of the epochs must not come from there.
    X = series.X[:200]
    reshaper = ThresholdReshaper(None, random_state=0)
    expected = model_weights(clone(reshaper).fit(X).model_)
    draw = random.random if generator == "random" else np.random.random
    stop = threading.Event()

    def keep_drawing():
        while not stop.is_set():
            draw()

    drawing = threading.Thread(target=keep_drawing)
    drawing.start()
    try:
        clear_cache()  # a model trained again, not found in the cache
        weights = model_weights(clone(reshaper).fit(X).model_)
    finally:
        stop.set()
        drawing.join()
    for got, want in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(got, want)


# -- parameters changed after fit ----------------------------------------------------

# A new value for every parameter of every estimator. Fit-time parameters
# (False) make transform refuse to run; the others (True) may be changed after
# fit and give what a fit with the new value gives.
AFTER_FIT = {
    ThresholdReshaper: {
        "model": (None, False),
        "window": (None, False),
        "score_by": ("output", False),
        "threshold": (0.5, False),
        "contamination": (0.2, False),
        "side": ("both", False),
        "per_feature": (False, False),
        "max_run": (10, False),
        "hysteresis": (1.0, False),
        "span": (None, False),
        "stuck": (4, False),
        "period": (7, False),
        "units": (5, False),
        "epochs": (2, False),
        "random_state": (1, False),
        "action": ("interpolate", True),
        "factor": (0.25, True),
        "add_indicator": (True, True),
        "predict_batch_size": (64, True),
        "batch_size": (64, True),
        "verbose": (0, True),
    },
    GenerativeReshaper: {
        "model": (None, False),
        "window": (None, False),
        "generator": ("cgan", False),
        "latent_dim": (3, False),
        "units": (5, False),
        "beta": (0.5, False),
        "condition_weight": (0.5, False),
        "epochs": (2, False),
        "batch_size": (16, False),
        "condition": (1.0, True),
        "overlap": ("last", True),
        "fold": ("last", True),
        "mode": ("regenerate", True),
        "residual": (False, True),
        "stochastic": (True, True),
        "refine_steps": (3, True),
        "bounds": (None, True),
        "tol": (0.5, True),
        "predict_batch_size": (64, True),
        "verbose": (0, True),
        "random_state": (1, True),  # the draws of transform only
    },
    LatentReshaper: {
        "model": (None, False),
        "autoencoder": ("unset", False),
        "window": (None, False),
        "latent_dim": (3, False),
        "units": (5, False),
        "epochs": (2, False),
        "batch_size": (16, False),
        "edit": ("shift", True),
        "scale": (0.25, True),
        "target": (lambda p: p - 0.5, True),
        "space": ("input", True),
        "steps": (3, True),
        "learning_rate": (0.05, True),
        "proximity": (0.5, True),
        "tol": (0.5, True),
        "overlap": ("last", True),
        "fold": ("last", True),
        "mode": ("edit", True),
        "residual": (True, True),
        "predict_batch_size": (64, True),
        "verbose": (0, True),
        "random_state": (1, True),  # the draws of transform only
    },
    CounterfactualReshaper: {
        "model": (None, False),
        "space": ("latent", False),
        "autoencoder": ("unset", False),
        "window": (None, False),
        "latent_dim": (3, False),
        "units": (5, False),
        "epochs": (2, False),
        "batch_size": (16, False),
        "random_state": (1, False),
        "target": (lambda p: p - 0.5, True),
        "start": ("input", True),
        "rows": (np.arange(100, 120), True),
        "steps": (3, True),
        "learning_rate": (0.1, True),
        "bounds": ((-1.0, 1.0), True),
        "proximity": (0.5, True),
        "sparsity": (0.0, True),
        "plausibility": (0.5, True),
        "tol": (0.5, True),
        "min_probability": (0.9, True),  # refused for a forecaster, after fit as in fit
        "predict_batch_size": (64, True),
        "verbose": (0, True),
    },
}
BEFORE = {
    # A seed: action="auto" draws the values it hides in fit.
    ThresholdReshaper: dict(window=WINDOW, random_state=0),
    GenerativeReshaper: dict(window=WINDOW, condition=lambda p: p + 0.5, **CODED),
    LatentReshaper: dict(
        window=WINDOW, edit="optimize", target=lambda p: p + 0.5, steps=5, **CODED
    ),
    CounterfactualReshaper: dict(window=WINDOW, steps=5, **CODED),
}
CASES = [
    (cls, name, value, allowed)
    for cls, params in AFTER_FIT.items()
    for name, (value, allowed) in params.items()
]


def test_every_parameter_has_a_case():
    for cls, params in AFTER_FIT.items():
        assert set(params) == set(cls().get_params()), cls.__name__


@pytest.mark.parametrize(
    "cls, name, value, allowed",
    CASES,
    ids=[f"{cls.__name__}-{name}" for cls, name, _, _ in CASES],
)
def test_a_parameter_set_after_fit_is_used_or_refused(
    cls, name, value, allowed, series, forecaster
):
    X = series.X[:150]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the renamed parameters
        fitted = cls(forecaster, **BEFORE[cls]).fit(X)
        changed = clone(fitted).set_params(**{name: value})
        fitted.set_params(**{name: value})
        if not allowed:
            message = (
                rf"{cls.__name__} was fitted with {name}=.*, and what fit learned depends "
                rf"on it; it is now {name}=.*\. Call fit again"
            )
            with pytest.raises(ValueError, match=message):
                fitted.transform(X)
            return
        if name == "random_state":  # only the draws change, not the fitted networks
            fitted.transform(X)
            return
        try:
            expected = changed.fit(X).transform(X)
        except ValueError as error:  # a value refused in fit is refused after fit too
            with pytest.raises(ValueError, match=re.escape(str(error))):
                fitted.transform(X)
            return
        if name in ("predict_batch_size", "batch_size"):  # float32 sums of other batches
            np.testing.assert_allclose(fitted.transform(X), expected, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(fitted.transform(X), expected)


def test_a_threshold_side_changed_after_fit_is_refused_not_mixed(series, forecaster):
    reshaper = ThresholdReshaper(forecaster).fit(series.X)
    reshaper.set_params(side="both")
    with pytest.raises(ValueError, match=r"fitted with side='upper'.*now side='both'"):
        reshaper.transform(series.X)
    with pytest.raises(ValueError, match="Call fit again"):
        reshaper.flag(series.X)
    reshaper.set_params(side="upper")  # the old value back: usable again
    assert reshaper.transform(series.X).shape == series.X.shape


def test_an_array_parameter_edited_in_place_after_fit_is_noticed(series, forecaster):
    threshold = np.full(series.X.shape[1], 0.5)
    reshaper = ThresholdReshaper(forecaster, threshold=threshold).fit(series.X)
    threshold[0] = 5.0
    with pytest.raises(ValueError, match="fitted with threshold=array"):
        reshaper.transform(series.X)


# -- model files -----------------------------------------------------------------------


def broken_model_files(directory, forecaster):
    saved = directory / "saved.keras"
    forecaster.save(saved)
    (directory / "folder.keras").mkdir()
    (directory / "notes.keras").write_text("not a model")
    (directory / "cut.keras").write_bytes(saved.read_bytes()[:300])
    with zipfile.ZipFile(directory / "other.keras", "w") as archive:
        archive.writestr("data.csv", "1,2\n")
    return directory


@pytest.mark.parametrize(
    "name, message",
    [
        ("folder", "is a directory, not a .keras file"),
        ("notes", "is not a Keras archive: a .keras file is a zip archive"),
        ("cut", "is not a Keras archive: .*a copy cut short"),
        ("other", r"a zip archive without a Keras model in it \(no config.json; it holds data.csv"),
        ("missing", "does not exist"),
    ],
)
def test_a_path_that_holds_no_model_says_what_it_holds(name, message, tmp_path, forecaster, series):
    path = broken_model_files(tmp_path, forecaster) / f"{name}.keras"
    with pytest.raises(ValueError, match=message):
        ThresholdReshaper(str(path)).fit(series.X)


# -- huge values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reshaper",
    [
        ThresholdReshaper(window=WINDOW, **TINY),
        GenerativeReshaper(window=WINDOW, **CODED),
        LatentReshaper(window=WINDOW, **CODED),
    ],
    ids=lambda reshaper: type(reshaper).__name__,
)
@pytest.mark.parametrize("fill", [1e30, -1e12])
def test_a_fill_value_in_training_data_is_refused(reshaper, fill, series):
    # 1e30 gave a NaN threshold and networks returning NaN for ordinary data.
    X = series.X[:200].astype(np.float32)
    X[50, 1] = fill
    message = re.escape(f"X holds {fill:.3g} (feature 1, row 50; 1 such")
    with pytest.raises(ValueError, match=message):
        clone(reshaper).fit(X)


def test_an_outlier_that_is_a_measurement_is_accepted(series):
    X = series.X[:200].copy()
    X[50, 1] = 1e3 * np.abs(X).max()  # far out, but within what float32 networks take
    X[60:, 2] += 50.0  # and a level shift is no fill value either
    assert ThresholdReshaper(window=WINDOW, **TINY).fit(X).threshold_.shape == (3,)


@pytest.mark.parametrize(
    "reshaper",
    [
        ThresholdReshaper(window=WINDOW, **TINY),
        GenerativeReshaper(window=WINDOW, **CODED),
        LatentReshaper(window=WINDOW, **CODED),
    ],
    ids=lambda reshaper: type(reshaper).__name__,
)
def test_huge_values_in_transform_data_give_finite_results(reshaper, series):
    X = series.X[:200].astype(np.float32)
    fitted = clone(reshaper).fit(X)
    X_huge = X.copy()
    X_huge[50, 1] = 1e30
    assert np.isfinite(fitted.transform(X_huge)).all()


# -- data far from the training data ----------------------------------------------------


def test_data_on_another_scale_warns_and_names_the_features(series, forecaster):
    reshaper = ThresholdReshaper(forecaster).fit(series.X[:300])
    message = (
        r"X lies far outside the data ThresholdReshaper was fitted on: feature 0 "
        r"\(\d+% outside \[.*\]\), feature 1 .* Transform data on the training data's scale"
    )
    with pytest.warns(UserWarning, match=message):
        reshaper.transform(10 * series.X[300:])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        reshaper.transform(series.X[300:])  # held-out data on the same scale: silent


def test_the_scale_warning_names_dataframe_columns(series, forecaster):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(series.X, columns=["a", "b", "c"])
    reshaper = LatentReshaper(window=WINDOW, **CODED).fit(frame)
    shifted = frame.assign(b=frame["b"] + 100.0)
    with pytest.warns(UserWarning, match=r"fitted on: b \(100% outside"):
        reshaper.transform(shifted)


# -- memory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reshaper",
    [
        ThresholdReshaper(),
        # A few refinement steps: the refinement's arrays are measured, and
        # its default 100 steps would search each block of windows 20 times longer.
        GenerativeReshaper(condition=0.5, refine_steps=5, **CODED),
        GenerativeReshaper(mode="regenerate", stochastic=True, refine_steps=5, **CODED),
        LatentReshaper(edit="shift", mode="edit", **CODED),
    ],
    ids=lambda reshaper: type(reshaper).__name__,
)
def test_transforming_a_long_series_holds_a_few_times_X(reshaper, forecaster):
    # The windows of a series would be window (8) times its bytes, several
    # times over; transform rewrites them batch by batch instead. tracemalloc
    # sees every NumPy allocation (not the networks' own working memory,
    # which does not grow with the series: benchmarks/bench_memory.py
    # measures the whole resident memory).
    rng = np.random.default_rng(0)
    X = np.sin(np.arange(200_000)[:, None] / [20.0, 35.0, 50.0]).astype(np.float32)
    X += 0.1 * rng.standard_normal(X.shape, dtype=np.float32)
    reshaper = clone(reshaper).set_params(model=forecaster).fit(X[:2_000])
    reshaper.transform(X[:5_000])  # compiles the forward passes
    clear_cache()
    tracemalloc.start()
    try:
        reshaper.transform(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * X.nbytes


@pytest.mark.parametrize(
    "reshaper",
    [
        GenerativeReshaper(condition=0.5, **CODED),
        GenerativeReshaper(mode="regenerate", stochastic=True, **CODED),
        LatentReshaper(edit="noise", **CODED),
        LatentReshaper(edit="shift", mode="edit", overlap="last", **CODED),
    ],
    ids=lambda reshaper: type(reshaper).__name__,
)
def test_the_result_does_not_depend_on_how_transform_batches_the_windows(
    reshaper, forecaster, monkeypatch
):
    from sklearn_lstm_reshape import _base

    rng = np.random.default_rng(1)
    X = np.sin(np.arange(20_000)[:, None] / [20.0, 35.0, 50.0]) + rng.normal(0, 0.1, (20_000, 3))
    reshaper = clone(reshaper).set_params(model=forecaster).fit(X[:2_000])
    in_large_batches = reshaper.transform(X)
    # Batches of 512 windows instead of 8,192: the folds meet at other rows,
    # and the random draws are made for other batches of windows.
    monkeypatch.setattr(_base, "REWRITE_TIMESTEPS", 512 * WINDOW)
    monkeypatch.setattr(reshaper, "predict_batch_size", 512)
    in_small_batches = reshaper.transform(X)
    np.testing.assert_allclose(in_small_batches, in_large_batches, rtol=1e-5, atol=1e-6)
