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
