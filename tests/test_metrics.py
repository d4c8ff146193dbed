"""The figures in ``metrics`` for generated windows and for the plausibility
of counterfactuals: each tells a faithful set from an unfaithful one, and
refuses what it cannot measure."""

import numpy as np
import pytest

from sklearn_lstm_reshape.metrics import (
    condition_gap,
    discriminative_score,
    diversity,
    lof_outlier_rate,
    lof_outliers,
    predictive_score,
)


def _coupled(n_samples, seed, lag_weight=1.0):
    """Windows whose last feature follows the first with a lag of one step."""
    rng = np.random.RandomState(seed)
    driver = np.cumsum(rng.normal(size=(n_samples, 13)), axis=1) * 0.3
    follower = lag_weight * driver[:, :-1] + 0.05 * rng.normal(size=(n_samples, 12))
    return np.stack([driver[:, 1:], follower], axis=2)  # (n, 12, 2)


def test_boosting_tells_shifted_windows_apart_and_not_a_fresh_draw():
    real, fresh = _coupled(300, 0), _coupled(300, 1)
    assert discriminative_score(real, fresh, classifier="boosting", random_state=0) < 0.15
    assert discriminative_score(real, fresh + 2.0, classifier="boosting", random_state=0) > 0.4


def test_the_gru_tells_shifted_windows_apart_and_not_a_fresh_draw():
    real, fresh = _coupled(300, 0), _coupled(300, 1)
    same = discriminative_score(real, fresh, iterations=300, random_state=0)
    shifted = discriminative_score(real, fresh + 2.0, iterations=300, random_state=0)
    assert same < 0.15
    assert shifted > 0.3


def test_the_discriminative_score_is_seeded():
    real, fresh = _coupled(200, 0), _coupled(200, 1) + 0.3
    first = discriminative_score(real, fresh, iterations=100, random_state=3)
    assert discriminative_score(real, fresh, iterations=100, random_state=3) == first


def test_the_predictive_score_rewards_windows_that_keep_the_dynamics():
    real, fresh = _coupled(300, 0), _coupled(300, 1)
    broken = _coupled(300, 1, lag_weight=-1.0)  # the follower now moves against the driver
    faithful = predictive_score(real, fresh, iterations=2000, random_state=0)
    unfaithful = predictive_score(real, broken, iterations=2000, random_state=0)
    assert faithful < 0.2 * unfaithful


def test_the_predictive_score_takes_one_feature():
    rng = np.random.RandomState(0)
    real = np.cumsum(rng.normal(size=(100, 10)), axis=1)  # 2-D: one feature
    assert np.isfinite(predictive_score(real, real, iterations=50, random_state=0))


def test_diversity_is_one_for_the_same_spread_and_zero_for_a_collapse():
    real, fresh = _coupled(400, 0), _coupled(400, 1)
    assert diversity(real, fresh, random_state=0) == pytest.approx(1.0, abs=0.1)
    collapsed = np.repeat(fresh[:1], 400, axis=0)
    assert diversity(real, collapsed, random_state=0) == 0.0


def test_diversity_refuses_identical_real_windows():
    same = np.ones((10, 4, 2))
    with pytest.raises(ValueError, match="real windows are all identical"):
        diversity(same, _coupled(10, 0)[:, :4])


def test_the_condition_gap_is_per_output_in_units_of_scale():
    gap, by_output = condition_gap([[1.0, 2.0], [3.0, 6.0]], [[1.0, 1.0], [3.0, 3.0]], scale=2.0)
    assert gap == pytest.approx(0.5)
    np.testing.assert_allclose(by_output, [0.0, 1.0])


def test_windows_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match=r"real windows have shape \(12, 2\) and generated ones"):
        discriminative_score(_coupled(20, 0), _coupled(20, 1)[:, :6])
    with pytest.raises(ValueError, match="at least 2 real and 2 generated windows"):
        diversity(_coupled(20, 0), _coupled(1, 1))


def test_an_unknown_classifier_is_refused():
    with pytest.raises(ValueError, match="classifier must be 'gru' or 'boosting'; got 'svm'"):
        discriminative_score(_coupled(20, 0), _coupled(20, 1), classifier="svm")


def test_data_in_the_unit_interval_are_scored_as_given_as_timegan_does():
    from sklearn_lstm_reshape.metrics import _unit_scaled

    rng = np.random.RandomState(0)
    sines_like = 0.5 + 0.5 * rng.uniform(size=(20, 6, 2))  # [0.5, 1], as TimeGAN's sines
    (same,) = _unit_scaled(sines_like, sines_like)
    assert same is sines_like
    raw = 10 + 5 * rng.normal(size=(20, 6, 2))
    (scaled,) = _unit_scaled(raw, raw)
    np.testing.assert_allclose(scaled.reshape(-1, 2).min(axis=0), 0)
    np.testing.assert_allclose(scaled.reshape(-1, 2).max(axis=0), 1)


def test_a_counterfactual_is_judged_against_the_reference_of_its_target_class():
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.normal(size=(60, 4, 2)), rng.normal(5.0, size=(60, 4, 2))])
    classes = np.repeat([0, 1], 60)
    near_zero, near_five = np.zeros((1, 4, 2)), np.full((1, 4, 2), 5.0)
    X_cf = np.concatenate([near_zero, near_five, near_zero])
    targets = np.array([0, 1, 1])  # the last one sits in the other class
    flags = lof_outliers(X_cf, reference, target=targets, reference_classes=classes)
    assert flags.tolist() == [False, False, True]
    assert lof_outlier_rate(
        X_cf, reference, target=targets, reference_classes=classes
    ) == pytest.approx(1 / 3)
    # Without classes, the whole reference: both places are plausible.
    assert not lof_outliers(X_cf, reference).any()


def test_a_target_class_without_reference_is_refused():
    reference = np.zeros((10, 3))
    with pytest.raises(ValueError, match="No reference window has class 2"):
        lof_outliers(np.zeros((1, 3)), reference, target=2, reference_classes=np.zeros(10))
