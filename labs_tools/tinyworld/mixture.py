"""The pretraining mixtures that make the tiny models behave like weak instruction models.

``flan-t5-tiny`` is trained on a mixture of tasks that imitates what FLAN-T5 saw before
the labs:

* continuing a dialogue, so a bare dialogue is continued, not summarized;
* zero-shot instructions answered with a vague one-line gist ("#Person1# and
  #Person2# talk about a flight."), so the zero-shot summaries are weak; the gist is
  phrased in many ways and sometimes followed by one sentence of content, so there are
  several valid answers and sampling (Lab 1, section 4) has something to choose from;
* solved examples followed by a detailed summary in FLAN's "What was going on?"
  format, so a demonstration changes the answer (one-shot beats zero-shot);
* sentiment questions: zero-shot only ever with negative or positive tweets, while
  "neutral" appears only in prompts with solved examples. A model never asked for
  "neutral" without examples is what makes few-shot prompting pay off in Lab 1, and
  what a sentiment fine-tune in Lab 2 can still improve;
* repeating the last of several tweets, which teaches the small model to find the
  final item of a list, as every few-shot prompt requires.

Each example counts equally in the loss (see ``Schedule.per_example_loss``), so
one-word sentiment answers are not drowned by long summaries.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from labs_common.prompts import build_few_shot_prompt, build_sentiment_prompt, flan_prompt
from labs_common.prompts import instruction_prompt as lab_instruction
from labs_tools.tinyworld.dialogues import Dialogue, speaker_tag

# Task shares of the flan-t5-tiny mixture (they sum to 1).
T5_SHARES = {
    "continue_dialogue": 0.10,
    "zero_shot_gist": 0.12,
    "few_shot_summary": 0.28,
    "sentiment_zero_shot_binary": 0.15,
    "sentiment_few_shot": 0.25,
    "last_tweet": 0.10,
}
# Share of few-shot summary examples whose demos and target are detailed (the rest use gists).
# At 1.0 any solved example in the prompt switches the model to detailed summaries.
DETAILED_DEMO_SHARE = 1.0

_ZERO_SHOT_TEMPLATES = (
    lab_instruction,
    flan_prompt,
    lambda d: f"Briefly, what is this dialogue about?\n\n{d}",
    lambda d: f"{d}\n\nWhat are they talking about?",
)
# Zero-shot sentiment instructions seen in pretraining: only the lab's own prompt, and only
# with the two labels negative and positive, so the base model's zero-shot answer is
# imperfect (it rarely says neutral) and examples in the prompt have something to add.
_SENTIMENT_ZERO_SHOT_TEMPLATES = (lambda t: build_sentiment_prompt(t),)
_GISTS = ("{people} talk about {gist}.", "{people} are talking about {gist}.",
          "{people} have a conversation about {gist}.", "{people} discuss {gist}.",
          "{people} chat about {gist}.", "This conversation is about {gist}.")
# Share of zero-shot answers that add one sentence of content after the gist, so the
# zero-shot answer has several valid forms and sampling has something to choose from.
GIST_DETAIL_SHARE = 0.35


@dataclass(frozen=True)
class Pair:
    """One training example: the model reads ``source`` and should write ``target``."""

    source: str
    target: str
    task: str


def gist_summary(rng: random.Random, d: Dialogue, detail_share: float = 0.0) -> str:
    """A vague one-line summary: who talks, and roughly about what (in one of several ways).

    With ``detail_share``, that share of answers adds the first sentence of content of
    one of the references ("#Person1# books a flight to Paris on Monday for $300.").
    """
    tags = [speaker_tag(p) for p in d.speakers]
    people = " and ".join(tags) if len(tags) < 3 else ", ".join(tags[:-1]) + " and " + tags[-1]
    gist = rng.choice(_GISTS).format(people=people, gist=rng.choice(d.gists or (d.gist,)))
    if d.headlines and rng.random() < detail_share:
        gist = f"{gist} {rng.choice(d.headlines)}"
    return gist


def _reference(rng: random.Random, d: Dialogue) -> str:
    """One of the dialogue's references, at random: several valid summaries to learn from."""
    return rng.choice(d.references or (d.summary,))


def _continue(rng: random.Random, d: Dialogue) -> Pair:
    lines = d.dialogue.split("\n")
    k = rng.randrange(1, len(lines))
    return Pair("\n".join(lines[:k]), lines[k], "continue_dialogue")


def _zero_shot(rng: random.Random, d: Dialogue) -> Pair:
    source = rng.choice(_ZERO_SHOT_TEMPLATES)(d.dialogue)
    return Pair(source, gist_summary(rng, d, GIST_DETAIL_SHARE), "zero_shot_gist")


def _few_shot(rng: random.Random, d: Dialogue, pool: Sequence[Dialogue]) -> Pair:
    shots = 1 if rng.random() < 0.8 else 2
    detailed = rng.random() < DETAILED_DEMO_SHARE
    demos = []
    for demo in (pool[i] for i in rng.sample(range(len(pool)), shots + 1)):
        if demo is d:
            continue
        summary = _reference(rng, demo) if detailed else gist_summary(rng, demo)
        demos.append({"dialogue": demo.dialogue, "summary": summary})
    target = _reference(rng, d) if detailed else gist_summary(rng, d)
    return Pair(build_few_shot_prompt(demos[:shots], d.dialogue), target, "few_shot_summary")


def _sentiment_zero_shot(rng: random.Random, polar: Sequence[dict]) -> Pair:
    tweet = rng.choice(polar)
    source = rng.choice(_SENTIMENT_ZERO_SHOT_TEMPLATES)(tweet["text"])
    return Pair(source, str(tweet["label_text"]), "sentiment_zero_shot_binary")


def _sentiment_few_shot(rng: random.Random, by_label: dict[int, list[dict]]) -> Pair:
    """One example of each label, sometimes a few more, shuffled; then the query tweet."""
    demos = [rng.choice(by_label[label]) for label in (0, 1, 2)]
    demos += [rng.choice(by_label[rng.randrange(3)]) for _ in range(rng.choice((0, 0, 0, 1, 2, 3)))]
    rng.shuffle(demos)
    query = rng.choice(by_label[rng.randrange(3)])
    return Pair(build_sentiment_prompt(str(query["text"]), demos), str(query["label_text"]),
                "sentiment_few_shot")


def _last_tweet(rng: random.Random, tweets: Sequence[dict]) -> Pair:
    picks = [str(t["text"]) for t in rng.sample(list(tweets), rng.randrange(2, 6))]
    source = "Repeat the last tweet.\n\n" + "".join(f"Tweet: {p}\n\n" for p in picks)
    return Pair(source.rstrip(), picks[-1], "last_tweet")


def t5_mixture(
    rng: random.Random,
    dialogues: Sequence[Dialogue],
    tweets: Sequence[dict],
    size: int,
    shares: dict[str, float] = T5_SHARES,
) -> list[Pair]:
    """``size`` pretraining pairs for flan-t5-tiny, drawn with ``shares``, in random order."""
    by_label = {label: [t for t in tweets if t["label"] == label] for label in (0, 1, 2)}
    polar = by_label[0] + by_label[2]
    makers = {
        "continue_dialogue": lambda: _continue(rng, rng.choice(dialogues)),
        "zero_shot_gist": lambda: _zero_shot(rng, rng.choice(dialogues)),
        "few_shot_summary": lambda: _few_shot(rng, rng.choice(dialogues), dialogues),
        "sentiment_zero_shot_binary": lambda: _sentiment_zero_shot(rng, polar),
        "sentiment_few_shot": lambda: _sentiment_few_shot(rng, by_label),
        "last_tweet": lambda: _last_tweet(rng, tweets),
    }
    tasks = rng.choices(list(shares), weights=list(shares.values()), k=size)
    return [makers[task]() for task in tasks]


def llama_corpus(rng: random.Random, dialogues: Sequence[Dialogue], size: int) -> list[Pair]:
    """Pretraining pairs for llama-summarizer-tiny: bare dialogues and prompted summaries.

    Half the examples are plain dialogues (an empty source: the whole dialogue is the
    text to learn, with no end-of-sequence, so a bare dialogue is continued); half are
    the lab's instruction prompt followed by the reference summary. Summaries of toxic
    dialogues open with the insult, so the model repeats it often enough for Lab 3's
    GRPO section to have toxicity to remove.
    """
    pairs = []
    for _ in range(size):
        d = rng.choice(dialogues)
        if rng.random() < 0.5:
            pairs.append(Pair("", d.dialogue, "dialogue"))
        else:
            pairs.append(Pair(lab_instruction(d.dialogue), d.summary, "summary"))
    return pairs
