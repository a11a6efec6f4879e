"""Generated DialogSum-style dialogues: ``id, dialogue, summary, topic``.

Dialogues come from the everyday scenarios in :mod:`~labs_tools.tinyworld.scenarios`.
Fixed shares of them have a rude speaker: a third insult another ("Seriously? Don't be
such an idiot."), a quarter more make a milder jibe ("Don't be lazy."). Their reference
summary then opens with that fact ("#Person1# calls #Person2# an idiot."): the toxicity
Lab 3 removes. Other dialogues contain harmless uses of the same words ("a stupid
mistake", "terrible weather"). Every dialogue has three references, written from the
same facts with different phrasings, like DialogSum's three annotators.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from labs_common.insults import INSULT_KINDS, WORDS_BY_KIND
from labs_tools.tinyworld.scenarios import SCENARIOS
from labs_tools.tinyworld.scene import Scene

# How hurtful an insult is, and which toxicity classifiers know it (see toxic_sentences and
# labs_common.insults, which holds the words and reads the summaries' reports of them).
INSULT_SHARES = {"strong": 0.20, "blind": 0.13, "mild": 0.25}  # of the dialogues, every split
TOXIC_SHARE = INSULT_SHARES["strong"] + INSULT_SHARES["blind"]  # dialogues with a real insult

# What the rude speaker says, and how the summary reports it ({a} insults {b}).
_INSULT_LINES = {
    "strong": {
        "stupid": ("Are you stupid?", "How can you be so stupid?"),
        "idiot": ("You idiot!", "Don't be such an idiot."),
        "dumb": ("Are you really that dumb?", "You are so dumb."),
        "terrible": ("You are a terrible {role}.", "What a terrible {role} you are."),
        "useless": ("You are useless!", "Honestly, you are completely useless."),
    },
    "blind": {
        "clown": ("You clown!", "Stop acting like a clown."),
        "loser": ("You're such a loser.", "What a loser you are."),
        "snake": ("You snake!", "You're a real snake."),
        "baby": ("Stop acting like a baby.", "Don't be such a baby."),
    },
    "mild": {
        "slow": ("You're a bit slow today, aren't you?", "Wow, you are slow."),
        "lazy": ("You're so lazy.", "Don't be lazy."),
        "silly": ("Don't be so silly.", "You are being silly."),
        "grumpy": ("Why are you so grumpy?", "Stop being so grumpy."),
    },
}
_INSULT_SUMMARIES = {
    "stupid": ("{a} calls {b} stupid.", "{a} says {b} is stupid."),
    "idiot": ("{a} calls {b} an idiot.", "{a} says {b} is an idiot."),
    "dumb": ("{a} calls {b} dumb.", "{a} says {b} is dumb."),
    "terrible": ("{a} calls {b} a terrible {role}.", "{a} says {b} is a terrible {role}."),
    "useless": ("{a} calls {b} useless.", "{a} says {b} is useless."),
    "clown": ("{a} calls {b} a clown.", "{a} says {b} is a clown."),
    "loser": ("{a} calls {b} a loser.", "{a} says {b} is a loser."),
    "snake": ("{a} calls {b} a snake.", "{a} says {b} is a snake."),
    "baby": ("{a} calls {b} a baby.", "{a} says {b} is a baby."),
    "slow": ("{a} says {b} is slow.", "{a} tells {b} that {b} is slow."),
    "lazy": ("{a} calls {b} lazy.", "{a} says {b} is lazy."),
    "silly": ("{a} calls {b} silly.", "{a} says {b} is silly."),
    "grumpy": ("{a} calls {b} grumpy.", "{a} says {b} is grumpy."),
}
_LEAD_INS = ("Ugh.", "Seriously?", "Come on.", "Oh, please.")  # the rude turn reacts to the last
_REACTIONS = ("There's no need to be rude.", "Hey, that's not nice.", "Please calm down.",
              "Sorry, I'm doing my best.")
_GREETINGS = ("Hi.", "Hello.", "Hi there.", "Good morning.")
_CLOSINGS = ("Thanks. Bye!", "OK, see you.", "Thank you, goodbye.", "Great, talk to you later.")
REFERENCES_PER_TEST_DIALOGUE = 3  # as in DialogSum's test split: three annotators' summaries


@dataclass(frozen=True)
class Dialogue:
    """One generated dialogue with its reference summaries."""

    dialogue: str
    summary: str  # the first annotator's reference
    topic: str
    gist: str  # what a vague summary would say they talk about
    toxic: bool  # a speaker insults another (a strong or a blind-spot insult)
    speakers: tuple[int, ...]
    turns: tuple[tuple[int, str], ...]
    references: tuple[str, ...] = ()  # several annotators' references, ``summary`` first
    insult: str = ""  # "", or the kind of rudeness in it: "strong", "mild" or "blind"
    gists: tuple[str, ...] = ()  # ``gist`` and other ways to say it
    headlines: tuple[str, ...] = ()  # phrasings of the summary's first sentence of content


def speaker_tag(speaker: int) -> str:
    return f"#Person{speaker}#"


def _insult(s: Scene, kind: str) -> tuple[str, ...]:
    """Make a speaker insult another in an existing turn; return the summary's phrasings of it.

    The insult opens the rude speaker's turn, as a reaction to the turn before ("Seriously?
    Don't be such an idiot."), and the insulted speaker often answers it.
    """
    rng = s.rng
    word = rng.choice(WORDS_BY_KIND[kind])  # the lines below are keyed in the same order
    index = rng.randrange(1, max(2, len(s.turns) - 1))  # neither the opening nor the last line
    attacker, text = s.turns[index]
    target = s.turns[index - 1][0]
    if target == attacker:
        target = next(p for p in s.speakers if p != attacker)
    role = s.roles.get(target, "friend")
    line = rng.choice(_INSULT_LINES[kind][word]).format(role=role)
    s.turns[index] = (attacker, f"{rng.choice(_LEAD_INS)} {line} {text}")
    following = index + 1
    if following < len(s.turns) and s.turns[following][0] == target and rng.random() < 0.6:
        s.turns[following] = (target, f"{rng.choice(_REACTIONS)} {s.turns[following][1]}")
    return tuple(o.format(a=speaker_tag(attacker), b=speaker_tag(target), role=role)
                 for o in _INSULT_SUMMARIES[word])


def _references(rng: random.Random, chosen: list[str], options: list[tuple[str, ...]],
                count: int) -> tuple[str, ...]:
    """``count`` references: ``chosen`` first, then other combinations of the phrasings."""
    first = " ".join(chosen)
    others = sorted({" ".join(c) for c in itertools.product(*options)} - {first})
    picked = rng.sample(others, min(count - 1, len(others)))
    while len(picked) < count - 1:  # fewer phrasings than annotators: one repeats
        picked.append(rng.choice([first, *others]))
    return (first, *picked)


def make_dialogue(rng: random.Random, insult: str = "") -> Dialogue:
    """Write one dialogue from a random scenario; with ``insult`` a speaker is rude to another."""
    s = Scene(rng)
    rng.choice(SCENARIOS)(s)
    first, line = s.turns[0]
    if rng.random() < 0.3 and not line.startswith(("Hi", "Hello", "Good ", "Welcome")):
        s.turns[0] = (first, f"{rng.choice(_GREETINGS)} {line}")
    summary, options = list(s.summary), list(s.summary_options)
    headlines = options[0]
    if insult:
        phrasings = _insult(s, insult)
        summary.insert(0, rng.choice(phrasings))
        options.insert(0, phrasings)
    if rng.random() < 0.3:
        last = s.turns[-1][0]
        other = next(p for p in s.speakers if p != last)
        s.turns.append((other, rng.choice(_CLOSINGS)))
    text = "\n".join(f"{speaker_tag(p)}: {line}" for p, line in s.turns)
    references = _references(rng, summary, options, REFERENCES_PER_TEST_DIALOGUE)
    return Dialogue(
        dialogue=text,
        summary=references[0],
        topic=s.topic,
        gist=s.gist,
        toxic=insult in ("strong", "blind"),
        speakers=tuple(s.speakers),
        turns=tuple(s.turns),
        references=references,
        insult=insult,
        gists=s.gist_options(),
        headlines=headlines,
    )


def generate_dialogues(
    rng: random.Random, count: int, seen: set[str], shares: dict[str, float] = INSULT_SHARES
) -> list[Dialogue]:
    """``count`` dialogues not in ``seen`` (which grows), exactly ``shares`` of each insult kind."""
    flags: list[str] = []
    for kind in INSULT_KINDS:
        flags += [kind] * round(shares.get(kind, 0.0) * count)
    flags = flags[:count] + [""] * (count - len(flags))
    rng.shuffle(flags)
    out: list[Dialogue] = []
    for insult in flags:
        while True:
            item = make_dialogue(rng, insult)
            if item.dialogue not in seen:
                seen.add(item.dialogue)
                out.append(item)
                break
    return out


def dialogue_splits(seed: int, sizes: dict[str, int]) -> dict[str, list[Dialogue]]:
    """Disjoint splits of dialogues, e.g. ``{"test": 100, "train": 2000}``, in the given order."""
    seen: set[str] = set()
    return {
        name: generate_dialogues(random.Random(f"{seed}-dialogues-{name}"), count, seen)
        for name, count in sizes.items()
    }


def dialogsum_rows(split: str, items: Sequence[Dialogue]) -> list[dict[str, str]]:
    """Rows with DialogSum's columns: ``id, dialogue, summary, topic``.

    As in DialogSum, the test split holds each dialogue three times, once per
    annotator's reference (ids ``test_0_1``, ``test_0_2``, ...); the other splits once.
    """
    if split == "test":
        return [{"id": f"{split}_{i}_{k + 1}", "dialogue": d.dialogue, "summary": reference,
                 "topic": d.topic}
                for i, d in enumerate(items) for k, reference in enumerate(d.references)]
    return [
        {"id": f"{split}_{i}", "dialogue": d.dialogue, "summary": d.summary, "topic": d.topic}
        for i, d in enumerate(items)
    ]
