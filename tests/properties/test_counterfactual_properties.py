"""Properties of CounterfactualReshaper that must hold for any data.

Two cases, each fitted once: a forecaster on a 2-D series (a numeric target,
the rows searched) and a classifier on a panel (a class target, the segment
swap and its refinement). A search compiles per shape of the searched data,
so the drawn data has one shape per case; only its values and dtype vary.
Targets are module-level functions, so that the variants survive a pickle
round trip.
"""

import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lstm_reshape import CounterfactualReshaper
from sklearn_lstm_reshape._predict import predict_windows
from sklearn_lstm_reshape.datasets import make_anomalous_series
from sklearn_lstm_reshape.metrics import predicted_class

from .conftest import N_FEATURES
from .strategies import (
    DTYPES,
    LAYOUTS,
    assert_bits_equal,
    assert_unmodified,
    memory_of,
    values,
    with_layout,
)

PANEL_STEPS = 8
SHAPES = {"series": (16, N_FEATURES), "panel": (4, PANEL_STEPS, N_FEATURES)}
CASE_NAMES = list(SHAPES)
SEARCH = dict(steps=5)


def current_prediction(predictions):
    return predictions


def predicted(probabilities):
    return predicted_class(probabilities)


@dataclass(frozen=True)
class Case:
    name: str
    fitted: CounterfactualReshaper

    def variant(self, **params):
        return pickle.loads(pickle.dumps(self.fitted)).set_params(**params)


@pytest.fixture(scope="module")
def classifier(keras):
    init = keras.initializers
    return keras.Sequential(
        [
            keras.Input((PANEL_STEPS, N_FEATURES)),
            keras.layers.LSTM(4, kernel_initializer=init.GlorotUniform(seed=0)),
            keras.layers.Dense(
                3, activation="softmax", kernel_initializer=init.GlorotUniform(seed=1)
            ),
        ],
        name="classifier",
    )


@pytest.fixture(scope="module")
def cases(forecaster, classifier):
    series = make_anomalous_series(n_timesteps=120, n_features=N_FEATURES, random_state=0).X
    panel = make_anomalous_series(
        n_timesteps=40 * PANEL_STEPS, n_features=N_FEATURES, random_state=1
    ).X.reshape(40, PANEL_STEPS, N_FEATURES)
    return {
        "series": Case("series", CounterfactualReshaper(forecaster, **SEARCH).fit(series)),
        "panel": Case("panel", CounterfactualReshaper(classifier, **SEARCH).fit(panel)),
    }


@pytest.fixture(scope="module")
def variants(cases):
    made = {}
    for name, case in cases.items():
        made[name, "default"] = case.variant()
        reached = current_prediction if name == "series" else predicted
        made[name, "reached"] = case.variant(target=reached)
        made[name, "neighbour"] = case.variant(start="neighbour", steps=0)
    return made


def draw_X(data, name, dtype=None):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype") if dtype is None else dtype
    return data.draw(arrays(dtype, SHAPES[name], elements=values(dtype)), label="X")


@pytest.mark.parametrize("name", CASE_NAMES)
@given(data=st.data())
def test_output_has_the_shape_and_dtype_of_X_and_is_deterministic(variants, name, data):
    X = draw_X(data, name)
    reshaper = variants[name, "default"]

    X_new = reshaper.transform(X)
    assert X_new.shape == X.shape and X_new.dtype == X.dtype
    assert_bits_equal(reshaper.transform(X), X_new)
    assert_bits_equal(pickle.loads(pickle.dumps(reshaper)).transform(X), X_new)


@pytest.mark.parametrize("name", CASE_NAMES)
@given(data=st.data())
def test_X_is_never_modified_nor_shared(variants, name, data):
    X = with_layout(draw_X(data, name), data.draw(st.sampled_from(LAYOUTS), label="layout"))
    memory = memory_of(X)
    reshaper = variants[name, "default"]

    X_new = reshaper.transform(X)
    assert not np.shares_memory(X_new, X)
    assert_unmodified(X, memory)
    reshaper.report(X)
    assert_unmodified(X, memory)


@pytest.mark.parametrize("name", CASE_NAMES)
@given(data=st.data())
def test_an_input_that_already_has_its_target_comes_back_unchanged(variants, name, data):
    X = draw_X(data, name)
    reshaper = variants[name, "reached"]

    assert_bits_equal(reshaper.transform(X), X)
    report = reshaper.report(X)
    assert report["validity"] == report["validity_before"] == 1.0
    assert report["l2"] == report["changed_timesteps"] == 0.0


@given(data=st.data())
def test_an_instance_with_a_valid_neighbour_ends_valid(cases, variants, data):
    # The unlike neighbour meets the target by construction; the search starts
    # from it (or a shorter swap of it that the model confirms) and keeps its
    # start wherever the model does not confirm the refinement.
    X = draw_X(data, "panel", np.float32)
    model = cases["panel"].fitted.model_
    targets = variants["panel", "default"].report(X)["targets"]

    def valid(X_cf):
        return predicted_class(predict_windows(model, X_cf)) == targets

    from_neighbour = valid(variants["panel", "neighbour"].transform(X))
    assert np.all(valid(variants["panel", "default"].transform(X))[from_neighbour])
