"""Preference pairs (labs_common.rl.preferences): candidates sampled purely and seeded, scored in
one pass, and the best and worst of each dialogue kept above a margin."""

from __future__ import annotations

import pytest

from labs_common.prompts import instruction_prompt
from labs_common.rl.preferences import (
    as_continuation,
    build_pairs,
    sample_candidates,
    score_candidates,
)

from tiny_policies import DIALOGUES, lora_t5

pytestmark = pytest.mark.usefixtures("one_thread")


def test_build_pairs_takes_best_and_worst_above_the_threshold():
    dialogues = ["d0", "d1", "d2", "d3", "d4"]
    candidates = [
        ["a", "b", "c"],  # margin 3: kept, chosen b, rejected c
        ["same", "same", "same"],  # identical texts: dropped
        ["x", "y", "z"],  # margin 0.5: below the threshold
        ["p", "q", "p", "r"],  # ties: the first best (q, not r) and the first worst (p)
        ["m", "n", "m"],  # a repeated text keeps its first score: margin 2
    ]
    scores = [[1.0, 2.0, -1.0], [0.0, 5.0, 9.0], [0.0, 0.5, 0.2], [0.0, 4.0, 0.0, 4.0],
              [3.0, 1.0, 0.0]]
    pairs = build_pairs(dialogues, candidates, scores, min_margin=1.0)
    assert [(r["chosen"], r["rejected"], r["margin"]) for r in pairs] == [
        ("b", "c", 3.0), ("q", "p", 4.0), ("m", "n", 2.0)
    ]
    assert [r["dialogue_index"] for r in pairs] == [0, 3, 4]
    assert pairs[0]["prompt"] == instruction_prompt("d0")
    assert (pairs.kept, pairs.total, pairs.dropped_identical, pairs.dropped_margin) == (3, 5, 1, 1)
    assert "3 of 5" in pairs.summary() and "1 with identical" in pairs.summary()
    assert all(r["chosen"] != r["rejected"] for r in pairs)
    again = build_pairs(dialogues, candidates, scores, min_margin=1.0)
    assert again.rows == pairs.rows
    # A lower threshold keeps the 0.5 margin; a tie (margin 0) is never a pair.
    assert len(build_pairs(dialogues, candidates, scores, min_margin=0.5)) == 4
    tie = build_pairs(["d"], [["u", "v"]], [[1.0, 1.0]], min_margin=0.0)
    assert len(tie) == 0 and tie.dropped_margin == 1
    dataset = pairs.to_dataset()
    assert dataset.column_names[:4] == ["prompt", "chosen", "rejected", "margin"]
    assert len(dataset) == 3


def test_build_pairs_rejects_mismatched_or_non_finite_inputs():
    with pytest.raises(ValueError, match="one of each"):
        build_pairs(["d0", "d1"], [["a", "b"]], [[0.0, 1.0]], 0.1)
    with pytest.raises(ValueError, match="2 candidates but 1 scores"):
        build_pairs(["d0"], [["a", "b"]], [[0.0]], 0.1)
    with pytest.raises(ValueError, match="not finite"):
        build_pairs(["d0"], [["a", "b"]], [[0.0, float("nan")]], 0.1)


def test_score_candidates_keeps_the_shape():
    calls = []

    def reward(texts):
        calls.append(list(texts))
        return [len(t) for t in texts]

    assert score_candidates([["a", "bb"], ["ccc", "d", "ee"]], reward) == [[1, 2], [3, 1, 2]]
    assert len(calls) == 1  # one pass over the reward model
    with pytest.raises(ValueError, match="scores for"):
        score_candidates([["a", "b"]], lambda texts: [0.0])


def test_sample_candidates_is_seeded_and_ignores_the_generation_config(tiny_t5, word_tokenizer):
    policy = lora_t5(tiny_t5)
    settings = {"seed": 3, "max_new_tokens": 6}
    first = sample_candidates(policy, word_tokenizer, DIALOGUES, 4, **settings)
    assert [len(texts) for texts in first] == [4, 4, 4]
    assert len({text for texts in first for text in texts}) > 3  # sampled, not greedy
    assert sample_candidates(policy, word_tokenizer, DIALOGUES, 4, **settings) == first
    # A temperature in the model's generation_config would change the samples: it is ignored.
    policy.get_base_model().generation_config.temperature = 0.05
    assert sample_candidates(policy, word_tokenizer, DIALOGUES, 4, **settings) == first
    assert policy.get_base_model().generation_config.temperature == 0.05  # restored
    with pytest.raises(ValueError, match="at least 1"):
        sample_candidates(policy, word_tokenizer, DIALOGUES, 0, **settings)


def test_a_causal_response_continues_its_prompt_after_one_space():
    assert as_continuation("Summary:", "They meet.") == " They meet."
    assert as_continuation("Summary: ", "They meet.") == "They meet."  # the prompt has it
    assert as_continuation("Summary:", " They meet.") == " They meet."  # the response has it
    assert as_continuation("Summary:\n", "They meet.") == "They meet."
    assert as_continuation("Summary:", "") == ""
    assert as_continuation("", "They meet.") == "They meet."
