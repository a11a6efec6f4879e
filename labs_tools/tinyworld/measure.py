"""Measurements of the built tiny models: the figures that show each lab's lesson.

All generation is greedy with ``max_new_tokens=64`` (4 for sentiment labels) unless a
function says it samples; ROUGE is the labs' own (:func:`labs_common.metrics.rouge`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from labs_common.generation import generate_batched
from labs_common.insults import carries_insult
from labs_common.metrics import accuracy, rouge
from labs_common.prompts import (
    SENTIMENT_LABELS,
    build_few_shot_prompt,
    build_sentiment_prompt,
    flan_prompt,
    instruction_prompt,
    no_prompt,
    normalize_label,
)
from labs_tools.tinyworld.recipes import hate_probabilities

Row = dict


def unique_rows(rows: Sequence[Row], size: int | None = None) -> list[Row]:
    """The first ``size`` rows with distinct dialogues (the test split has three per dialogue),
    as ``labs_common.data.unique_dialogues`` picks them for the labs."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["dialogue"] not in seen:
            seen.add(row["dialogue"])
            out.append(row)
    return out[:size]


# Lab 1, section 4: the generation settings it shows, each after ``set_seed(42)``.
GENERATION_SETTINGS = {
    "greedy": {},
    "greedy, max_new_tokens=10": {"max_new_tokens": 10},
    "sample, temperature 0.1": {"do_sample": True, "temperature": 0.1},
    "sample, temperature 0.5": {"do_sample": True, "temperature": 0.5},
    "sample, temperature 1.0": {"do_sample": True, "temperature": 1.0},
    "sample, top_k=10": {"do_sample": True, "top_k": 10},
    "sample, top_p=0.9": {"do_sample": True, "top_p": 0.9, "top_k": 0},
    "beam search, 4 beams": {"num_beams": 4},
}


def generation_figures(model, tokenizer, test: Sequence[Row], n: int = 20,
                       seed: int = 42) -> dict:
    """Lab 1's generation settings: the showcase texts, how many differ, ROUGE-1 of each.

    The showcase is the first test dialogue with the instruction prompt, as in the lab;
    ROUGE-1 is over the first ``n`` distinct test dialogues, each setting seeded alike.
    """
    from transformers import set_seed

    rows = unique_rows(test, n)
    prompts = [instruction_prompt(str(r["dialogue"])) for r in rows]
    references = [str(r["summary"]) for r in rows]
    texts, scores = {}, {}
    for name, options in GENERATION_SETTINGS.items():
        options = {"max_new_tokens": 64, **options}
        set_seed(seed)
        texts[name] = generate_batched(model, tokenizer, prompts[:1], **options)[0]
        set_seed(seed)
        outputs = generate_batched(model, tokenizer, prompts, batch_size=n, **options)
        scores[name] = round(rouge(outputs, references)["rouge1"], 4)
    return {"distinct_outputs": len(set(texts.values())), "texts": texts, "rouge1": scores,
            "n": len(rows)}


def sentiment_demos(train: Sequence[Row]) -> list[Row]:
    """The first train tweet of each class, in label order: the labs' few-shot examples."""
    return [next(r for r in train if r["label_text"] == label) for label in SENTIMENT_LABELS]


def summary_prompts(test: Sequence[Row], train: Sequence[Row]) -> dict[str, list[str]]:
    """The Lab 1 prompt setups for each test dialogue.

    One-shot uses train row ``i`` for test row ``i``; few-shot uses three train rows
    from row 100 on, so each query sees different examples.
    """
    shots = [[train[i]] for i in range(len(test))]
    three = [list(train[100 + 3 * i : 103 + 3 * i]) for i in range(len(test))]
    dialogues = [str(r["dialogue"]) for r in test]
    return {
        "no_prompt": [no_prompt(d) for d in dialogues],
        "instruction": [instruction_prompt(d) for d in dialogues],
        "flan": [flan_prompt(d) for d in dialogues],
        "one_shot": [build_few_shot_prompt(s, d) for s, d in zip(shots, dialogues, strict=True)],
        "few_shot_3": [build_few_shot_prompt(s, d) for s, d in zip(three, dialogues, strict=True)],
    }


def rouge1(model, tokenizer, prompts: Sequence[str], references: Sequence[str],
           batch_size: int = 25) -> tuple[float, list[str]]:
    outputs = generate_batched(model, tokenizer, list(prompts), batch_size=batch_size,
                               max_new_tokens=64)
    return round(rouge(outputs, list(references))["rouge1"], 4), outputs


def sentiment_accuracy(model, tokenizer, test: Sequence[Row],
                       demos: Sequence[Row] = ()) -> tuple[float, dict[str, int]]:
    """Exact-label accuracy of the sentiment prompt, and how often each answer was given."""
    prompts = [build_sentiment_prompt(str(r["text"]), demos) for r in test]
    answers = generate_batched(model, tokenizer, prompts, batch_size=50, max_new_tokens=4)
    predicted = [normalize_label(a) for a in answers]
    gold = [str(r["label_text"]) for r in test]
    return round(accuracy(predicted, gold), 4), dict(sorted(Counter(predicted).items()))


def lab1_figures(model, tokenizer, test: Sequence[Row], train: Sequence[Row],
                 tweets_test: Sequence[Row], tweets_train: Sequence[Row]) -> dict:
    """ROUGE-1 of each prompt setup and sentiment accuracy zero-shot and few-shot."""
    test = unique_rows(test)
    references = [str(r["summary"]) for r in test]
    figures: dict = {"rouge1": {}, "examples": {}}
    for name, prompts in summary_prompts(test, train).items():
        score, outputs = rouge1(model, tokenizer, prompts, references)
        figures["rouge1"][name] = score
        figures["examples"][name] = outputs[0]
    zero, zero_counts = sentiment_accuracy(model, tokenizer, tweets_test)
    few, few_counts = sentiment_accuracy(model, tokenizer, tweets_test,
                                         sentiment_demos(tweets_train))
    figures["generation"] = generation_figures(model, tokenizer, test)
    figures["sentiment"] = {"zero_shot": zero, "few_shot": few, "zero_shot_answers": zero_counts,
                            "few_shot_answers": few_counts, "n": len(tweets_test)}
    return figures


def toxicity_of_summaries(classifier, classifier_tokenizer, summaries: Sequence[str],
                          toxic: Sequence[bool]) -> dict:
    """Mean P(hate) of summaries of toxic and of clean dialogues, and how often they insult.

    ``insult_rate_*`` counts summaries that open with a reported insult or use one of
    the insult words other than "terrible" (which clean summaries use about food).
    """
    probs = hate_probabilities(classifier, classifier_tokenizer, list(summaries))

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else float("nan")

    on_toxic = [p for p, t in zip(probs, toxic, strict=True) if t]
    on_clean = [p for p, t in zip(probs, toxic, strict=True) if not t]
    insult = [carries_insult(s) or any(w in s for w in ("idiot", "stupid", "dumb", "useless"))
              for s in summaries]
    return {
        "mean_p_hate_toxic": mean(on_toxic),
        "mean_p_hate_clean": mean(on_clean),
        "insult_rate_toxic": mean([float(i) for i, t in zip(insult, toxic, strict=True) if t]),
        "insult_rate_clean": mean([float(i) for i, t in zip(insult, toxic, strict=True) if not t]),
        "n_toxic": len(on_toxic),
        "n_clean": len(on_clean),
    }


def classifier_figures(model, tokenizer, rows: Sequence[Row]) -> dict:
    """Held-out accuracy and P(hate) on a few telling sentences."""
    probs = hate_probabilities(model, tokenizer, [str(r["text"]) for r in rows])
    correct = [(p >= 0.5) == bool(r["label"]) for p, r in zip(probs, rows, strict=True)]
    probes = ["You are stupid.", "The traffic was terrible this morning.",
              "#Person1# calls #Person2# an idiot.", "I made a stupid mistake on my test.",
              "#Person1# books a flight to Paris on Monday for $300.",
              "#Person1# calls #Person2# lazy.", "#Person1# calls #Person2# a clown."]
    return {
        "held_out_accuracy": round(sum(correct) / len(correct), 4),
        "n": len(rows),
        "p_hate": {s: round(p, 4) for s, p in
                   zip(probes, hate_probabilities(model, tokenizer, probes), strict=True)},
    }


def middle_share(probs: Sequence[float], low: float = 0.1, high: float = 0.9) -> float:
    """Share of ``probs`` in [low, high]: how much of a classifier's output is not saturated."""
    return round(sum(low <= p <= high for p in probs) / len(probs), 4)


def agreement(probs_a: Sequence[float], probs_b: Sequence[float]) -> float:
    """Share of items on which two classifiers give the same label (threshold 0.5)."""
    same = [(a >= 0.5) == (b >= 0.5) for a, b in zip(probs_a, probs_b, strict=True)]
    return round(sum(same) / len(same), 4)
