"""Confidence intervals for the labs' comparisons (paired bootstrap).

Every headline comparison in the labs is a difference of means over the same test
examples: ROUGE with and without an instruction, toxicity before and after PPO,
correct answers with and without examples. The paired bootstrap resamples the
examples (keeping each example's two scores together), recomputes the mean difference
many times, and reads the 95 % interval off that distribution (scipy's BCa method).

How to read it: if the interval excludes zero, the difference is unlikely to be an
accident of which examples were drawn; if it straddles zero, the data cannot tell the
two settings apart, whatever the point estimate says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Interval:
    """A point estimate of a mean difference with its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_list(self) -> list[float]:
        return [self.low, self.high]

    def __str__(self) -> str:
        return (
            f"{self.estimate:+.3f} ({self.confidence:.0%} CI {self.low:+.3f} to "
            f"{self.high:+.3f}, n={self.n})"
        )


def paired_difference_ci(
    after: Sequence[float],
    before: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of ``mean(after - before)`` over paired examples.

    ``after[i]`` and ``before[i]`` must score the same example. Deterministic for a
    given ``seed``. A constant difference gives a zero-width interval at that value.
    """
    a = np.asarray(after, dtype=float)
    b = np.asarray(before, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"Paired scores need two equal-length lists; got {a.shape} and {b.shape}.")
    if a.size < 2:
        raise ValueError("A confidence interval needs at least two paired examples.")
    differences = a - b
    estimate = float(differences.mean())
    if np.allclose(differences, differences[0]):
        return Interval(estimate, estimate, estimate, int(a.size), confidence)
    result = scipy_stats.bootstrap(
        (differences,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="BCa",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), int(a.size), confidence)


def mean_ci(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """Bootstrap interval of ``mean(values)``: how precisely a sample pins down its mean.

    The same bootstrap as :func:`paired_difference_ci`, on the values themselves; the labs
    draw it as error bars on their score plots.
    """
    values = np.asarray(values, dtype=float)
    return paired_difference_ci(values, np.zeros_like(values), confidence=confidence,
                                resamples=resamples, seed=seed)
