"""ThresholdReshaper inside scikit-learn's tools: pipelines, model selection,
cloning, pickling, saved models and pandas."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline

from sklearn_lstm_reshape import ThresholdReshaper

from .conftest import N_FEATURES, WINDOW


@pytest.fixture(scope="module")
def regression(series):
    """X with anomalies, and a target computed from the clean series."""
    y = series.X_clean[:, 0] + 0.5 * series.X_clean[:, 1]
    return series.X, y


def test_pipeline_with_a_downstream_regressor(regression, forecaster):
    X, y = regression
    pipe = make_pipeline(ThresholdReshaper(forecaster, window=WINDOW), Ridge()).fit(X, y)
    repaired_score = pipe.score(X, y)
    raw_score = Ridge().fit(X, y).score(X, y)
    assert repaired_score > raw_score


def test_grid_search_in_parallel_over_time_series_folds(regression, forecaster):
    X, y = regression
    pipe = make_pipeline(ThresholdReshaper(forecaster, window=WINDOW), SimpleImputer(), Ridge())
    grid = {
        "thresholdreshaper__contamination": [0.01, 0.05],
        "thresholdreshaper__action": ["forecast", "interpolate", "nan"],
    }
    search = GridSearchCV(pipe, grid, cv=TimeSeriesSplit(3), n_jobs=2).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (6,)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_.named_steps["thresholdreshaper"]
    assert best.model_ is not None and best.threshold_.shape == (N_FEATURES,)


def test_grid_search_with_the_default_model(regression):
    X, y = regression
    pipe = make_pipeline(
        ThresholdReshaper(window=WINDOW, units=4, epochs=1, random_state=0), Ridge()
    )
    search = GridSearchCV(
        pipe, {"thresholdreshaper__contamination": [0.01, 0.05]}, cv=TimeSeriesSplit(2), n_jobs=2
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cross_val_score(regression, forecaster):
    X, y = regression
    pipe = make_pipeline(
        ThresholdReshaper(forecaster, window=WINDOW, action="interpolate"), Ridge()
    )
    scores = cross_val_score(pipe, X, y, cv=TimeSeriesSplit(3))
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_clone_shares_the_frozen_model_and_keeps_the_output_config(forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, contamination=0.1)
    reshaper.set_output(transform="pandas")
    copy = clone(reshaper)
    assert copy.model is forecaster
    assert copy.get_params() == reshaper.get_params()
    assert copy._sklearn_output_config == {"transform": "pandas"}


def test_pickle_round_trip_gives_bit_identical_transforms(series):
    reshaper = ThresholdReshaper(window=WINDOW, units=8, epochs=1, random_state=0)
    expected = reshaper.fit_transform(series.X)
    restored = pickle.loads(pickle.dumps(reshaper))
    assert restored.model_ is not reshaper.model_
    np.testing.assert_array_equal(restored.threshold_, reshaper.threshold_)
    np.testing.assert_array_equal(restored.transform(series.X), expected)


def test_pickle_round_trip_with_a_given_model(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    restored = pickle.loads(pickle.dumps(reshaper))
    assert restored.model is restored.model_  # pickled once, still one object
    np.testing.assert_array_equal(restored.transform(series.X), reshaper.transform(series.X))


def test_a_keras_file_path_gives_the_same_result_as_the_model(series, forecaster, tmp_path):
    path = tmp_path / "forecaster.keras"
    forecaster.save(path)
    from_path = ThresholdReshaper(str(path), window=WINDOW).fit(series.X)
    from_model = ThresholdReshaper(forecaster, window=WINDOW).fit(series.X)
    np.testing.assert_array_equal(from_path.transform(series.X), from_model.transform(series.X))
    # Estimators naming the same unchanged file share one loaded model.
    assert ThresholdReshaper(path, window=WINDOW).fit(series.X).model_ is from_path.model_
    assert pickle.loads(pickle.dumps(from_path)).model == str(path)


def test_a_keras_file_path_may_start_with_the_home_directory(
    series, forecaster, tmp_path, monkeypatch
):
    forecaster.save(tmp_path / "forecaster.keras")
    monkeypatch.setenv("HOME", str(tmp_path))
    reshaper = ThresholdReshaper("~/forecaster.keras", window=WINDOW).fit(series.X)
    assert reshaper.model == "~/forecaster.keras"  # the parameter is kept as given
    np.testing.assert_array_equal(
        reshaper.transform(series.X),
        ThresholdReshaper(forecaster, window=WINDOW).fit_transform(series.X),
    )


def test_pandas_in_and_out(series, forecaster):
    frame = pd.DataFrame(
        series.X,
        columns=["temp", "wind", "rain"],
        index=pd.date_range("2026-01-01", periods=len(series.X), freq="h"),
    )
    reshaper = ThresholdReshaper(forecaster, window=WINDOW, add_indicator=True)
    result = reshaper.set_output(transform="pandas").fit_transform(frame)
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == [
        "temp",
        "wind",
        "rain",
        "flagged_temp",
        "flagged_wind",
        "flagged_rain",
    ]
    assert result.index.equals(frame.index)
    np.testing.assert_array_equal(reshaper.feature_names_in_, frame.columns)
    plain = ThresholdReshaper(forecaster, window=WINDOW).set_output(transform="pandas")
    assert list(plain.fit_transform(frame).columns) == ["temp", "wind", "rain"]


def test_float32_in_float32_out(series, forecaster):
    X = series.X.astype(np.float32)
    result = ThresholdReshaper(forecaster, window=WINDOW).fit_transform(X)
    assert result.dtype == np.float32


def test_importing_the_package_does_not_import_keras():
    import subprocess
    import sys

    code = "import sys, sklearn_lstm_reshape; assert 'keras' not in sys.modules, 'keras'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_backend_is_chosen_when_none_is_configured(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json there
    code = (
        "from sklearn_lstm_reshape.models import make_forecaster; make_forecaster(4, 2); "
        "import keras; print(keras.backend.backend())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    from sklearn_lstm_reshape import _keras

    first_installed = next(
        name for name in _keras._BACKEND_PREFERENCE if _keras._backend_is_installed(name)
    )
    assert result.stdout.strip() == first_installed
