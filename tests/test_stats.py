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


def test_interval_is_scipy_s_bca_bootstrap_with_the_given_settings():
    from scipy import stats as scipy_stats

    for confidence, resamples, seed in [(0.95, 2000, 0), (0.9, 500, 4)]:
        expected = scipy_stats.bootstrap(
            (AFTER - BEFORE,), np.mean, confidence_level=confidence, n_resamples=resamples,
            method="BCa", random_state=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        settings = {"confidence": confidence, "resamples": resamples, "seed": seed}
        if seed == 0:
            settings = {}  # the defaults: 95 %, 2000 resamples, seed 0
        interval = paired_difference_ci(AFTER, BEFORE, **settings)
        assert (interval.low, interval.high) == (expected.low, expected.high)
        assert (interval.n, interval.confidence) == (60, confidence)
        assert interval.estimate == pytest.approx(float(np.mean(AFTER - BEFORE)))


def test_two_examples_and_boolean_scores_are_enough():
    interval = paired_difference_ci([0.5, 0.7], [0.3, 0.5], confidence=0.9)
    assert interval == paired_difference_ci([0.5, 0.7], [0.3, 0.5], confidence=0.9)
    assert (interval.low, interval.high, interval.n, interval.confidence) == pytest.approx(
        (0.2, 0.2, 2, 0.9)
    )
    # Correct/incorrect answers as booleans: differences of booleans are taken as numbers.
    flags = paired_difference_ci([True, True, False, True], [True, True, True, True])
    assert flags.estimate == pytest.approx(-0.25) and flags.n == 4
    with pytest.raises(ValueError, match="^A confidence interval needs at least two"):
        paired_difference_ci([1.0], [0.0])


def test_mean_ci_brackets_the_mean_and_narrows_with_more_data():
    from labs_common import stats

    rng = np.random.default_rng(0)
    small = stats.mean_ci(rng.normal(1.0, 1.0, 20), seed=0)
    large = stats.mean_ci(rng.normal(1.0, 1.0, 500), seed=0)
    assert small.low < small.estimate < small.high
    assert (large.high - large.low) < (small.high - small.low) / 3
    assert stats.mean_ci([0.5, 0.5, 0.5]).as_list() == [0.5, 0.5]


def test_mean_ci_is_scipy_s_bca_bootstrap_of_the_values_with_the_given_settings():
    from scipy import stats as scipy_stats

    from labs_common.stats import mean_ci

    values = AFTER - BEFORE
    for confidence, resamples, seed in [(0.95, 2000, 0), (0.9, 500, 4)]:
        expected = scipy_stats.bootstrap(
            (values,), np.mean, confidence_level=confidence, n_resamples=resamples,
            method="BCa", random_state=np.random.default_rng(seed),
        ).confidence_interval  # fmt: skip
        settings = {"confidence": confidence, "resamples": resamples, "seed": seed}
        if seed == 0:
            settings = {}  # the defaults: 95 %, 2000 resamples, seed 0
        interval = mean_ci(values, **settings)
        assert (interval.low, interval.high) == (expected.low, expected.high)
        assert (interval.n, interval.confidence) == (60, confidence)
        assert interval.estimate == pytest.approx(float(np.mean(values)))
