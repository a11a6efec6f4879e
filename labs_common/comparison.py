"""Comparing training methods on the same judges (Lab 4): PPO, GRPO and DPO side by side.

:func:`method_comparison` gives one method's row: what its training changed in toxicity (the
reward model and the second judge), ROUGE-1 and length, each with a 95 % paired interval
over the test dialogues, plus its KL to the starting policy and its training time.
:func:`comparison_table` shows several rows for reading, and :func:`comparison_record` keeps
a row's reproducible figures for the lab's results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from labs_common.detox_evaluation import word_counts
from labs_common.metrics import rouge_per_example
from labs_common.stats import paired_difference_ci


def method_comparison(
    before: Sequence[str],
    after: Sequence[str],
    references: Sequence[str],
    reward_model,
    judge,
    *,
    kl: float | None,
    seconds: float,
    seed: int = 0,
) -> dict:
    """One method's row of the comparison tables: what changed, with 95 % paired intervals.

    ``before`` and ``after`` are one summary per test dialogue from the starting policy and
    from the trained one (the same dialogues, the same decoding). Toxicity is scored by the
    reward model and by the judge, quality by ROUGE-1 against the human summaries, and
    length in words; ``kl`` (KL to the starting policy, nats per summary) and ``seconds``
    come from the run.
    """
    row: dict = {}
    measures = {
        "toxicity (reward model)": (reward_model.toxicity(list(before)),
                                    reward_model.toxicity(list(after))),
        "toxicity (second judge)": (judge.toxicity(list(before)), judge.toxicity(list(after))),
        "ROUGE-1": (rouge_per_example(before, references)["rouge1"],
                    rouge_per_example(after, references)["rouge1"]),
        "words": ([float(n) for n in word_counts(before)], [float(n) for n in word_counts(after)]),
    }
    for name, (was, now) in measures.items():
        interval = paired_difference_ci(now, was, seed=seed)
        row[f"{name}, before"] = float(np.mean(was))
        row[f"{name}, after"] = float(np.mean(now))
        row[f"{name}, change"] = interval.estimate
        row[f"{name}, change 95 % CI"] = (interval.low, interval.high)
    row["KL to the start"] = float("nan") if kl is None else float(kl)
    row["training seconds"] = float(seconds)
    return row


def comparison_record(row: Mapping, **extra) -> dict:
    """A :func:`method_comparison` row as a lab records it in its results: means before and
    after, the paired intervals, the KL to the start, and ``extra`` (e.g. ``pairs=...``).
    Training seconds are left out: they differ from run to run, the rest does not."""
    def before_after(name):
        return {"before": row[f"{name}, before"], "after": row[f"{name}, after"]}

    return {
        "toxicity_mean": before_after("toxicity (reward model)"),
        "second_judge": {"toxicity_mean": before_after("toxicity (second judge)")},
        "rouge1": before_after("ROUGE-1"),
        "ci": {"toxicity_mean": {"after_minus_before":
                                 list(row["toxicity (reward model), change 95 % CI"])},
               "rouge1": {"after_minus_before": list(row["ROUGE-1, change 95 % CI"])}},
        "kl_to_start": row["KL to the start"],
        **extra,
    }


def comparison_table(rows: Mapping[str, dict], digits: int = 3) -> pd.DataFrame:
    """The rows of :func:`method_comparison`, one column per method, intervals as text."""
    shown = {}
    for method, row in rows.items():
        column = {}
        for key, value in row.items():
            if isinstance(value, tuple):
                column[key] = f"{value[0]:+.{digits}f} to {value[1]:+.{digits}f}"
            elif key.endswith(", change"):
                column[key] = f"{value:+.{digits}f}"
            else:
                column[key] = f"{value:.{digits}f}" if key != "training seconds" else f"{value:.0f}"
        shown[method] = column
    return pd.DataFrame(shown)
