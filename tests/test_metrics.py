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


def test_confusion_matrix_counts_repeated_pairs_as_integers():
    matrix = metrics.confusion_matrix(["a", "a", "b"], ["a", "a", "a"], classes=("a", "b"))
    assert matrix.tolist() == [[2, 0, 0], [1, 0, 0]]
    assert matrix.dtype.kind == "i"
    with pytest.raises(ValueError, match=r"True label 'c' is not one of \['a', 'b'\]"):
        metrics.confusion_matrix(["c"], ["a"], classes=("a", "b"))


def test_rouge_stems_words_and_matches_rouge_score_per_example():
    assert metrics.rouge(["cats running"], ["cat runs"])["rouge1"] == pytest.approx(1.0)
    predictions, references = [*PREDICTIONS, "cats running"], [*REFERENCES, "cat runs"]
    per = metrics.rouge_per_example(tuple(predictions), tuple(references))
    scorer = rouge_scorer.RougeScorer(list(metrics.ROUGE_KEYS), use_stemmer=True)
    expected = [scorer.score(r, p) for p, r in zip(predictions, references, strict=True)]
    for key in metrics.ROUGE_KEYS:
        assert per[key] == [s[key].fmeasure for s in expected]
    assert all(type(v) is float for values in per.values() for v in values)


def test_metrics_never_load_a_script_from_the_hub():
    import inspect

    assert "import evaluate" not in inspect.getsource(metrics)


def test_unpaired_or_empty_inputs_are_refused_with_advice():
    with pytest.raises(ValueError, match=r"^1 predictions but 2 references: score each "
                       r"prediction against the reference of the same example\.$"):
        metrics.accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"^No predictions to score\.$"):
        metrics.bleu([], [])
