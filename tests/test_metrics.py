import numpy as np
import pytest
from rouge_score import rouge_scorer

from labs_common import metrics

PREDICTIONS = ["#Person1# buys a ticket to Paris.", "They talk about the weather today."]
REFERENCES = ["#Person1# bought a ticket to Paris on Monday.", "The weather is nice."]


def test_rouge_equals_the_mean_of_rouge_score_with_stemming():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    pairs = zip(PREDICTIONS, REFERENCES, strict=True)
    expected = np.mean([scorer.score(r, p)["rouge1"].fmeasure for p, r in pairs])
    result = metrics.rouge(PREDICTIONS, REFERENCES)
    assert set(result) == set(metrics.ROUGE_KEYS)
    assert result["rouge1"] == pytest.approx(expected)


def test_rouge_is_one_for_identical_text_and_zero_for_disjoint_text():
    assert metrics.rouge(["a cat sat"], ["a cat sat"])["rouge1"] == pytest.approx(1.0)
    assert metrics.rouge(["dogs run"], ["a cat sat"])["rouge2"] == 0.0


def test_rouge_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metrics.rouge(PREDICTIONS, REFERENCES[:1])


def test_bleu_is_on_a_zero_to_one_scale():
    assert metrics.bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(
        1.0
    )
    partial = metrics.bleu(["the cat sat on a mat today"], ["the cat sat on the mat"])
    assert 0.0 < partial < 1.0


def test_accuracy_and_per_example_correctness():
    assert metrics.accuracy(["a", "b", "c"], ["a", "b", "x"]) == pytest.approx(2 / 3)
    assert metrics.correct_per_example(["a", "b"], ["a", "x"]) == [1.0, 0.0]


def test_confusion_matrix_rows_are_truth_and_unknown_answers_go_to_other():
    classes = ("negative", "neutral", "positive")
    matrix = metrics.confusion_matrix(
        labels=["negative", "negative", "positive", "neutral"],
        predictions=["negative", "positive", "positive", "banana"],
        classes=classes,
    )
    assert matrix.tolist() == [[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    assert matrix.sum() == 4
