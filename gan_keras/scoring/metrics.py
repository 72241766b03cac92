"""Sample-quality metrics on classifier features and class probabilities (NumPy/SciPy only)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)) between two Gaussians, in float64.

    ``sqrtm`` of a product of covariances can come back slightly complex or
    singular from round-off: a small ridge is added when it is not finite, and an
    imaginary part is dropped only if it is negligible.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular products are handled below
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            ridge = np.eye(len(sigma1)) * 1e-6
            covmean = linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    if np.iscomplexobj(covmean):
        largest_imaginary = np.max(np.abs(covmean.imag))
        if largest_imaginary > 1e-3 * max(1.0, np.max(np.abs(covmean.real))):
            raise ValueError(f"matrix square root has a large imaginary part ({largest_imaginary:.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean), 0.0))


def frechet_distance_of(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))


def inception_score(probabilities: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))): 1 for one class, the class count for confident, even samples."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def class_histogram(probabilities: np.ndarray, classes: int) -> np.ndarray:
    """Share of samples the classifier puts in each class (sums to 1)."""
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=classes)
    return counts / max(counts.sum(), 1)


def nearest_distances(queries: np.ndarray, references: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row."""
    queries, references = np.asarray(queries, np.float32), np.asarray(references, np.float32)
    reference_norms = np.sum(references**2, axis=1)
    nearest = np.empty(len(queries), np.float64)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk]
        squared = np.sum(block**2, axis=1)[:, None] - 2.0 * block @ references.T + reference_norms[None, :]
        nearest[start:start + chunk] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return nearest


def memorization_share(sample_distances: np.ndarray, test_distances: np.ndarray, quantile: float = 0.05) -> float:
    """Share of samples closer to their nearest training image than all but ``quantile`` of real test images.

    Real held-out images score about ``quantile``; a generator that copies training
    images scores far above it.
    """
    threshold = np.quantile(test_distances, quantile)
    return float(np.mean(np.asarray(sample_distances) < threshold))


def kl_from_uniform(counts: np.ndarray) -> float:
    """KL divergence of the histogram ``counts`` from the uniform distribution over its bins."""
    shares = np.asarray(counts, np.float64) / max(np.sum(counts), 1)
    present = shares > 0
    return float(np.sum(shares[present] * np.log(shares[present] * len(shares))))


def mode_statistics(digits: np.ndarray, modes: int = 1000) -> dict:
    """Stacked MNIST's mode figures from each sample's digits (N, 3), R's first: the modes covered of ``modes``,
    the KL divergence of the mode histogram from uniform, the rarest and the most common mode, and each channel's
    digit histogram's KL from uniform (where the modes' KL comes from when the channels are independent: it is
    then their sum)."""
    digits = np.asarray(digits, np.int64)
    places = 10 ** np.arange(digits.shape[1] - 1, -1, -1)
    counts = np.bincount(digits @ places, minlength=modes)
    return {"modes_covered": int((counts > 0).sum()), "kl_from_uniform": kl_from_uniform(counts),
            "rarest_mode": int(np.argmin(counts)), "rarest_mode_samples": int(counts.min()),
            "commonest_mode": int(np.argmax(counts)), "commonest_mode_samples": int(counts.max()),
            "channel_digit_kl": [kl_from_uniform(np.bincount(channel, minlength=10)) for channel in digits.T]}


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): the unbiased squared MMD with the kernel (x.y / d + 1)^3, averaged over random
    subsets of ``subset_size`` from each set (all of the smaller set where it is smaller); (mean, std)."""
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    size = min(subset_size, len(features_a), len(features_b))
    dimensions, rng, estimates = features_a.shape[1], np.random.default_rng(seed), []
    for _ in range(subsets):
        a = features_a[rng.choice(len(features_a), size, replace=False)]
        b = features_b[rng.choice(len(features_b), size, replace=False)]
        k_aa, k_bb = (a @ a.T / dimensions + 1) ** 3, (b @ b.T / dimensions + 1) ** 3
        k_ab = (a @ b.T / dimensions + 1) ** 3
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (size * (size - 1))
        estimates.append(within - 2 * k_ab.mean())
    return float(np.mean(estimates)), float(np.std(estimates))
