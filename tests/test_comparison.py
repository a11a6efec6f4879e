"""Comparing methods on the same judges (labs_common.comparison): each change with its paired
interval, the table for reading and the record for the results."""

from __future__ import annotations

from labs_common import comparison


class _FakeJudge:
    def toxicity(self, texts, progress=False):
        return [1.0 if "idiot" in t else 0.0 for t in texts]


BEFORE = ["you idiot", "hello there", "idiot again", "fine day"]
AFTER = ["hello", "hello there", "a fine answer", "fine day"]
REFERENCES = ["hello there", "hello there", "a fine answer", "fine day"]


def test_method_comparison_reports_each_change_with_its_paired_interval():
    row = comparison.method_comparison(BEFORE, AFTER, REFERENCES, _FakeJudge(),
                                       _FakeJudge(), kl=0.25, seconds=12.0, seed=0)
    assert row["toxicity (reward model), before"] == 0.5
    assert row["toxicity (reward model), after"] == 0.0
    assert row["toxicity (reward model), change"] == -0.5
    low, high = row["toxicity (reward model), change 95 % CI"]
    assert low <= -0.5 <= high <= 0
    assert row["ROUGE-1, change"] > 0 and row["KL to the start"] == 0.25
    table = comparison.comparison_table({"PPO": row})
    assert table.loc["toxicity (reward model), change", "PPO"] == "-0.500"
    assert table.loc["training seconds", "PPO"] == "12"


def test_the_record_keeps_what_a_rerun_reproduces_and_leaves_out_the_time():
    row = comparison.method_comparison(BEFORE, AFTER, REFERENCES, _FakeJudge(), _FakeJudge(),
                                       kl=None, seconds=3.0, seed=0)
    record = comparison.comparison_record(row, pairs=7)
    assert record["toxicity_mean"] == {"before": 0.5, "after": 0.0}
    assert record["second_judge"]["toxicity_mean"] == {"before": 0.5, "after": 0.0}
    low, high = record["ci"]["toxicity_mean"]["after_minus_before"]
    assert low <= -0.5 <= high
    assert record["pairs"] == 7 and record["kl_to_start"] != record["kl_to_start"]  # NaN
    assert "training seconds" not in str(record) and "seconds" not in record
