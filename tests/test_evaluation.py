from collections import Counter

import pytest

from labs_common import evaluation

ROWS = [
    {"text": f"t{i}", "label_text": lab}
    for i, lab in enumerate(["negative", "neutral", "positive"] * 4)
]


def test_pick_examples_per_class_covers_every_label_and_is_seeded():
    demos = evaluation.pick_examples_per_class(ROWS, per_class=2, seed=5)
    assert Counter(d["label_text"] for d in demos) == {"negative": 2, "neutral": 2, "positive": 2}
    assert demos == evaluation.pick_examples_per_class(ROWS, per_class=2, seed=5)


def test_pick_examples_per_class_without_seed_takes_the_first_of_each_label_in_turn():
    demos = evaluation.pick_examples_per_class(ROWS, per_class=2)
    assert [d["text"] for d in demos] == ["t0", "t1", "t2", "t3", "t4", "t5"]


def test_pick_examples_per_class_says_when_a_label_is_short():
    with pytest.raises(ValueError, match="neutral"):
        evaluation.pick_examples_per_class([r for r in ROWS if r["label_text"] != "neutral"])


def test_classify_sentiment_returns_normalized_labels(tiny_t5, word_tokenizer):
    labels = evaluation.classify_sentiment(
        tiny_t5, word_tokenizer, ["i love this", "hate"], progress=False
    )
    assert len(labels) == 2
    assert all(label in ("negative", "neutral", "positive", "other") for label in labels)


def test_score_summaries_returns_means_and_per_example():
    scores = evaluation.score_summaries(["a cat sat", "dogs"], ["a cat sat", "a cat"])
    assert scores["per_example"]["rouge1"] == [1.0, 0.0]
    assert scores["mean"]["rouge1"] == 0.5


def test_answer_counts_lists_every_label_and_puts_the_rest_in_other():
    counts = evaluation.answer_counts(["positive", "positive", "other", "banana"])
    assert counts == {"negative": 0, "neutral": 0, "positive": 2, "other": 2}
    assert list(counts) == ["negative", "neutral", "positive", "other"]


def test_rouge_error_bars_give_an_interval_around_each_mean():
    from labs_common import evaluation as ev

    scores = {"a": ev.score_summaries(["the cat sat", "a dog ran", "birds fly"],
                                      ["the cat sat", "the dog ran", "fish swim"])}
    bars = ev.rouge_error_bars(scores, ["rouge1"], seed=0)
    low, high = bars["a"]["rouge1"]
    assert low <= scores["a"]["mean"]["rouge1"] <= high and low < high


def test_compare_generation_settings_reseeds_so_a_rerun_gives_the_same_table(tiny_t5,
                                                                            word_tokenizer):
    options = {"greedy": {}, "short": {"max_new_tokens": 2},
               "sample": {"do_sample": True, "top_k": 0}}
    dialogues = ["#Person1#: hi there", "#Person2#: ok bye"]

    def table():
        return evaluation.compare_generation_settings(
            tiny_t5, word_tokenizer, "summarize: hi", dialogues, ["hi", "bye"], options,
            seed=3, max_new_tokens=6)

    first = table()
    assert list(first.index) == list(options)
    assert list(first.columns) == ["summary", "ROUGE-1, 2 dialogues"]
    assert first["ROUGE-1, 2 dialogues"].between(0, 1).all()
    assert len(word_tokenizer(first.loc["short", "summary"])["input_ids"]) <= 2 + 1
    assert first.equals(table())
