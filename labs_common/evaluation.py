"""Scoring a model on the labs' two tasks: summarizing dialogues and labelling sentiment."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from labs_common.generation import generate_batched
from labs_common.metrics import rouge_per_example
from labs_common.prompts import (
    SENTIMENT_LABELS,
    build_sentiment_prompt,
    instruction_prompt,
    normalize_label,
)

Row = Mapping[str, object]


def summarize(
    model,
    tokenizer,
    dialogues: Sequence[str],
    prompt: Callable[[str], str] = instruction_prompt,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    progress: bool = True,
    description: str = "summarizing",
    **generate_kwargs,
) -> list[str]:
    """One generated summary per dialogue, prompted with ``prompt`` (greedy by default)."""
    prompts = [prompt(d) for d in dialogues]
    return generate_batched(
        model,
        tokenizer,
        prompts,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        progress=progress,
        description=description,
        **generate_kwargs,
    )


def compare_generation_settings(
    model,
    tokenizer,
    prompt: str,
    dialogues: Sequence[str],
    references: Sequence[str],
    options_by_name: Mapping[str, dict],
    *,
    seed: int,
    max_new_tokens: int = 64,
):
    """A table with one row per generation setting: the text it writes for ``prompt`` and
    its ROUGE-1 over ``dialogues`` (instruction prompt) against ``references``.

    ``options_by_name`` maps a name to ``generate`` keyword arguments (``{"num_beams": 4}``);
    ``max_new_tokens`` applies where a setting does not set it. Every setting is reseeded
    with ``seed`` first, so a re-run prints the same table.
    """
    import pandas as pd
    from transformers import set_seed

    rouge_column = f"ROUGE-1, {len(dialogues)} dialogues"
    rows = []
    for name, options in options_by_name.items():
        options = {"max_new_tokens": max_new_tokens, **options}
        set_seed(seed)
        text = generate_batched(model, tokenizer, [prompt], **options)[0]
        set_seed(seed)
        texts = summarize(model, tokenizer, dialogues, progress=False, **options)
        rouge1 = rouge_per_example(texts, references)["rouge1"]
        rows.append({"setting": name, "summary": text, rouge_column: sum(rouge1) / len(rouge1)})
    return pd.DataFrame(rows).set_index("setting")


def score_summaries(summaries: Sequence[str], references: Sequence[str]) -> dict:
    """Mean ROUGE plus the per-example ROUGE-1 that confidence intervals need."""
    per = rouge_per_example(summaries, references)
    means = {key: sum(values) / len(values) for key, values in per.items()}
    return {"mean": means, "per_example": per}


def rouge_error_bars(
    scores: Mapping[str, dict], keys: Sequence[str], seed: int = 0
) -> dict[str, dict[str, tuple[float, float]]]:
    """95 % bootstrap intervals of each mean ROUGE in ``scores`` (from :func:`score_summaries`),
    as ``{setting: {metric: (low, high)}}`` for :func:`labs_common.plots.grouped_bars`."""
    from labs_common.stats import mean_ci

    bars = {}
    for name, score in scores.items():
        bars[name] = {}
        for key in keys:
            interval = mean_ci(score["per_example"][key], seed=seed)
            bars[name][key] = (interval.low, interval.high)
    return bars


def pick_examples_per_class(
    rows: Sequence[Row],
    per_class: int = 1,
    labels: Sequence[str] = SENTIMENT_LABELS,
    seed: int | None = None,
) -> list[Row]:
    """``per_class`` rows of each label, as few-shot demos, the labels taking turns.

    With ``seed=None`` these are the first rows of each label, in label order, which is
    what the labs use; with a seed they are drawn at random and shuffled, to see how
    much the choice of examples matters.
    """
    by_label = {label: [r for r in rows if r["label_text"] == label] for label in labels}
    for label, members in by_label.items():
        if len(members) < per_class:
            raise ValueError(f"Only {len(members)} rows labelled {label!r}; need {per_class}.")
    if seed is None:
        return [by_label[label][i] for i in range(per_class) for label in labels]
    rng = random.Random(seed)
    picked = {label: rng.sample(members, per_class) for label, members in by_label.items()}
    order = [label for _ in range(per_class) for label in labels]
    rng.shuffle(order)
    counters = dict.fromkeys(labels, 0)
    demos = []
    for label in order:
        demos.append(picked[label][counters[label]])
        counters[label] += 1
    return demos


def classify_sentiment(
    model,
    tokenizer,
    texts: Sequence[str],
    examples: Sequence[Row] = (),
    *,
    batch_size: int = 32,
    progress: bool = True,
    description: str = "classifying",
) -> list[str]:
    """The label the model gives each text (``"other"`` when it names none), greedy."""
    prompts = [build_sentiment_prompt(t, examples) for t in texts]
    answers = generate_batched(
        model,
        tokenizer,
        prompts,
        batch_size=batch_size,
        max_new_tokens=4,
        progress=progress,
        description=description,
    )
    return [normalize_label(a) for a in answers]


def answer_counts(
    predictions: Sequence[str], labels: Sequence[str] = SENTIMENT_LABELS
) -> dict[str, int]:
    """How often each label was answered, every label listed (zeros too), then ``"other"``.

    A model that forgot a task often collapses onto one label or stops answering with a
    label at all; the counts show it where accuracy alone does not (Lab 2, section 9).
    """
    counts = dict.fromkeys([*labels, "other"], 0)
    for prediction in predictions:
        counts[prediction if prediction in counts else "other"] += 1
    return counts
