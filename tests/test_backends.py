"""What must hold on every Keras backend: the subset CI also runs on TensorFlow and torch.

Each estimator is fitted, transforms, pickles to the same result and fits again to the
same result under one random_state. Tests elsewhere marked ``backend`` add the search
flipping a classifier and the CVAE and conditional GAN learning. All run on whichever
backend ``KERAS_BACKEND`` names (JAX in the main suite).
"""

import pickle

import numpy as np
import pytest

from sklearn_lstm_reshape import (
    CounterfactualReshaper,
    GenerativeReshaper,
    LatentReshaper,
    ThresholdReshaper,
)

from .conftest import WINDOW

pytestmark = pytest.mark.backend

SMALL = dict(window=WINDOW, random_state=0)
ESTIMATORS = {
    "threshold": lambda model: ThresholdReshaper(model, **SMALL),
    "threshold, own model": lambda model: ThresholdReshaper(None, epochs=5, units=8, **SMALL),
    "generative": lambda model: GenerativeReshaper(
        model, latent_dim=4, units=8, epochs=3, refine_steps=5, **SMALL
    ),
    "generative, cgan": lambda model: GenerativeReshaper(
        model, generator="cgan", latent_dim=4, units=8, epochs=3, refine_steps=0, **SMALL
    ),
    "latent": lambda model: LatentReshaper(model, latent_dim=4, units=8, epochs=3, **SMALL),
    "counterfactual, series": lambda model: CounterfactualReshaper(
        model,
        rows=np.arange(40, 50),
        steps=5,
        **SMALL,
    ),
}


def test_the_backend_is_the_one_asked_for():
    import os

    from sklearn_lstm_reshape._keras import import_keras

    asked = os.environ.get("KERAS_BACKEND", "jax")
    assert import_keras().backend.backend() == asked


@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit_transform_pickle_and_refit_agree(name, series, forecaster):
    train, new = series.X_clean[:240], series.X[240:320]
    fitted = ESTIMATORS[name](forecaster).fit(train)
    X_new = fitted.transform(new)
    assert X_new.shape == new.shape and np.isfinite(X_new).all()

    unpickled = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(unpickled.transform(new), X_new)

    refitted = ESTIMATORS[name](forecaster).fit(train)
    np.testing.assert_allclose(refitted.transform(new), X_new, rtol=1e-5, atol=1e-6)


def test_the_default_repairs_the_flagged_rows(series, forecaster):
    reshaper = ThresholdReshaper(forecaster, **SMALL).fit(series.X_clean[:300])
    X = series.X[300:]
    flags = reshaper.flag(X)
    X_new = reshaper.transform(X)
    assert flags.any()
    changed = (X_new != X).any(axis=1)
    assert changed[flags.any(axis=1)].all() and not changed[~flags.any(axis=1)].any()
