"""Properties of LatentReshaper that must hold for any data.

Training an autoencoder costs seconds, so the reshapers are fitted once per
module, on fixed data, and only the data they transform is drawn. The edit
and its settings (``edit``, ``scale``, ``target``, ``space``, ``steps``,
``overlap``, ``random_state`` for the noise) are read only in ``transform``, so
the variants are copies of a fitted reshaper (made by a pickle round trip)
with other parameters, not refits.

The data drawn always has the fitted window length (2-D series) or sequence
length (3-D panel) and 2 features, so the compiled forward passes are reused.
A search (``edit="optimize"``) compiles a search model per number of searched
windows (and the package caches at most 4 of them), so searched data has one
fixed shape per case: one search model per case and space, 4 in all.

Edits and targets are module-level functions, not lambdas, so that the
variants survive a pickle round trip.
"""

import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lstm_reshape import LatentReshaper
from sklearn_lstm_reshape._predict import predict_windows
from sklearn_lstm_reshape._windows import fold_windows, sliding_windows
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
PANEL_STEPS = 8
# At most 32 windows: the prediction engine pads every call to one batch of 32.
SERIES_ROWS = (4, 35)  # 4: one window of the window-4 forecaster
PANEL_SEQUENCES = (1, 12)
# A search model is compiled per number of searched windows: one shape per case.
SEARCH_SERIES_ROWS = 16
SEARCH_PANEL_SEQUENCES = 4
CASE_NAMES = ["series", "panel"]
FOLDS = ["mean", "last"]
TINY = dict(latent_dim=2, units=4, epochs=1, random_state=0)
SEARCH = dict(edit="optimize", steps=5)


# -- edits and targets (picklable) ---------------------------------------------


def identity_edit(codes, predictions):
    return codes


def prediction_edit(codes, predictions):
    """A callable edit that looks at the predictions: a shift per window."""
    flat = np.asarray(predictions, dtype=np.float32).reshape(len(codes), -1)
    return codes + np.tanh(flat.mean(axis=1, keepdims=True))


def current_prediction(predictions):
    return predictions


def one_more(predictions):
    return predictions + 1.0


EDITS = {
    "noise": dict(edit="noise"),
    "shift": dict(edit="shift"),
    "callable": dict(edit=prediction_edit),
    "optimize latent": dict(SEARCH, space="latent", target=one_more),
    "optimize input": dict(SEARCH, space="input", target=one_more),
}
EDIT_NAMES = list(EDITS)
SEARCHES = {"optimize latent", "optimize input"}


# -- fitted reshapers ----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A fitted reshaper and the shape of the data it takes."""

    name: str
    fitted: LatentReshaper
    ndim: int

    def variant(self, **params):
        """A copy of the fitted reshaper with other transform-time parameters."""
        return copy_of(self.fitted).set_params(**params)

    def windows(self, X):
        """The windows the reshaper edits: sliding windows, or the sequences."""
        return sliding_windows(X, self.fitted.window_) if self.ndim == 2 else X

    def fold(self, windows, X, how):
        """Edited windows back into X's shape and dtype, as transform does."""
        if self.ndim == 2:
            windows = fold_windows(windows, len(X), how=how)
        return windows.astype(X.dtype)


def copy_of(reshaper):
    return pickle.loads(pickle.dumps(reshaper))


def training_data():
    series = make_anomalous_series(n_timesteps=120, n_features=N_FEATURES, random_state=0).X
    panel = make_anomalous_series(
        n_timesteps=16 * PANEL_STEPS, n_features=N_FEATURES, random_state=1
    ).X.reshape(16, PANEL_STEPS, N_FEATURES)
    return {"series": series, "panel": panel}


def fit_cases(forecaster, sequence_forecaster):
    data = training_data()
    return {
        "series": Case("series", LatentReshaper(forecaster, **TINY).fit(data["series"]), ndim=2),
        "panel": Case(
            "panel", LatentReshaper(sequence_forecaster, **TINY).fit(data["panel"]), ndim=3
        ),
    }


@pytest.fixture(scope="module")
def cases(forecaster, sequence_forecaster):
    return fit_cases(forecaster, sequence_forecaster)


@pytest.fixture(scope="module")
def refitted(forecaster, sequence_forecaster):
    """Second fits of the cases, with the same data and the same int random_state."""
    return fit_cases(forecaster, sequence_forecaster)


def make_variants(cases):
    made = {}
    for name, case in cases.items():
        for edit, params in EDITS.items():
            made[name, edit] = case.variant(**params)
        made[name, "noise copy"] = case.variant(edit="noise")
        made[name, "noise random_state=1"] = case.variant(edit="noise", random_state=1)
        made[name, "noise scale=0"] = case.variant(edit="noise", scale=0.0)
        made[name, "identity"] = case.variant(edit=identity_edit)
        made[name, "edit X, noise scale=0"] = case.variant(scale=0.0, mode="edit")
        made[name, "edit X, identity"] = case.variant(edit=identity_edit, mode="edit")
        made[name, "reached input"] = case.variant(
            **SEARCH, space="input", target=current_prediction
        )
        made[name, "reached latent"] = case.variant(**SEARCH, space="latent")
    return made


@pytest.fixture(scope="module")
def variants(cases):
    """Transform-time variants of every case, made once: {(case, name): reshaper}."""
    return make_variants(cases)


# -- strategies ----------------------------------------------------------------


def shapes_for(case, edit=None):
    """Shapes of the data the case's reshaper takes; one fixed shape for a search."""
    if case.ndim == 2:
        rows = st.just(SEARCH_SERIES_ROWS) if edit in SEARCHES else st.integers(*SERIES_ROWS)
        return st.tuples(rows, st.just(N_FEATURES))
    sequences = (
        st.just(SEARCH_PANEL_SEQUENCES) if edit in SEARCHES else st.integers(*PANEL_SEQUENCES)
    )
    return st.tuples(sequences, st.just(PANEL_STEPS), st.just(N_FEATURES))


def draw_X(data, case, edit=None, dtype=None):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype") if dtype is None else dtype
    return data.draw(arrays(dtype, shapes_for(case, edit), elements=values(dtype)), label="X")


def draw_case_and_edit(data, cases, edits=EDIT_NAMES):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    return case, data.draw(st.sampled_from(edits), label="edit")


# -- shape and dtype -----------------------------------------------------------


@pytest.mark.parametrize("edit", EDIT_NAMES)
@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_output_has_the_shape_and_dtype_of_X(cases, variants, case_name, edit, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    X = draw_X(data, cases[case_name], edit, dtype)

    X_new = variants[case_name, edit].transform(X)
    assert X_new.shape == X.shape
    assert X_new.dtype == dtype


# -- X is never written to, nor shared -----------------------------------------


@given(data=st.data())
def test_X_is_never_modified(cases, variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = with_layout(draw_X(data, case, edit), data.draw(st.sampled_from(LAYOUTS), label="layout"))
    reshaper = variants[case.name, edit]
    memory = memory_of(X)

    reshaper.transform(X)
    assert_unmodified(X, memory)
    reshaper.report(X)
    assert_unmodified(X, memory)


@given(data=st.data())
def test_output_never_shares_memory_with_X(cases, variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = with_layout(draw_X(data, case, edit), data.draw(st.sampled_from(LAYOUTS), label="layout"))

    assert not np.shares_memory(variants[case.name, edit].transform(X), X)


# -- determinism ---------------------------------------------------------------


@given(data=st.data())
def test_transform_is_deterministic(cases, variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = draw_X(data, case, edit)
    reshaper = variants[case.name, edit]

    assert_bits_equal(reshaper.transform(X), reshaper.transform(X))


@given(data=st.data())
def test_same_random_state_same_noise(cases, variants, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = draw_X(data, case)

    first = variants[case.name, "noise"].transform(X)
    # Another copy, made by its own pickle round trip, with the same seed.
    assert_bits_equal(variants[case.name, "noise copy"].transform(X), first)


@given(data=st.data())
def test_other_random_state_other_noise(cases, variants, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = draw_X(data, case)

    seed_0 = variants[case.name, "noise"].transform(X)
    seed_1 = variants[case.name, "noise random_state=1"].transform(X)
    assert not np.array_equal(seed_0, seed_1)


@pytest.fixture(scope="module")
def refitted_variants(refitted):
    return make_variants(refitted)


@given(data=st.data())
def test_same_int_random_state_same_fit(cases, variants, refitted, refitted_variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = draw_X(data, case, edit)
    first, second = case.fitted, refitted[case.name].fitted
    for attribute in ("code_scale_", "feature_scale_", "prediction_scale_", "shift_direction_"):
        assert_bits_equal(getattr(second, attribute), getattr(first, attribute))

    assert_bits_equal(
        refitted_variants[case.name, edit].transform(X), variants[case.name, edit].transform(X)
    )


@given(data=st.data())
def test_pickle_round_trip_gives_the_same_transform(cases, variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = draw_X(data, case, edit)
    reshaper = variants[case.name, edit]

    assert_bits_equal(copy_of(reshaper).transform(X), reshaper.transform(X))


# -- reconstruction ------------------------------------------------------------


@given(data=st.data())
def test_zero_noise_is_the_plain_reconstruction(cases, variants, data):
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = draw_X(data, case)
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    zero_noise = variants[case.name, "noise scale=0"].set_params(overlap=fold)
    identity = variants[case.name, "identity"].set_params(overlap=fold)

    X_new = zero_noise.transform(X)
    assert_bits_equal(identity.transform(X), X_new)
    fitted = case.fitted
    decoded = predict_windows(fitted.decoder_, predict_windows(fitted.encoder_, case.windows(X)))
    assert_bits_equal(X_new, case.fold(decoded, X, fold))


@given(data=st.data())
def test_editing_X_with_unchanged_codes_gives_X(cases, variants, data):
    # mode="edit" adds to X the change the edit makes to the decoded window;
    # an edit that leaves every code as it is makes none.
    case = cases[data.draw(st.sampled_from(CASE_NAMES), label="case")]
    X = draw_X(data, case)
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    for name in ("edit X, noise scale=0", "edit X, identity"):
        X_new = variants[case.name, name].set_params(overlap=fold).transform(X)
        assert X_new.dtype == X.dtype
        np.testing.assert_array_equal(X_new, X)


# -- the search ------------------------------------------------------------------


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_input_search_from_reached_windows_gives_X(cases, variants, case_name, data):
    # target = the current predictions: every window has reached it at step 0,
    # so it comes back as it was (float64 too, though the search runs in
    # float32), and folding unmodified windows gives X.
    case = cases[case_name]
    X = draw_X(data, case, "optimize input")
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    reshaper = variants[case_name, "reached input"].set_params(overlap=fold)

    assert_bits_equal(reshaper.transform(X), X)
    report = reshaper.report(X)
    assert report["validity"] == report["validity_before"] == report["searched_validity"] == 1.0
    assert report["target_gap_before"] == report["target_gap_after"] == 0.0
    assert report["proximity"] == 0.0


def fixed_X(case, dtype):
    """One searched X of the case's fixed shape, with no drawn data."""
    shape = (
        (SEARCH_SERIES_ROWS, N_FEATURES)
        if case.ndim == 2
        else (SEARCH_PANEL_SEQUENCES, PANEL_STEPS, N_FEATURES)
    )
    return np.random.default_rng(0).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_input_search_from_reached_windows_keeps_negative_zeros(cases, variants, case_name):
    case = cases[case_name]
    X = fixed_X(case, np.float32)
    X.flat[0] = -0.0  # -0.0 + 0.0 is +0.0: an unmoved value must be kept, not added to
    reshaper = variants[case_name, "reached input"].set_params(overlap="mean")

    assert_bits_equal(reshaper.transform(X), X)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_input_search_from_reached_windows_keeps_tiny_values(cases, variants, case_name, dtype):
    case = cases[case_name]
    X = fixed_X(case, dtype)
    X.flat[0] = 1e-40  # a float32 subnormal, which XLA's float32 flushes to zero
    reshaper = variants[case_name, "reached input"].set_params(overlap="mean")

    np.testing.assert_array_equal(reshaper.transform(X), X)


@pytest.mark.parametrize("case_name", CASE_NAMES)
@given(data=st.data())
def test_latent_search_from_reached_codes_gives_the_reconstruction(
    cases, variants, case_name, data
):
    # target = the predictions on the reconstructed windows: every code has
    # reached it at step 0, so it is decoded as it was: the reconstruction.
    case = cases[case_name]
    X = draw_X(data, case, "optimize latent")
    fold = data.draw(st.sampled_from(FOLDS), label="fold")
    fitted = case.fitted
    decoded = predict_windows(fitted.decoder_, predict_windows(fitted.encoder_, case.windows(X)))
    on_decoded = predict_windows(fitted.model_, decoded)
    reshaper = variants[case_name, "reached latent"].set_params(
        overlap=fold, target=lambda predictions: on_decoded
    )

    X_new = reshaper.transform(X)
    assert_bits_equal(X_new, case.fold(decoded, X, fold))
    assert_bits_equal(
        X_new, variants[case_name, "noise scale=0"].set_params(overlap=fold).transform(X)
    )
    assert reshaper.report(X)["searched_validity"] == 1.0


# -- report --------------------------------------------------------------------


REPORT_KEYS = {
    "validity",
    "validity_before",
    "target_gap_before",
    "target_gap_after",
    "proximity",
    "plausibility",
    "plausibility_before",
    "predictions_before",
    "predictions_after",
    "searched_validity",
}
FRACTIONS = ("validity", "validity_before", "searched_validity")
GAPS = ("target_gap_before", "target_gap_after")


@given(data=st.data())
def test_report(cases, variants, data):
    case, edit = draw_case_and_edit(data, cases)
    X = draw_X(data, case, edit)
    reshaper = variants[case.name, edit]

    report = reshaper.report(X)
    assert set(report) == REPORT_KEYS
    for key in ("proximity", "plausibility", "plausibility_before"):
        assert isinstance(report[key], float) and np.isfinite(report[key]) and report[key] >= 0
    assert report["proximity"] == float(np.mean(np.abs(reshaper.transform(X) - X)))
    before = predict_windows(case.fitted.model_, case.windows(X))
    assert_bits_equal(report["predictions_before"], before)
    assert isinstance(report["predictions_after"], np.ndarray)
    assert report["predictions_after"].shape == before.shape
    if edit in SEARCHES:
        for key in FRACTIONS:
            assert isinstance(report[key], float) and 0.0 <= report[key] <= 1.0
        for key in GAPS:
            assert isinstance(report[key], float) and np.isfinite(report[key]) and report[key] >= 0
    else:
        assert all(report[key] is None for key in FRACTIONS + GAPS)
