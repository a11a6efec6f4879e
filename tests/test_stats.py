import numpy as np
import pytest

from labs_common.stats import paired_difference_ci

RNG = np.random.default_rng(0)
BEFORE = RNG.normal(0.3, 0.1, 60)
AFTER = BEFORE + RNG.normal(0.05, 0.05, 60)


def test_constant_difference_gives_a_zero_width_interval_at_that_value():
    interval = paired_difference_ci([0.5, 0.7, 0.9], [0.3, 0.5, 0.7])
    assert interval.low == interval.high == pytest.approx(0.2)
    assert interval.estimate == pytest.approx(0.2)


def test_swapping_the_samples_negates_the_interval():
    forward = paired_difference_ci(AFTER, BEFORE, seed=1)
    backward = paired_difference_ci(BEFORE, AFTER, seed=1)
    assert backward.estimate == pytest.approx(-forward.estimate)
    assert backward.low == pytest.approx(-forward.high, abs=2e-3)
    assert backward.high == pytest.approx(-forward.low, abs=2e-3)


def test_more_samples_give_a_narrower_interval():
    rng = np.random.default_rng(1)
    small_b = rng.normal(0, 1, 20)
    large_b = rng.normal(0, 1, 500)
    small = paired_difference_ci(small_b + rng.normal(0.2, 1, 20), small_b)
    large = paired_difference_ci(large_b + rng.normal(0.2, 1, 500), large_b)
    assert (large.high - large.low) < (small.high - small.low) / 2


def test_interval_contains_the_estimate_and_is_seeded():
    first = paired_difference_ci(AFTER, BEFORE, seed=3)
    again = paired_difference_ci(AFTER, BEFORE, seed=3)
    assert first == again
    assert first.low < first.estimate < first.high
    assert first.excludes_zero and first.low > 0


def test_no_difference_straddles_zero():
    rng = np.random.default_rng(2)
    before = rng.normal(0, 1, 100)
    interval = paired_difference_ci(before + rng.normal(0, 0.5, 100), before)
    assert interval.low < 0 < interval.high


def test_mismatched_or_tiny_inputs_are_refused():
    with pytest.raises(ValueError, match="equal-length"):
        paired_difference_ci([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least two"):
        paired_difference_ci([1.0], [0.0])
