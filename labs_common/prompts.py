"""Prompt templates and prompt builders (Lab 1, reused by Labs 2 and 3).

The summarization templates are the ones the FLAN-T5 labs use: a plain instruction
("Summarize the following conversation.") and FLAN's own dialogue template
("Dialogue: ... What was going on?"), which also serves for one-shot and few-shot
prompts. Sentiment prompts follow one format whether or not they carry examples,
so zero-shot is simply few-shot with no examples.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Lab 1, section 3: the zero-shot instruction prompt (also the fine-tuning prompt of Lab 2).
SUMMARY_INSTRUCTION = "Summarize the following conversation.\n\n{dialogue}\n\nSummary:"
# Lab 1, section 3: one of FLAN's own templates for DialogSum.
FLAN_TEMPLATE = "Dialogue:\n\n{dialogue}\n\nWhat was going on?"
# Lab 1, section 4: one solved example in a one-shot or few-shot prompt.
FLAN_SHOT = FLAN_TEMPLATE + "\n{summary}\n\n\n"

# Lab 1, section 7: sentiment classification by prompting.
SENTIMENT_LABELS = ("negative", "neutral", "positive")
SENTIMENT_INSTRUCTION = "Classify the sentiment of each tweet as negative, neutral or positive.\n\n"
SENTIMENT_SHOT = "Tweet: {text}\nSentiment: {label}\n\n"
SENTIMENT_QUERY = "Tweet: {text}\nSentiment:"

Row = Mapping[str, object]


def no_prompt(dialogue: str) -> str:
    """The dialogue alone, with no instruction (Lab 1, section 3)."""
    return dialogue


def instruction_prompt(dialogue: str) -> str:
    """The zero-shot instruction prompt (Lab 1, section 3; Lab 2's training prompt)."""
    return SUMMARY_INSTRUCTION.format(dialogue=dialogue)


def flan_prompt(dialogue: str) -> str:
    """FLAN's "What was going on?" template, zero-shot (Lab 1, section 3)."""
    return FLAN_TEMPLATE.format(dialogue=dialogue)


def build_few_shot_prompt(examples: Sequence[Row], dialogue: str) -> str:
    """Solved ``examples`` (rows with ``dialogue`` and ``summary``) then the dialogue to summarize.

    With no examples this is the zero-shot FLAN prompt; with one it is one-shot
    (Lab 1, section 4). The dialogue to summarize always comes last.
    """
    shots = "".join(
        FLAN_SHOT.format(dialogue=row["dialogue"], summary=row["summary"]) for row in examples
    )
    return shots + FLAN_TEMPLATE.format(dialogue=dialogue)


def build_sentiment_prompt(text: str, examples: Sequence[Row] = ()) -> str:
    """A sentiment prompt for ``text``; ``examples`` are rows with ``text`` and ``label_text``.

    Zero-shot when ``examples`` is empty (Lab 1, section 7).
    """
    shots = "".join(
        SENTIMENT_SHOT.format(text=row["text"], label=row["label_text"]) for row in examples
    )
    return SENTIMENT_INSTRUCTION + shots + SENTIMENT_QUERY.format(text=text)


def normalize_label(generated: str, labels: Sequence[str] = SENTIMENT_LABELS) -> str:
    """Map a generated answer to one of ``labels``, or ``"other"`` if it names none.

    Only the first word counts, case and punctuation ignored: "Positive." is positive,
    "I think it is positive" is other. A classifier is judged on the label it gives.
    """
    words = generated.strip().split()
    first = words[0].strip(".,:;!?\"'").lower() if words else ""
    return first if first in labels else "other"


@dataclass(frozen=True)
class PromptBudget:
    """How a prompt compares with the model's context window."""

    tokens: int
    context: int

    @property
    def fits(self) -> bool:
        return self.tokens <= self.context

    def __str__(self) -> str:
        verdict = "fits" if self.fits else f"exceeds it by {self.tokens - self.context}"
        return f"{self.tokens} tokens for a {self.context}-token context: {verdict}"


def count_prompt_tokens(tokenizer, prompt: str) -> int:
    """Number of tokens the model sees for ``prompt``, special tokens included."""
    return len(tokenizer(prompt)["input_ids"])


def max_examples_that_fit(tokenizer, examples: Sequence[Row], dialogue: str, context: int) -> int:
    """How many of ``examples`` (in order) fit into ``context`` tokens with the query last."""
    fitting = 0
    for k in range(1, len(examples) + 1):
        prompt = build_few_shot_prompt(examples[:k], dialogue)
        if count_prompt_tokens(tokenizer, prompt) > context:
            break
        fitting = k
    return fitting


def check_prompt_budget(
    tokenizer,
    examples: Sequence[Row],
    dialogue: str,
    context: int | None = None,
) -> PromptBudget:
    """Count the tokens of a few-shot prompt and warn if it overflows the context.

    ``context`` defaults to the tokenizer's ``model_max_length`` (512 for FLAN-T5).
    The warning says how many examples would fit, because the tokenizer silently
    truncates an over-long prompt (or the model ignores the excess) and the dialogue
    to summarize, which comes last, is what gets lost.
    """
    context = int(context or tokenizer.model_max_length)
    budget = PromptBudget(
        count_prompt_tokens(tokenizer, build_few_shot_prompt(examples, dialogue)), context
    )
    if not budget.fits:
        fitting = max_examples_that_fit(tokenizer, examples, dialogue, context)
        warnings.warn(
            f"The prompt with {len(examples)} examples is {budget.tokens} tokens, over the "
            f"model's {context}-token context; only {fitting} example(s) fit. Truncation would "
            f"cut off the dialogue to summarize: use at most {fitting} example(s).",
            stacklevel=2,
        )
    return budget


class FittedFewShot:
    """A few-shot prompt style that keeps every prompt inside the model's context.

    Called with a dialogue, it returns the few-shot prompt with as many of ``examples`` (in
    order) as fit in ``context`` tokens with that dialogue last, and records how many that
    was. Real DialogSum dialogues are about 200 tokens with their prompt, so two solved
    examples plus the query overflow FLAN-T5's 512 tokens for most test rows: asked for
    ``k`` examples, a long query gets fewer, and a very long one none (zero-shot).
    """

    def __init__(self, tokenizer, examples: Sequence[Row], context: int):
        self.tokenizer = tokenizer
        self.examples = list(examples)
        self.context = int(context)
        self.shots_used: list[int] = []

    def __call__(self, dialogue: str) -> str:
        k = max_examples_that_fit(self.tokenizer, self.examples, dialogue, self.context)
        self.shots_used.append(k)
        return build_few_shot_prompt(self.examples[:k], dialogue)

    @property
    def shortened(self) -> int:
        """How many of the prompts built so far got fewer examples than asked."""
        return sum(k < len(self.examples) for k in self.shots_used)

    def __str__(self) -> str:
        asked = len(self.examples)
        n = len(self.shots_used)
        counts = {k: self.shots_used.count(k) for k in sorted(set(self.shots_used))}
        return (f"{self.shortened} of {n} prompts got fewer than the {asked} example(s) asked "
                f"for, to fit {self.context} tokens (prompts per number of examples: {counts})")
