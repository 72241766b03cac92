"""The metric functions on cases with known answers."""

import numpy as np
import pytest
from scipy import linalg

from gan_keras.scoring import metrics


def test_identical_sets_have_zero_distance():
    features = np.random.default_rng(0).normal(size=(2000, 16))
    assert metrics.frechet_distance_of(features, features) == pytest.approx(0.0, abs=1e-6)


def test_gaussians_match_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    sigma1, sigma2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    root1 = linalg.sqrtm(sigma1).real
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                - 2 * np.trace(linalg.sqrtm(root1 @ sigma2 @ root1).real))
    assert metrics.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-9)


def test_diagonal_gaussians_by_hand():
    # Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(s1) - sqrt(s2))^2 for diagonal covariances.
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, 1.0])
    sigma1, sigma2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    assert metrics.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(9 + 4 + 1)


def test_sampled_gaussians_approach_the_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal(0.0, 1.0, size=(200_000, 3))
    b = rng.normal(0.5, 2.0, size=(200_000, 3))
    assert metrics.frechet_distance_of(a, b) == pytest.approx(3 * 0.25 + 3 * (2 - 1) ** 2, rel=0.02)


def test_singular_covariances_stay_real_and_finite():
    collapsed = np.ones((100, 8))
    value = metrics.frechet_distance_of(collapsed, np.random.default_rng(3).normal(size=(500, 8)))
    assert np.isfinite(value) and isinstance(value, float)


def test_inception_score_extremes():
    one_class = np.tile(np.eye(10)[3], (500, 1))
    assert metrics.inception_score(one_class) == pytest.approx(1.0)
    confident_even = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(confident_even) == pytest.approx(10.0, rel=1e-6)
    uncertain = np.full((100, 10), 0.1)
    assert metrics.inception_score(uncertain) == pytest.approx(1.0)


def test_class_histogram_and_collapse():
    probabilities = np.eye(10)[[7] * 95 + [1] * 5]
    shares = metrics.class_histogram(probabilities, 10)
    assert shares[7] == pytest.approx(0.95) and shares.sum() == pytest.approx(1.0)
    assert shares.min() == 0.0


def test_nearest_distances_and_memorization():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(500, 5))
    assert metrics.nearest_distances(train[:10], train) == pytest.approx(np.zeros(10), abs=1e-3)
    test = rng.normal(size=(300, 5))
    test_nearest = metrics.nearest_distances(test, train)
    brute = np.sqrt(((test[:, None, :] - train[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(test_nearest, brute, rtol=1e-4)
    copies = train[:200] + rng.normal(scale=1e-3, size=(200, 5))
    assert metrics.memorization_share(metrics.nearest_distances(copies, train), test_nearest) == 1.0
    fresh = metrics.nearest_distances(rng.normal(size=(2000, 5)), train)
    assert metrics.memorization_share(fresh, test_nearest) == pytest.approx(0.05, abs=0.03)
