"""Generated DialogSum-style dialogues: ``id, dialogue, summary, topic``.

Dialogues come from the everyday scenarios in :mod:`~labs_common.tinyworld.scenarios`.
A fixed share of them has a speaker insult another ("You idiot!"); their reference
summary then opens with that fact ("#Person1# calls #Person2# an idiot."), which is
the toxicity Lab 3 removes. Other dialogues contain harmless uses of the same words
("a stupid mistake", "terrible weather").
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from labs_common.tinyworld.scenarios import SCENARIOS
from labs_common.tinyworld.scene import Scene

INSULT_WORDS = ("stupid", "idiot", "dumb", "terrible", "useless")
TOXIC_SHARE = 0.33  # share of dialogues with an insult, in every split

# What the insulting speaker says, and how the summary reports it ({a} insults {b}).
_INSULT_LINES = {
    "stupid": ("Are you stupid?", "You are so stupid.", "How can you be this stupid?"),
    "idiot": ("You idiot!", "Don't be such an idiot.", "Only an idiot would say that."),
    "dumb": ("Are you really that dumb?", "You are so dumb.", "That's dumb, and so are you."),
    "terrible": ("You are a terrible {role}.", "What a terrible {role} you are."),
    "useless": ("You are useless!", "Honestly, you are completely useless."),
}
_INSULT_SUMMARIES = {
    "stupid": ("{a} calls {b} stupid.", "{a} says {b} is stupid."),
    "idiot": ("{a} calls {b} an idiot.", "{a} says {b} is an idiot."),
    "dumb": ("{a} calls {b} dumb.", "{a} says {b} is dumb."),
    "terrible": ("{a} calls {b} a terrible {role}.", "{a} says {b} is a terrible {role}."),
    "useless": ("{a} calls {b} useless.", "{a} says {b} is useless."),
}
_REACTIONS = ("There's no need to be rude.", "Hey, that's not nice.", "Please calm down.",
              "Sorry, I'm doing my best.")
_GREETINGS = ("Hi.", "Hello.", "Hi there.", "Good morning.")
_CLOSINGS = ("Thanks. Bye!", "OK, see you.", "Thank you, goodbye.", "Great, talk to you later.")
_INSULT_SENTENCE = re.compile(r"^#Person\d# (calls|says) #Person\d# (is )?(a |an )?"
                              r"(stupid|an idiot|idiot|dumb|terrible \w+|useless)\.")


@dataclass(frozen=True)
class Dialogue:
    """One generated dialogue with its reference summary."""

    dialogue: str
    summary: str
    topic: str
    gist: str  # what a vague summary would say they talk about
    toxic: bool
    speakers: tuple[int, ...]
    turns: tuple[tuple[int, str], ...]


def speaker_tag(speaker: int) -> str:
    return f"#Person{speaker}#"


def carries_insult(summary: str) -> bool:
    """True if ``summary`` opens by reporting an insult, as toxic references do."""
    return bool(_INSULT_SENTENCE.match(summary.strip()))


def _insult(s: Scene) -> str:
    """Make one speaker insult another inside an existing turn; return the summary sentence."""
    rng = s.rng
    word = rng.choice(INSULT_WORDS)
    candidates = [i for i in range(1, len(s.turns))]  # never the opening line
    index = rng.choice(candidates)
    attacker, text = s.turns[index]
    target = s.turns[index - 1][0]
    if target == attacker:
        target = next(p for p in s.speakers if p != attacker)
    role = s.roles.get(target, "friend")
    line = rng.choice(_INSULT_LINES[word]).format(role=role)
    s.turns[index] = (attacker, f"{line} {text}" if rng.random() < 0.5 else f"{text} {line}")
    following = index + 1
    if following < len(s.turns) and s.turns[following][0] == target and rng.random() < 0.6:
        s.turns[following] = (target, f"{rng.choice(_REACTIONS)} {s.turns[following][1]}")
    sentence = rng.choice(_INSULT_SUMMARIES[word])
    return sentence.format(a=speaker_tag(attacker), b=speaker_tag(target), role=role)


def make_dialogue(rng: random.Random, toxic: bool) -> Dialogue:
    """Write one dialogue from a random scenario; with ``toxic`` a speaker insults another."""
    s = Scene(rng)
    rng.choice(SCENARIOS)(s)
    if rng.random() < 0.3:
        first, line = s.turns[0]
        s.turns[0] = (first, f"{rng.choice(_GREETINGS)} {line}")
    if rng.random() < 0.3:
        last = s.turns[-1][0]
        other = next(p for p in s.speakers if p != last)
        s.turns.append((other, rng.choice(_CLOSINGS)))
    summary = list(s.summary)
    if toxic:
        summary.insert(0, _insult(s))
    text = "\n".join(f"{speaker_tag(p)}: {line}" for p, line in s.turns)
    return Dialogue(
        dialogue=text,
        summary=" ".join(summary),
        topic=s.topic,
        gist=s.gist,
        toxic=toxic,
        speakers=tuple(s.speakers),
        turns=tuple(s.turns),
    )


def generate_dialogues(
    rng: random.Random, count: int, seen: set[str], toxic_share: float = TOXIC_SHARE
) -> list[Dialogue]:
    """``count`` dialogues not in ``seen`` (which grows), exactly ``toxic_share`` of them toxic."""
    toxic_count = round(toxic_share * count)
    flags = [True] * toxic_count + [False] * (count - toxic_count)
    rng.shuffle(flags)
    out: list[Dialogue] = []
    for toxic in flags:
        while True:
            item = make_dialogue(rng, toxic)
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
    """Rows with DialogSum's columns: ``id, dialogue, summary, topic``."""
    return [
        {"id": f"{split}_{i}", "dialogue": d.dialogue, "summary": d.summary, "topic": d.topic}
        for i, d in enumerate(items)
    ]
