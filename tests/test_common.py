"""scikit-learn's estimator checks, run on every public estimator in several
configurations: the default model, a given model, a 3-D panel, and each family
of actions and edits (the configurations of imbalanced-learn's INIT_PARAMS)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    check_set_output_transform,
    check_transformer_get_feature_names_out,
    parametrize_with_checks,
)

from sklearn_lstm_reshape import (
    CounterfactualReshaper,
    GenerativeReshaper,
    LatentReshaper,
    ThresholdReshaper,
)

# The checks draw data with anything from 1 to about 20 features, so a given
# model must take any number of features: this LSTM forecasts each feature from
# its own past (channel-independent), with the same weights for every feature.
CHECK_WINDOW = 3


def any_features_forecaster():
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    windows = keras.Input((CHECK_WINDOW, None))
    per_feature = keras.layers.Reshape((-1, CHECK_WINDOW, 1))(keras.layers.Permute((2, 1))(windows))
    hidden = keras.layers.TimeDistributed(keras.layers.LSTM(4))(per_feature)
    forecast = keras.layers.Reshape((-1,))(keras.layers.Dense(1)(hidden))
    return keras.Model(windows, forecast, name="channel_independent_forecaster")


def any_length_classifier():
    """Two classes from a univariate sequence of any length."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((None, 1)),
            keras.layers.LSTM(4),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="any_length_classifier",
    )


# Module-level functions, so that the estimators holding them pickle.
def halve_flagged(X, mask):
    return X / 2


def one_sd_warmer(predictions):
    return predictions + predictions.std(axis=0)


def shrink_codes(codes, predictions):
    return 0.5 * codes


class RowsAsSequences:
    """scikit-learn's checks pass 2-D X only: this adapter of a reshaper takes
    each row of X as one univariate sequence of a 3-D panel, so that the
    checks run the reshaper's panel path (from validation of the 2-D X on)."""

    def _validate_X(self, X, *, reset):
        return super()._validate_X(X, reset=reset)[:, :, np.newaxis]

    def _checked(self, X, X_new):
        return super()._checked(X, X_new)[:, :, 0]

    def _check_rows(self, X, **kwargs):
        """A panel has no series too short to window."""


class ThresholdOnRows(RowsAsSequences, ThresholdReshaper):
    pass


class GenerativeOnRows(RowsAsSequences, GenerativeReshaper):
    pass


class LatentOnRows(RowsAsSequences, LatentReshaper):
    pass


class CounterfactualOnRows(RowsAsSequences, CounterfactualReshaper):
    pass


LSTM = any_features_forecaster()
# Tiny models trained for one epoch: the checks are about the API, not accuracy.
TINY = dict(units=4, epochs=1, random_state=0)
GENERATIVE = dict(latent_dim=2, **TINY)

ESTIMATORS = [
    # ThresholdReshaper: the default model, then each family of actions.
    ThresholdReshaper(window=CHECK_WINDOW, **TINY),
    ThresholdReshaper(LSTM, action="interpolate"),
    ThresholdReshaper(LSTM, action="nan", add_indicator=True),
    ThresholdReshaper(LSTM, action="clip", side="both", per_feature=False),
    ThresholdReshaper(LSTM, action="scale", contamination=0.2),
    ThresholdReshaper(LSTM, action=halve_flagged, score_by="output"),
    # GenerativeReshaper: the default model, a given one under a request
    # (an edit) and under its own predictions (a regeneration).
    GenerativeReshaper(window=CHECK_WINDOW, **GENERATIVE),
    GenerativeReshaper(LSTM, condition=one_sd_warmer, **GENERATIVE),
    GenerativeReshaper(LSTM, mode="regenerate", overlap="last", stochastic=True, **GENERATIVE),
    GenerativeReshaper(LSTM, generator="cgan", condition=one_sd_warmer, **GENERATIVE),
    # LatentReshaper: no model, then each family of edits (a callable on the panel).
    LatentReshaper(window=CHECK_WINDOW, **GENERATIVE),
    LatentReshaper(LSTM, edit="shift", mode="edit", **GENERATIVE),
    LatentReshaper(LSTM, edit="optimize", target=one_sd_warmer, steps=5, **GENERATIVE),
    # CounterfactualReshaper: the default model on a series, a given one.
    CounterfactualReshaper(window=CHECK_WINDOW, steps=5, **TINY),
    CounterfactualReshaper(LSTM, target=one_sd_warmer, steps=5),
]
# Each sequence of a panel is transformed on its own, so unlike a series's
# rows, sequences can be reordered or subset: no check is expected to fail.
PANELS = [
    ThresholdOnRows(**TINY),
    GenerativeOnRows(**GENERATIVE),
    GenerativeOnRows(generator="cgan", **GENERATIVE),
    LatentOnRows(edit=shrink_codes, overlap="last", **GENERATIVE),
    CounterfactualOnRows(steps=5, **TINY),
    CounterfactualOnRows(any_length_classifier(), steps=5),
]

ROW_ORDER = (
    "rows of a 2-D X are consecutive time steps: each row is transformed with "
    "the rows of the windows around it, so {what} changes the output by design"
)
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": ROW_ORDER.format(what="permuting the rows"),
    "check_methods_subset_invariance": ROW_ORDER.format(
        what="transforming a slice (whose first rows lose their history)"
    ),
}


PANEL_EXPECTED_FAILED_CHECKS = {
    "check_fit2d_1feature": (
        "a row of one feature is a sequence of one timestep, which the default "
        "forecaster of a panel refuses (it forecasts step t + 1 from step t) with an "
        "error that names timesteps, not features"
    ),
}


GIVEN_MODEL_EXPECTED_FAILED_CHECKS = {
    **EXPECTED_FAILED_CHECKS,
    "check_estimators_overwrite_params": (
        "the check compares joblib.hash of each parameter with that of its deepcopy, "
        "and a Keras model hashes as its saved archive, which holds the time of "
        "saving and the ids of its objects: the hashes differ with no fit at all "
        "(measured); test_fit_leaves_a_given_model_unchanged checks what the check "
        "means, on the model's configuration, flags and weights"
    ),
}


BATCHED_SEARCH = (
    "the search refines a batch of sequences together and stops when the batch's "
    "loss stops falling, so a subset may stop a few steps earlier or later: its "
    "counterfactuals differ by about 1e-4 (each is still valid)"
)
BATCHED_REFINEMENT = BATCHED_SEARCH.replace("counterfactuals", "refined sequences").replace(
    "(each is still valid)", "(each near its condition)"
)
NOISE_BY_POSITION = (
    "the GAN decodes each sequence from noise drawn for its position in X (seeded by "
    "random_state, as stochastic=True draws the CVAE's codes), so reordered sequences "
    "get other noise"
)


NO_REPAIR_TO_SCORE = (
    "score measures how well the action repairs values hidden from X, and refuses "
    "action='nan', which repairs none (test_score_needs_a_repairing_action pins the error)"
)
SCORE_CHECKS = (
    "check_fit_score_takes_y",
    "check_pipeline_consistency",
    "check_dataframe_column_names_consistency",
)


def refuses_to_score(estimator):
    return isinstance(estimator, ThresholdReshaper) and estimator.action == "nan"


def expected_failed_checks(estimator):
    if refuses_to_score(estimator):
        no_score = dict.fromkeys(SCORE_CHECKS, NO_REPAIR_TO_SCORE)
        return {**GIVEN_MODEL_EXPECTED_FAILED_CHECKS, **no_score}
    if isinstance(estimator, LatentOnRows):
        return {}  # no default forecaster to refuse a one-step sequence
    if isinstance(estimator, CounterfactualOnRows):
        expected = {"check_methods_subset_invariance": BATCHED_SEARCH}
        if estimator.model is None:
            return {**PANEL_EXPECTED_FAILED_CHECKS, **expected}
        overwrite = "check_estimators_overwrite_params"
        return {**expected, overwrite: GIVEN_MODEL_EXPECTED_FAILED_CHECKS[overwrite]}
    if isinstance(estimator, GenerativeOnRows):
        expected = {
            **PANEL_EXPECTED_FAILED_CHECKS,
            "check_methods_subset_invariance": BATCHED_REFINEMENT,
        }
        if estimator.generator == "cgan":
            expected["check_methods_sample_order_invariance"] = NOISE_BY_POSITION
        return expected
    if isinstance(estimator, RowsAsSequences):
        return PANEL_EXPECTED_FAILED_CHECKS
    if estimator.model is not None:
        return GIVEN_MODEL_EXPECTED_FAILED_CHECKS
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    ESTIMATORS + PANELS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        check_param_validation,
        check_set_output_transform,
        check_transformer_get_feature_names_out,
        check_dataframe_column_names_consistency,
    ],
    ids=lambda check: check.__name__,
)
@pytest.mark.parametrize("estimator", ESTIMATORS + PANELS, ids=repr)
def test_checks_outside_the_default_set(estimator, check):
    if refuses_to_score(estimator) and check.__name__ in SCORE_CHECKS:
        pytest.xfail(NO_REPAIR_TO_SCORE)
    check(type(estimator).__name__, estimator)


def model_state(model):
    """What fitting must not change in a given model: its configuration, its
    trainable flags, its compiled state and its weights bit for bit."""
    return (
        repr(model.get_config()),
        [layer.trainable for layer in model._flatten_layers()],
        model.compiled,
        [np.array(weight).tobytes() for weight in model.weights],
    )


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS if e.model is not None], ids=repr)
def test_fit_leaves_a_given_model_unchanged(estimator):
    X = np.random.default_rng(0).normal(size=(30, 3))
    estimator = clone(estimator)
    before = model_state(estimator.model)
    estimator.fit(X).transform(X)
    assert model_state(estimator.model) == before
