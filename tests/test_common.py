"""scikit-learn's estimator checks, run on every public estimator."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    check_set_output_transform,
    check_transformer_get_feature_names_out,
    parametrize_with_checks,
)

from sklearn_lstm_reshape import GenerativeReshaper, LatentReshaper, ThresholdReshaper

# Tiny models trained for one epoch: the checks are about the API, not accuracy.
ESTIMATORS = [
    ThresholdReshaper(window=3, units=4, epochs=1, random_state=0),
    GenerativeReshaper(window=3, latent_dim=2, units=4, epochs=1, random_state=0),
    LatentReshaper(window=3, latent_dim=2, units=4, epochs=1, random_state=0),
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


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
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
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_checks_outside_the_default_set(estimator, check):
    check(type(estimator).__name__, estimator)
