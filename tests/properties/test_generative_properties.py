"""Properties of GenerativeReshaper that must hold for any data.

Training a CVAE costs seconds, so the reshapers are fitted once per module,
on fixed data, and only the data they transform is drawn. ``condition``,
``overlap`` and ``stochastic`` (and ``random_state``, for the drawn codes) are read
only in ``transform``, so their variants are copies of a fitted reshaper
(made once, by a pickle round trip) with other parameters, not refits. The
data drawn always has the fitted window length (2-D series) or sequence
length (3-D panel) and 2 features, so the compiled forward passes are reused.
"""

import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lstm_reshape import GenerativeReshaper
from sklearn_lstm_reshape.datasets import make_anomalous_series

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
SERIES_ROWS = (4, 40)  # 4: the fewest rows a window-4 model can regenerate
PANEL_SEQUENCES = (2, 12)
PANEL_STEPS = 6
CASE_NAMES = ["series", "panel"]
FOLDS = ["mean", "last"]
TINY = dict(latent_dim=2, units=4, epochs=1, random_state=0)


# -- fitted reshapers ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A fitted reshaper and the shape of the data it takes."""

    name: str
    fitted: GenerativeReshaper
    ndim: int

    def variant(self, **params):
        """A copy of the fitted reshaper with other transform-time parameters."""
        return pickle.loads(pickle.dumps(self.fitted)).set_params(**params)

    def n_predictions(self, X):
        """Predictions (and so conditions) the model makes for X."""
        return len(X) - self.fitted.window_ + 1 if self.ndim == 2 else len(X)


@pytest.fixture(scope="module")
def cases(forecaster, sequence_forecaster):
    series = make_anomalous_series(n_timesteps=120, n_features=N_FEATURES, random_state=0).X
    panel = make_anomalous_series(
        n_timesteps=16 * PANEL_STEPS, n_features=N_FEATURES, random_state=1
    ).X.reshape(16, PANEL_STEPS, N_FEATURES)
    all_cases = [
        Case("series", GenerativeReshaper(forecaster, **TINY).fit(series), ndim=2),
        Case("panel", GenerativeReshaper(sequence_forecaster, **TINY).fit(panel), ndim=3),
    ]
    return {case.name: case for case in all_cases}


@pytest.fixture(scope="module")
def variants(cases):
    """Transform-time variants of every case, made once: {(case, name): reshaper}."""
    made = {}
    for name, case in cases.items():
        for fold in FOLDS:
            made[name, f"fold={fold}"] = case.variant(overlap=fold)
            made[name, f"fold={fold} sample"] = case.variant(overlap=fold, stochastic=True)
        made[name, "sample copy"] = case.variant(stochastic=True)
        made[name, "sample random_state=1"] = case.variant(stochastic=True, random_state=1)
        made[name, "condition=identity"] = case.variant(condition=lambda p: p)
        made[name, "condition=number"] = case.variant()
        made[name, "condition=array"] = case.variant()
        made[name, "condition=shift"] = case.variant(condition=lambda p: p + 1.0)
    return made


# -- strategies ----------------------------------------------------------------


def data_for(case, dtype, elements=None):
    """Arrays the case's reshaper takes: a series of 2 features, or a panel."""
    if case.ndim == 2:
        shape = st.tuples(st.integers(*SERIES_ROWS), st.just(N_FEATURES))
    else:
        shape = st.tuples(st.integers(*PANEL_SEQUENCES), st.just(PANEL_STEPS), st.just(N_FEATURES))
    return arrays(dtype, shape, elements=values(dtype) if elements is None else elements)


def on_training_scale(dtype):
    """Values within a few standard deviations of the fitted data."""
    return st.floats(-5, 5, allow_subnormal=False, width=8 * np.dtype(dtype).itemsize)


def draw_X(data, case, dtype=None, elements=None):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype") if dtype is None else dtype
    return data.draw(data_for(case, dtype, elements), label="X")


# -- shape and dtype -----------------------------------------------------------


@pytest.mark.parametrize("fold", FOLDS)
@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_output_shape_is_input_shape(cases, variants, case_name, fold, data):
    X = draw_X(data, cases[case_name])
    sample = data.draw(st.booleans(), label="sample")
    reshaper = variants[case_name, f"fold={fold}" + (" sample" if sample else "")]

    assert reshaper.transform(X).shape == X.shape


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_dtype_is_kept(cases, variants, case_name, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    X = draw_X(data, cases[case_name], dtype)
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    sample = data.draw(st.booleans(), label="sample")
    reshaper = variants[case_name, f"fold={fold}" + (" sample" if sample else "")]

    assert reshaper.transform(X).dtype == dtype


# -- X is never written to, nor shared -----------------------------------------


@given(data=st.data())
def test_X_is_never_modified(cases, variants, data):
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    X = with_layout(X, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    variant = data.draw(
        st.sampled_from(["fold=mean", "fold=last", "fold=mean sample", "condition=shift"]),
        label="variant",
    )
    reshaper = variants[case_name, variant]
    memory = memory_of(X)

    reshaper.transform(X)
    assert_unmodified(X, memory)
    reshaper.report(X)
    assert_unmodified(X, memory)


@given(data=st.data())
def test_output_never_shares_memory_with_X(cases, variants, data):
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    X = with_layout(X, data.draw(st.sampled_from(LAYOUTS), label="layout"))
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    sample = data.draw(st.booleans(), label="sample")
    reshaper = variants[case_name, f"fold={fold}" + (" sample" if sample else "")]

    assert not np.shares_memory(reshaper.transform(X), X)


# -- determinism ---------------------------------------------------------------


@given(data=st.data())
def test_mean_code_is_deterministic(cases, variants, data):
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    reshaper = variants[case_name, f"fold={fold}"]

    assert_bits_equal(reshaper.transform(X), reshaper.transform(X))


@given(data=st.data())
def test_same_random_state_same_sample(cases, variants, data):
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    reshaper = variants[case_name, "fold=mean sample"]

    first = reshaper.transform(X)
    assert_bits_equal(reshaper.transform(X), first)
    # Another copy, made by its own pickle round trip, with the same seed.
    assert_bits_equal(variants[case_name, "sample copy"].transform(X), first)
    assert_bits_equal(pickle.loads(pickle.dumps(reshaper)).transform(X), first)


@given(data=st.data())
def test_other_random_state_other_sample(cases, variants, data):
    # Far from the fitted data the networks saturate, and every draw of the
    # code decodes to the same float32 window: the property is for data
    # like the data fitted.
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    X = draw_X(data, cases[case_name], dtype, on_training_scale(dtype))

    seed_0 = variants[case_name, "fold=mean sample"].transform(X)
    seed_1 = variants[case_name, "sample random_state=1"].transform(X)
    assert not np.array_equal(seed_0, seed_1)


# -- conditions ----------------------------------------------------------------


@given(data=st.data())
def test_prediction_condition_is_the_identity_callable(cases, variants, data):
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    sample = data.draw(st.booleans(), label="sample")
    by_name = variants[case_name, f"fold={fold}" + (" sample" if sample else "")]
    by_callable = variants[case_name, "condition=identity"].set_params(
        overlap=fold, stochastic=sample, mode="regenerate"
    )

    assert_bits_equal(by_callable.transform(X), by_name.transform(X))


@given(data=st.data())
def test_editing_X_under_the_actual_condition_gives_X(cases, variants, data):
    # The change the actual condition makes is zero, so the edit gives X back.
    case_name = data.draw(st.sampled_from(CASE_NAMES), label="case")
    X = draw_X(data, cases[case_name])
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    sample = data.draw(st.booleans(), label="sample")
    identity = variants[case_name, "condition=identity"].set_params(
        overlap=fold, stochastic=sample, mode="edit"
    )

    np.testing.assert_array_equal(identity.transform(X), X)


@given(data=st.data())
def test_number_condition_is_the_broadcast_array(cases, variants, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = draw_X(data, case)
    constant = data.draw(st.floats(-100, 100, allow_subnormal=False), label="constant")
    array_dtype = data.draw(st.sampled_from(DTYPES), label="array dtype")
    shape = (case.n_predictions(X), *case.fitted.condition_shape_)
    array = np.full(shape, constant, dtype=array_dtype)
    by_number = variants[case.name, "condition=number"].set_params(condition=constant)
    by_array = variants[case.name, "condition=array"].set_params(condition=array)

    assert_bits_equal(by_array.transform(X), by_number.transform(X))


# -- report --------------------------------------------------------------------


REPORT_FIGURES = {
    "condition_gap_before",
    "condition_gap_after",
    "prediction_change",
    "reconstruction_error",
    "mean_abs_change",
}
REPORT_ARRAYS = {"condition_gap_before_by_output", "condition_gap_after_by_output"}


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_report_of_own_prediction(cases, variants, case_name, data):
    X = draw_X(data, cases[case_name])
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    report = variants[case_name, f"fold={fold}"].report(X)

    assert set(report) == REPORT_FIGURES | REPORT_ARRAYS
    figures = [report[key] for key in REPORT_FIGURES]
    assert all(isinstance(value, float) and np.isfinite(value) and value >= 0 for value in figures)
    for key in REPORT_ARRAYS:
        assert report[key].shape == variants[case_name, f"fold={fold}"].condition_shape_
        assert np.isfinite(report[key]).all() and (report[key] >= 0).all()
    assert report["condition_gap_before"] == 0.0
    assert not report["condition_gap_before_by_output"].any()
