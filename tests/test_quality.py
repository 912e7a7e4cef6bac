"""The quality benchmark's arithmetic (bench/quality.py), on data whose answer is known."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import quality  # noqa: E402


def test_frechet_distance_of_a_sample_with_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(2000, 8))
    assert quality.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_of_a_shifted_sample_is_the_squared_shift():
    a = np.random.default_rng(0).normal(size=(2000, 4))
    assert quality.frechet_distance(a, a + 3.0) == pytest.approx(4 * 9.0, rel=1e-6)


def test_frechet_distance_of_a_scaled_gaussian_follows_the_formula():
    # N(0, I) against N(0, 4 I) in d dimensions: d * (1 + 4 - 2 * 2) = d
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200000, 3)), 2 * rng.normal(size=(200000, 3))
    assert quality.frechet_distance(a, b) == pytest.approx(3.0, rel=0.02)


def test_blur_keeps_a_flat_image_and_spreads_a_dot():
    flat = np.full((1, 784), 0.5)
    np.testing.assert_allclose(quality.blurred(flat), flat)
    dot = np.full((1, 28, 28), -1.0)
    dot[0, 14, 14] = 1.0
    spread = quality.blurred(dot.reshape(1, 784)).reshape(28, 28)
    assert spread[14, 14] < 1.0 and spread[13, 13] > -1.0 and spread[0, 0] == -1.0
