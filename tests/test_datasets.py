import ast
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_lstm_reshape import datasets
from sklearn_lstm_reshape.datasets import (
    inject_anomalies,
    load_seattle_weather,
    make_anomalous_series,
)

FEATURES = ["precipitation", "temp_max", "temp_min", "wind"]
ALL_KINDS = ("spike", "level_shift", "noise_burst", "dropout")
MAX_LENGTH = {"spike": 3, "level_shift": 30, "noise_burst": 30, "dropout": 30}


# --- load_seattle_weather -------------------------------------------------


def test_weather_arrays():
    weather = load_seattle_weather()

    assert weather.data.shape == (1461, 4)
    assert weather.data.dtype == np.float64
    assert weather.feature_names.tolist() == FEATURES
    assert all(isinstance(name, str) for name in weather.feature_names)
    assert weather.index.dtype == np.dtype("datetime64[D]")
    assert weather.index.shape == (1461,)
    assert weather.frame is None
    assert "USW00024233" in weather.DESCR
    assert "public domain" in weather.DESCR.lower()


def test_weather_dates_are_consecutive_days():
    index = load_seattle_weather().index

    assert index[0] == np.datetime64("2012-01-01")
    assert index[-1] == np.datetime64("2015-12-31")
    assert np.all(np.diff(index) == np.timedelta64(1, "D"))


def test_weather_values_are_complete_and_plausible():
    weather = load_seattle_weather()
    precipitation, temp_max, temp_min, wind = weather.data.T

    assert np.isfinite(weather.data).all()
    assert precipitation.min() == 0.0
    assert precipitation.max() < 100.0
    assert np.all((temp_max > -15) & (temp_max < 45))
    assert np.all((temp_min > -20) & (temp_min < 30))
    assert np.all(temp_max >= temp_min)
    assert np.all((wind >= 0) & (wind < 25))
    # Summer is warmer than winter in the northern hemisphere.
    months = weather.index.astype("datetime64[M]").astype(int) % 12 + 1
    assert temp_max[months == 7].mean() > temp_max[months == 1].mean() + 10
    # First row of the GHCN-Daily record, converted from tenths of a unit.
    np.testing.assert_array_equal(weather.data[0], [0.0, 12.8, 5.0, 4.7])


def test_weather_returns_fresh_arrays():
    first = load_seattle_weather()
    first.data[:] = 0.0

    assert load_seattle_weather().data[0, 1] == 12.8


def test_weather_as_frame():
    pd = pytest.importorskip("pandas")
    weather = load_seattle_weather(as_frame=True)
    arrays = load_seattle_weather()

    assert isinstance(weather.frame, pd.DataFrame)
    assert weather.data is weather.frame
    assert weather.frame.columns.tolist() == FEATURES
    assert isinstance(weather.frame.index, pd.DatetimeIndex)
    assert weather.frame.index.name == "date"
    assert weather.frame.index.freqstr == "D"
    assert (weather.frame.dtypes == np.float64).all()
    np.testing.assert_array_equal(weather.frame.to_numpy(), arrays.data)
    np.testing.assert_array_equal(
        weather.frame.index.to_numpy().astype("datetime64[D]"), arrays.index
    )


def test_weather_as_frame_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(ImportError, match="pip install pandas"):
        load_seattle_weather(as_frame=True)
    assert load_seattle_weather().data.shape == (1461, 4)


# --- make_anomalous_series ------------------------------------------------


@pytest.mark.parametrize("n_features", [1, 3, 5])
def test_series_shapes_and_dtypes(n_features):
    series = make_anomalous_series(400, n_features, random_state=0)

    assert series.X.shape == series.X_clean.shape == (400, n_features)
    assert series.X.dtype == series.X_clean.dtype == np.float64
    assert series.mask.shape == (400, n_features)
    assert series.mask.dtype == bool
    assert series.labels.shape == (400,)
    assert series.labels.dtype == bool
    assert np.isfinite(series.X).all()


def _assert_same(a, b):
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_clean, b.X_clean)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert a.events == b.events


def test_series_same_seed_same_output():
    kwargs = dict(n_timesteps=600, n_features=2, anomaly_fraction=0.05)

    _assert_same(
        make_anomalous_series(**kwargs, random_state=7),
        make_anomalous_series(**kwargs, random_state=7),
    )
    _assert_same(
        make_anomalous_series(**kwargs, random_state=np.random.RandomState(7)),
        make_anomalous_series(**kwargs, random_state=7),
    )


def test_series_different_seeds_differ():
    a = make_anomalous_series(600, random_state=0)
    b = make_anomalous_series(600, random_state=1)

    assert not np.allclose(a.X_clean, b.X_clean)
    assert a.events != b.events


def test_series_noise_is_the_residual_std():
    smooth = make_anomalous_series(2000, 2, noise=0.0, random_state=3)
    noisy = make_anomalous_series(2000, 2, noise=0.5, random_state=3)

    residual = noisy.X_clean - smooth.X_clean
    np.testing.assert_allclose(residual.std(axis=0), 0.5, rtol=0.1)
    # The seasonal signal dominates a noise of the default size.
    assert np.all(smooth.X_clean.std(axis=0) > 0.4)


@pytest.mark.parametrize("fraction", [0.005, 0.02, 0.1, 0.5])
def test_series_labels_and_fraction(fraction):
    series = make_anomalous_series(1000, 3, anomaly_fraction=fraction, random_state=0)

    np.testing.assert_array_equal(series.labels, series.mask.any(axis=1))
    assert series.labels.mean() == pytest.approx(fraction, abs=0.001)


@pytest.mark.parametrize("seed", range(5))
def test_series_no_anomaly_in_first_tenth(seed):
    series = make_anomalous_series(777, anomaly_fraction=0.2, random_state=seed)

    history = math.ceil(0.1 * 777)
    assert not series.mask[:history].any()
    assert min(start for start, *_ in series.events) >= history


@pytest.mark.parametrize("kinds", [*ALL_KINDS, ALL_KINDS])
def test_series_changes_exactly_the_masked_cells(kinds):
    series = make_anomalous_series(1500, 3, anomaly_fraction=0.1, kinds=kinds, random_state=0)

    outside = ~series.mask
    np.testing.assert_array_equal(series.X[outside], series.X_clean[outside])
    changed = series.X[series.mask] != series.X_clean[series.mask]
    assert changed.mean() > 0.95


@pytest.mark.parametrize("seed", range(5))
def test_series_events_match_mask(seed):
    series = make_anomalous_series(
        1000, 4, anomaly_fraction=0.1, kinds=ALL_KINDS, random_state=seed
    )

    rebuilt = np.zeros_like(series.mask)
    previous_stop = 0
    for start, stop, feature, kind in series.events:
        assert all(type(v) is int for v in (start, stop, feature))
        assert previous_stop <= start < stop <= 1000
        assert 0 <= feature < 4
        assert kind in ALL_KINDS
        assert stop - start <= MAX_LENGTH[kind]
        rebuilt[start:stop, feature] = True
        previous_stop = stop
    np.testing.assert_array_equal(rebuilt, series.mask)
    assert len(series.events) > 1


def test_series_single_kind_as_string():
    series = make_anomalous_series(500, kinds="spike", random_state=0)

    assert {kind for *_, kind in series.events} == {"spike"}


def test_spikes_are_large():
    series = make_anomalous_series(
        2000, 1, anomaly_fraction=0.05, kinds="spike", noise=0.0, random_state=0
    )

    offsets = np.abs(series.X - series.X_clean)[series.mask]
    assert offsets.min() >= 4 * series.X_clean.std() - 1e-12


# --- inject_anomalies -----------------------------------------------------


def test_inject_leaves_input_untouched():
    X = load_seattle_weather().data
    original = X.copy()

    result = inject_anomalies(X, anomaly_fraction=0.1, kinds=ALL_KINDS, random_state=0)

    np.testing.assert_array_equal(X, original)
    np.testing.assert_array_equal(result.X_clean, original)
    for returned in (result.X, result.X_clean):
        assert not np.shares_memory(returned, X)
    assert not np.shares_memory(result.X, result.X_clean)
    assert result.mask.any()


def test_inject_is_relative_to_feature_scale():
    X = make_anomalous_series(800, 3, random_state=0).X_clean
    scales = np.array([1.0, 1000.0, 0.001])

    small = inject_anomalies(X, kinds=ALL_KINDS, random_state=4)
    large = inject_anomalies(X * scales, kinds=ALL_KINDS, random_state=4)

    assert small.events == large.events
    np.testing.assert_allclose(large.X, small.X * scales)


def test_inject_accepts_lists_and_integers():
    X = np.arange(300).reshape(100, 3) % 7

    result = inject_anomalies(X.tolist(), random_state=0)

    assert result.X.dtype == np.float64
    np.testing.assert_array_equal(result.X_clean, X)
    assert result.labels.sum() == 2


def test_inject_constant_feature_still_gets_anomalies():
    X = np.zeros((200, 1))

    result = inject_anomalies(X, anomaly_fraction=0.1, kinds="level_shift")

    assert np.all(np.abs(result.X[result.mask]) >= 2.0)


# --- validation -----------------------------------------------------------


@pytest.mark.parametrize("fraction", [0, 0.7, -0.1, float("nan"), "0.1", True])
def test_bad_anomaly_fraction(fraction):
    expected = rf"anomaly_fraction must be a number in \(0, 0.5\], got {fraction!r}"
    with pytest.raises(ValueError, match=expected):
        make_anomalous_series(anomaly_fraction=fraction)
    with pytest.raises(ValueError, match=expected):
        inject_anomalies(np.ones((100, 2)), anomaly_fraction=fraction)


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(
        ValueError,
        match=r"unknown anomaly kind\(s\) \['spikes'\]\. Valid kinds are 'spike', "
        r"'level_shift', 'noise_burst', 'dropout'",
    ):
        make_anomalous_series(kinds=("spikes", "level_shift"))


def test_empty_kinds():
    with pytest.raises(ValueError, match="kinds must name at least one"):
        inject_anomalies(np.ones((100, 2)), kinds=())


@pytest.mark.parametrize("n_timesteps", [10, 49, 100.0, None])
def test_bad_n_timesteps(n_timesteps):
    with pytest.raises(
        ValueError, match=rf"n_timesteps must be an integer >= 50, got {n_timesteps}"
    ):
        make_anomalous_series(n_timesteps)


def test_shortest_series():
    series = make_anomalous_series(50, random_state=0)

    assert series.labels.sum() == 1
    assert not series.labels[:5].any()


@pytest.mark.parametrize("n_features", [0, -1, 2.5])
def test_bad_n_features(n_features):
    with pytest.raises(ValueError, match=r"n_features must be an integer >= 1"):
        make_anomalous_series(n_features=n_features)


@pytest.mark.parametrize("noise", [-0.1, float("inf"), "low"])
def test_bad_noise(noise):
    with pytest.raises(ValueError, match=r"noise must be a finite number >= 0"):
        make_anomalous_series(noise=noise)


def test_inject_too_short():
    with pytest.raises(ValueError, match=r"X must have at least 50 rows .*got 49"):
        inject_anomalies(np.ones((49, 2)))


def test_inject_needs_2d_finite_input():
    with pytest.raises(ValueError, match="2D array"):
        inject_anomalies(np.ones(100))
    X = np.ones((100, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        inject_anomalies(X)


# --- module hygiene -------------------------------------------------------


def test_module_imports_no_deep_learning_or_plotting():
    tree = ast.parse(Path(datasets.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert imported.isdisjoint({"keras", "tensorflow", "jax", "torch", "matplotlib"})
    assert sorted(datasets.__all__) == [
        "inject_anomalies",
        "load_seattle_weather",
        "make_anomalous_series",
    ]
