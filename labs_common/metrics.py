"""Metrics: ROUGE and BLEU for generated text, accuracy and a confusion matrix for labels.

ROUGE comes from ``rouge_score``, the package behind ``evaluate``'s rouge module, with the
settings the labs use (stemming on, the mean of per-example F-measures). ``evaluate.load``
is not used: it downloads a Python script from the Hub and runs it, and its default reports
the median of bootstrap means rather than the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references: "
            "score each prediction against the reference of the same example."
        )
    if not predictions:
        raise ValueError("No predictions to score.")


def rouge_per_example(
    predictions: Sequence[str], references: Sequence[str]
) -> dict[str, list[float]]:
    """ROUGE F-measures of each prediction against its reference, one list per key.

    ``rougeLsum`` treats newlines as sentence breaks, as the reference implementation does.
    """
    _check_pairs(predictions, references)
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    per = [scorer.score(ref, pred) for pred, ref in zip(predictions, references, strict=True)]
    return {key: [s[key].fmeasure for s in per] for key in ROUGE_KEYS}


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L/Lsum F-measure over the examples (Labs 1–3)."""
    per = rouge_per_example(predictions, references)
    return {key: float(np.mean(values)) for key, values in per.items()}


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, one reference per example) on a 0–1 scale (Lab 2).

    BLEU counts matching n-grams up to length 4 with a brevity penalty: it rewards
    precision, where ROUGE-1 and ROUGE-2 as used here reward overlap in both directions.
    """
    import sacrebleu

    _check_pairs(predictions, references)
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score) / 100.0


def accuracy(predictions: Sequence[str], labels: Sequence[str]) -> float:
    """Share of exact matches between predicted and true labels (Labs 1–2)."""
    _check_pairs(predictions, labels)
    return float(np.mean([p == t for p, t in zip(predictions, labels, strict=True)]))


def correct_per_example(predictions: Sequence[str], labels: Sequence[str]) -> list[float]:
    """1.0 where the prediction equals the label, else 0.0 (for confidence intervals)."""
    _check_pairs(predictions, labels)
    return [float(p == t) for p, t in zip(predictions, labels, strict=True)]


def confusion_matrix(
    labels: Sequence[str], predictions: Sequence[str], classes: Sequence[str]
) -> np.ndarray:
    """Counts with true labels as rows and predicted labels as columns (Labs 1–2).

    A prediction outside ``classes`` (a model answering something else) lands in an
    extra last column, "other", so no answer is silently dropped.
    """
    _check_pairs(predictions, labels)
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes) + 1), dtype=int)
    for truth, predicted in zip(labels, predictions, strict=True):
        if truth not in index:
            raise ValueError(f"True label {truth!r} is not one of {list(classes)}.")
        matrix[index[truth], index.get(predicted, len(classes))] += 1
    return matrix
