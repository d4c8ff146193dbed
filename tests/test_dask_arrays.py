"""Dask arrays in, dask arrays out: lazily, and bit for bit the in-memory result
whatever the chunking; a clear refusal where a result cannot be computed
chunk by chunk."""

import re

import numpy as np
import pytest

from sklearn_lstm_reshape import (
    CounterfactualReshaper,
    GenerativeReshaper,
    LatentReshaper,
    ThresholdReshaper,
)
from sklearn_lstm_reshape import _dask as dask_module
from sklearn_lstm_reshape._threshold import CHUNK_MARGIN_RUNS
from sklearn_lstm_reshape._windows import sliding_windows
from sklearn_lstm_reshape.datasets import make_anomalous_series

from .conftest import N_FEATURES, WINDOW

da = pytest.importorskip("dask.array")

SMALL = dict(latent_dim=4, units=16, epochs=5, random_state=0)
# Chunk sizes: one chunk, uneven chunks, and chunks shorter than a window
# (merged with their neighbours), over more windows than one block of draws.
CHUNKINGS = [-1, (1100, 901, 999), 7]


@pytest.fixture(scope="module")
def long_series():
    return make_anomalous_series(n_timesteps=3000, n_features=N_FEATURES, random_state=3).X


@pytest.fixture(scope="module")
def panel(series):
    return np.ascontiguousarray(sliding_windows(series.X, WINDOW)[::2])


def chunked(X, chunks):
    return da.from_array(X, chunks=(chunks, *X.shape[1:]))


def assert_same_lazily(method, X, chunkings=CHUNKINGS):
    """``method`` of every chunking of X is lazy and bit for bit ``method(X)``."""
    expected = method(X)
    for chunks in chunkings:
        result = method(chunked(X, chunks))
        assert isinstance(result, da.Array)
        assert result.shape == expected.shape and result.dtype == expected.dtype
        np.testing.assert_array_equal(result.compute(scheduler="sync"), expected, strict=True)


# -- the same result, chunk by chunk -------------------------------------------


@pytest.mark.parametrize(
    "params",
    [dict(edit="noise"), dict(edit="shift", scale=2.0, mode="edit")],
    ids=["noise", "shift"],
)
def test_latent_edits_of_a_series(series, forecaster, long_series, params):
    reshaper = LatentReshaper(forecaster, **SMALL, **params).fit(series.X_clean)
    assert_same_lazily(reshaper.transform, long_series)
    assert_same_lazily(reshaper.transform, long_series.astype(np.float32), chunkings=[500])


def test_latent_edits_of_a_panel(forecaster, panel):
    reshaper = LatentReshaper(forecaster, **SMALL).fit(panel)
    assert_same_lazily(reshaper.transform, panel, chunkings=[-1, (100, 1, 196), 64])


@pytest.mark.parametrize("stochastic", [False, True])
def test_generative_regeneration_of_a_series(series, forecaster, long_series, stochastic):
    reshaper = GenerativeReshaper(
        forecaster, **SMALL, stochastic=stochastic, condition="prediction"
    ).fit(series.X_clean)
    assert_same_lazily(reshaper.transform, long_series)


def test_generative_edits_of_a_panel_without_refinement(forecaster, panel):
    reshaper = GenerativeReshaper(forecaster, **SMALL, refine_steps=0, condition=0.5).fit(panel)
    assert_same_lazily(reshaper.transform, panel, chunkings=[(150, 147), 33])


@pytest.mark.filterwarnings("ignore:.*of the values of X are flagged")
@pytest.mark.parametrize("action", ["clip", "impute"])
def test_threshold_by_the_models_output_on_a_series(series, scorer, long_series, action):
    reshaper = ThresholdReshaper(
        scorer, score_by="output", action=action, contamination=0.02, add_indicator=True
    ).fit(series.X)
    for method in (reshaper.transform, reshaper.flag, reshaper.score_samples):
        assert_same_lazily(method, long_series)
    assert reshaper.flag(long_series).any()


def test_threshold_of_a_panel_at_its_defaults(forecaster, panel):
    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(panel)
    for method in (reshaper.transform, reshaper.flag, reshaper.score_samples):
        assert_same_lazily(method, panel, chunkings=[(100, 197), 10])


def test_nothing_is_computed_until_asked_and_threads_agree(series, forecaster, long_series):
    computed = []

    def counting(block):
        computed.append(len(block))
        return block

    reshaper = LatentReshaper(forecaster, **SMALL).fit(series.X_clean)
    X = chunked(long_series, 400).map_blocks(counting, meta=np.empty((0, 0)))
    result = reshaper.transform(X)
    assert computed == []
    # The default scheduler computes chunks on several threads of one estimator.
    np.testing.assert_array_equal(result.compute(), reshaper.transform(long_series))
    assert sum(computed) >= len(long_series)


def test_an_int_array_is_read_as_float64_like_in_memory(series, forecaster):
    reshaper = LatentReshaper(forecaster, **SMALL).fit(series.X_clean)
    X = np.round(series.X).astype(np.int64)
    result = reshaper.transform(chunked(X, 200))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result.compute(scheduler="sync"), reshaper.transform(X))


# -- a series repaired from its repaired history -------------------------------


@pytest.fixture(scope="module")
def faulty_series(long_series):
    """The long series with faults that last: level shifts and a stuck sensor,
    one of them across the boundary of the uneven chunks below."""
    X = long_series.copy()
    X[1090:1115, 0] += 4.0
    X[2400:2430, 1] = X[2400, 1]
    X[500:503, 2] -= 6.0
    # Values held across chunk boundaries: a stuck sensor, and one held
    # longer than max_run, which a pass begun inside it would see shorter.
    X[1095:1112, 2] = X[1095, 2]
    X[1960:2060, 0] = X[1960, 0]
    return X


@pytest.mark.parametrize(
    "params",
    [
        {},
        dict(action="forecast", per_feature=False),
        dict(action="interpolate", add_indicator=True),
        dict(action="impute"),
        dict(action="blend"),
        dict(max_run=3, contamination=0.05),
    ],
    ids=["defaults", "forecast, one score", "interpolate", "impute", "blend", "short runs"],
)
def test_threshold_from_repaired_history(series, forecaster, faulty_series, params):
    reshaper = ThresholdReshaper(forecaster, random_state=0, **params).fit(series.X)
    assert reshaper.score_by_ == "residual"
    for method in (reshaper.transform, reshaper.flag, reshaper.score_samples):
        assert_same_lazily(method, faulty_series, chunkings=[-1, (1100, 901, 999), 500])


def test_a_value_held_for_long_is_no_clean_start(series, forecaster, faulty_series):
    # Left as a lasting change, but a pass begun inside it would see a
    # shorter run, and flag it as stuck: its rows are marked.
    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    flags, marked = reshaper._marking_repairs("flag", faulty_series)
    assert not flags[1960:2060, 0].any()
    assert marked[1961:2060].all()
    assert flags[1096:1112, 2].all()


def test_a_chunk_whose_start_was_not_clean_is_computed_again(
    series, forecaster, faulty_series, monkeypatch
):
    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    computed = []
    marking = reshaper._marking_repairs

    def counting(method, rows):
        computed.append(len(rows))
        return marking(method, rows)

    monkeypatch.setattr(reshaper, "_marking_repairs", counting)
    # A spike among the rows the second chunk is first computed from, which
    # those rows take as history although the whole pass repairs it.
    margin = CHUNK_MARGIN_RUNS * (reshaper.max_run_ + reshaper._history_rows() + reshaper.span_)
    X = faulty_series.copy()
    X[1100 - margin + 2, 0] += 8.0
    expected = reshaper.transform(X)
    result = reshaper.transform(chunked(X, (1100, 901, 999)))
    np.testing.assert_array_equal(result.compute(scheduler="sync"), expected, strict=True)
    assert len(computed) == 4  # three chunks, one of them twice


def test_a_transform_in_time_order_holds_only_the_rows_it_changed(
    series, forecaster, faulty_series, monkeypatch
):
    # A chunk's result waits for the check of the chunk before: as a
    # transform's, it is held as the repaired rows, and put together later.
    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    held = []
    with_changes = dask_module._with_changes

    def recording(reader, start, stop, changes):
        held.append(changes)
        return with_changes(reader, start, stop, changes)

    monkeypatch.setattr(dask_module, "_with_changes", recording)
    expected = reshaper.transform(faulty_series)
    result = reshaper.transform(chunked(faulty_series, (1100, 901, 999)))
    np.testing.assert_array_equal(result.compute(scheduler="sync"), expected, strict=True)
    rows = np.concatenate([where for where, _ in held])
    changed = np.flatnonzero(np.any(expected != faulty_series, axis=1))
    np.testing.assert_array_equal(np.sort(rows), changed)


def test_changed_rows_are_told_bit_for_bit():
    rows = np.array([[0.0, np.nan], [1.0, 2.0], [0.0, 3.0]], dtype=np.float32)
    result = rows.copy()
    result[2, 0] = -0.0  # equal as a number, not as bits
    assert dask_module._changed_rows(result, rows).tolist() == [2]


def test_a_chunk_full_of_repairs_asks_for_longer_chunks(series, forecaster, long_series):
    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    X = long_series.copy()
    X[1000:1600:4] += 8.0  # a spike every 4 rows: every row is near a repair
    np.testing.assert_array_equal(
        reshaper.transform(chunked(X, 1500)).compute(scheduler="sync"), reshaper.transform(X)
    )
    margin = CHUNK_MARGIN_RUNS * (reshaper.max_run_ + reshaper._history_rows() + reshaper.span_)
    inside = (1040, margin, len(X) - 1040 - margin)  # the middle chunk among the spikes
    with pytest.raises(ValueError, match="Rechunk the series into longer chunks"):
        reshaper.transform(chunked(X, inside)).compute(scheduler="sync")


# -- what cannot be computed chunk by chunk ------------------------------------


@pytest.fixture(scope="module")
def threshold(series, forecaster):
    return ThresholdReshaper(forecaster, random_state=0).fit(series.X)


def test_refusals_name_the_cause_and_the_fix(series, scorer, forecaster, panel):
    X = chunked(series.X, 100)
    interpolating = ThresholdReshaper(scorer, score_by="output", action="interpolate").fit(series.X)
    with pytest.raises(ValueError, match="action='clip', 'scale' or 'nan'"):
        interpolating.transform(X)
    interpolating.flag(X)  # the flags do not depend on the repair
    by_hand = ThresholdReshaper(scorer, score_by="output", action=lambda X, mask: X).fit(series.X)
    with pytest.raises(ValueError, match="A callable action is called with the whole of X"):
        by_hand.transform(X)
    refining = GenerativeReshaper(forecaster, **SMALL).fit(panel)
    with pytest.raises(ValueError, match="Set refine_steps=0 to transform dask arrays"):
        refining.transform(chunked(panel, 50))
    per_window = GenerativeReshaper(forecaster, **SMALL, condition=lambda p: p + 1)
    with pytest.raises(ValueError, match="its condition must be one for every window"):
        per_window.fit(series.X_clean).transform(X)
    searching = CounterfactualReshaper(forecaster, random_state=0).fit(series.X)
    with pytest.raises(ValueError, match="CounterfactualReshaper does not compute chunk by chunk"):
        searching.transform(X)


def test_fit_report_and_score_want_data_in_memory(threshold, series):
    X = chunked(series.X, 100)
    with pytest.raises(TypeError, match=re.escape("fit(X[:100_000].compute())")):
        ThresholdReshaper().fit(X)
    with pytest.raises(TypeError, match="report computes its result over the whole of X"):
        threshold.report(X)
    with pytest.raises(TypeError, match="score computes its result over the whole of X"):
        threshold.score(X)


def test_bad_dask_input(series, forecaster):
    reshaper = LatentReshaper(forecaster, **SMALL).fit(series.X_clean)
    with pytest.raises(ValueError, match="X has 2 features, but LatentReshaper is expecting 3"):
        reshaper.transform(chunked(series.X[:, :2], 100))
    with pytest.raises(ValueError, match="X is 3-D, but LatentReshaper was fitted on 2-D data"):
        reshaper.transform(da.zeros((4, WINDOW, N_FEATURES)))
    with pytest.raises(ValueError, match="needs at least 8 rows"):
        reshaper.transform(chunked(series.X[:5], 2))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        X = series.X.copy()
        X[50, 1] = np.nan
        reshaper.transform(chunked(X, 100)).compute(scheduler="sync")
