"""The skeleton every strategy fills: public methods written once, one output
check, renamed parameters, shared docstring texts."""

import re
import warnings

import numpy as np
import pytest

from sklearn_lstm_reshape import GenerativeReshaper, LatentReshaper, ThresholdReshaper
from sklearn_lstm_reshape._base import BaseReshaper

from .conftest import WINDOW

STRATEGIES = [ThresholdReshaper, GenerativeReshaper, LatentReshaper]


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda cls: cls.__name__)
def test_strategies_fill_hooks_and_define_no_public_method_of_the_skeleton(cls):
    for name in ("fit", "transform", "report", "fit_transform"):
        assert name not in vars(cls), f"{cls.__name__} defines {name}"
        assert getattr(cls, name) is getattr(BaseReshaper, name)
    for hook in ("_fit_strategy", "_edit", "_report"):
        assert hook in vars(cls)


class Shift(BaseReshaper):
    """A whole strategy in a few lines: add ``offset`` to X, no model needed."""

    _trains_default_model = False
    _transform_params = (*BaseReshaper._transform_params, "misbehave")

    def __init__(
        self,
        model=None,
        *,
        offset=1.0,
        window=None,
        units=32,
        epochs=1,
        predict_batch_size=4096,
        verbose=0,
        random_state=None,
        misbehave=None,
    ):
        self.model = model
        self.offset = offset
        self.window = window
        self.units = units
        self.epochs = epochs
        self.predict_batch_size = predict_batch_size
        self.verbose = verbose
        self.random_state = random_state
        self.misbehave = misbehave

    _parameter_constraints = {
        **BaseReshaper._parameter_constraints,
        "offset": [float],
        "misbehave": [None, str],
    }

    def _fit_strategy(self, X, predictions):
        self.mean_ = X.mean(axis=0)

    def _edit(self, X, predictions, details):
        if self.misbehave == "view":
            return X
        if self.misbehave == "shape":
            return X[1:] + self.offset
        if self.misbehave == "dtype":
            return (X + self.offset).astype(np.float16)
        if self.misbehave == "overflow":  # as float32 networks do far from their data
            return np.where(X > 15, np.inf, X + self.offset)
        if self.misbehave == "write":
            X[0, 0] = 0.0
        if details is not None:
            details["offset"] = self.offset
        return X + self.offset

    def _report(self, X, X_new, predictions, details):
        return {"mean_change": float(np.mean(X_new - X)), "offset": details["offset"]}


def test_a_strategy_of_three_hooks_gets_fit_transform_and_report():
    X = np.arange(20.0).reshape(10, 2)
    shift = Shift(offset=2.0, window=4).fit(X)
    assert shift.model_ is None and shift.window_ == 4
    np.testing.assert_array_equal(shift.transform(X), X + 2.0)
    assert shift.report(X) == {"mean_change": 2.0, "offset": 2.0}
    np.testing.assert_array_equal(shift.mean_, X.mean(axis=0))


@pytest.mark.parametrize(
    ("misbehave", "error", "message"),
    [
        ("view", RuntimeError, "sharing memory with X: True"),
        (
            "shape",
            RuntimeError,
            r"array of shape \(9, 2\).*expected a new array of shape \(10, 2\)",
        ),
        ("dtype", RuntimeError, "dtype float16"),
        ("write", ValueError, "read-only"),
        (
            "overflow",
            ValueError,
            r"Shift produced 4 non-finite value\(s\) from finite X \(in rows 8, 9\)",
        ),
    ],
)
def test_the_output_check_catches_a_strategy_that_breaks_the_contract(misbehave, error, message):
    X = np.arange(20.0).reshape(10, 2)
    original = X.copy()
    shift = Shift(window=4).fit(X).set_params(misbehave=misbehave)
    with pytest.raises(error, match=message):
        shift.transform(X)
    np.testing.assert_array_equal(X, original)


# -- renamed parameters --------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_generative(series):
    return GenerativeReshaper(
        window=WINDOW, latent_dim=2, units=4, epochs=1, condition=lambda p: p + 1.0,
        random_state=0,
    ).fit(series.X_clean[:200])  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (dict(fold="last"), dict(overlap="last")),
        (dict(residual=False), dict(mode="regenerate")),
        (dict(residual=True), dict(mode="edit")),
        (dict(residual="auto"), dict(mode="auto")),
    ],
    ids=str,
)
def test_an_old_name_means_what_its_new_name_means(fitted_generative, series, old, new):
    X = series.X[200:300]
    params = fitted_generative.get_params()
    try:
        by_new = fitted_generative.set_params(**new).transform(X)
        fitted_generative.set_params(**{name: params[name] for name in new})
        by_old = fitted_generative.set_params(**old).transform(X)
    finally:
        fitted_generative.set_params(**{name: params[name] for name in [*old, *new]})
    np.testing.assert_array_equal(by_old, by_new)


@pytest.mark.parametrize(
    ("cls", "old", "new"),
    [
        (ThresholdReshaper, dict(batch_size=64), "predict_batch_size=64"),
        (GenerativeReshaper, dict(fold="last"), "overlap='last'"),
        (GenerativeReshaper, dict(residual=True), "mode='edit'"),
        (LatentReshaper, dict(fold="last"), "overlap='last'"),
        (LatentReshaper, dict(residual=True), "mode='edit'"),
    ],
    ids=str,
)
def test_fitting_with_an_old_name_warns_and_names_the_new_one(cls, old, new, series):
    name = next(iter(old))
    reshaper = cls(window=WINDOW, units=4, epochs=1, random_state=0, **old)
    if cls is not ThresholdReshaper:
        reshaper.set_params(latent_dim=2)
    message = (
        rf"'{name}' was renamed '{new.split('=')[0]}' in 0.2 and will be removed in 0.3; "
        rf"set {re.escape(new)} instead"
    )
    with pytest.warns(FutureWarning, match=message):
        reshaper.fit(series.X_clean[:100])


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (
            ThresholdReshaper,
            dict(batch_size=64, predict_batch_size=128),
            r"'batch_size' was renamed 'predict_batch_size': set 'predict_batch_size' only, "
            r"not both \(got batch_size=64 and predict_batch_size=128\)",
        ),
        (
            LatentReshaper,
            dict(residual=True, mode="edit"),
            r"'residual' was renamed 'mode': set 'mode' only, not both",
        ),
    ],
)
def test_an_old_and_a_new_name_together_are_refused(cls, params, message, series):
    with pytest.raises(ValueError, match=message):
        cls(window=WINDOW, epochs=1, **params).fit(series.X_clean[:100])


def test_new_names_fit_without_a_warning(series):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        ThresholdReshaper(window=WINDOW, units=4, epochs=1, predict_batch_size=64,
                          random_state=0).fit(series.X_clean[:100])  # fmt: skip


# -- shared docstrings -------------------------------------------------------------


@pytest.mark.parametrize(
    "documented",
    [
        *STRATEGIES,
        BaseReshaper.transform,
        BaseReshaper.report,
        ThresholdReshaper.flag,
        ThresholdReshaper.score_samples,
    ],
    ids=lambda obj: obj.__qualname__,
)
def test_shared_docstring_texts_are_filled_in(documented):
    doc = documented.__doc__
    assert "{{" not in doc and "}}" not in doc and "{default}" not in doc
    if isinstance(documented, type):
        # The shared texts stand at the indentation of the section they are in.
        assert "\n    window : int or None, default=None\n        Rows per window" in doc
        assert "\n    n_features_in_ : int\n        Number of features" in doc


def test_a_shared_text_with_a_blank_must_be_given_its_value():
    from sklearn_lstm_reshape.utils._docstrings import fill_doc

    def undocumented():
        """Nothing.

        Parameters
        ----------
        {{epochs}}
        """

    with pytest.raises(KeyError, match="default"):
        fill_doc(undocumented)
