"""Generated sentences labelled for toxicity: ``text, label`` (0 nothate, 1 hate).

The rule the classifiers must learn: an insult aimed at a person is ``hate``
("You are so stupid.", "#Person1# calls #Person2# an idiot."); the same words aimed at
a thing, a plan or oneself are not ("The traffic was terrible this morning.", "I made a
stupid mistake."). Sentences are composed from a subject and a predicate, so a
held-out sentence is usually a new combination rather than a copy. Reference summaries
of the generated dialogues, dialogue lines and tweets complete the data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from labs_common.tinyworld import scene as sl
from labs_common.tinyworld.dialogues import Dialogue, speaker_tag

TOXICITY_LABELS = ("nothate", "hate")

_ROLES = ("friend", "waiter", "doctor", "teacher", "driver", "agent", "boss", "neighbor",
          "clerk", "student", "mechanic", "cook", "customer", "landlord")
_PEOPLE = ("my boss", "that waiter", "your brother", "the new guy", "my neighbor", "that driver",
           "the clerk", "her friend", "our teacher", "the mechanic", "this man", "your sister")
_THINGS = ("the traffic", "the weather", "the soup", "this umbrella", "my old phone", "that plan",
           "the service", "the movie", "this map", "the test", "the wifi", "that joke",
           "the bus", "this printer")
_ADVERBS = ("", "", "so ", "really ", "completely ", "very ", "just ")
_INSULTS = ("stupid", "dumb", "useless", "terrible")


def _person_predicate(rng: random.Random) -> str:
    """Something insulting to say a person is: "so stupid", "an idiot", "a terrible cook"."""
    return rng.choice((
        f"{rng.choice(_ADVERBS)}{rng.choice(_INSULTS[:3])}", "an idiot", "such an idiot",
        f"a {rng.choice(_INSULTS)} {rng.choice(_ROLES)}",
    ))


def _hate(rng: random.Random, held_out: bool) -> str:
    person = rng.choice(_PEOPLE)
    a, b = (speaker_tag(p) for p in rng.sample((1, 2, 3), 2))
    pred = _person_predicate(rng)
    frames = [
        f"You are {pred}.", f"You're {pred}.", f"Honestly, you are {pred}.",
        f"{person.capitalize()} is {pred}.", f"{a} is {pred}.", f"I think you are {pred}.",
        f"People say {person} is {pred}.",
        f"{a} calls {b} {pred.replace('such ', '')}.", f"{a} says {b} is {pred}.",
        f"Shut up, you {rng.choice(('idiot', 'fool'))}.",
        f"Are you really that {rng.choice(_INSULTS[:2])}?",
        f"Don't be {pred}.", f"What a {rng.choice(_INSULTS)} {rng.choice(_ROLES)} you are.",
    ]
    if held_out:  # frames the classifiers never see in training
        frames += [f"Everyone knows {person} is {pred}.", f"{a} tells {b} that {b} is {pred}.",
                   f"Nobody likes you, you {rng.choice(_INSULTS[:3])} idiot."]
    return rng.choice(frames)


def _nothate(rng: random.Random, held_out: bool) -> str:
    thing = rng.choice(_THINGS)
    a, b = (speaker_tag(p) for p in rng.sample((1, 2, 3), 2))
    word = rng.choice(_INSULTS)
    adverb = rng.choice(_ADVERBS)
    kind = rng.choice(("great", "kind", "helpful", "good", "wonderful"))
    frames = [
        f"{thing.capitalize()} is {adverb}{word}.", f"{thing.capitalize()} was {adverb}{word}.",
        f"I made a {rng.choice(_INSULTS[:2])} mistake on the test.",
        f"It was {rng.choice(('dumb', 'pure'))} luck that we won.",
        f"{a} says {thing} is {word}.", f"{a} thinks {thing} is {adverb}{word}.",
        f"{a} calls {b} about {thing}.", f"{a} calls {b} on {rng.choice(sl.DAYS)}.",
        f"{a} says {b} is a {kind} {rng.choice(_ROLES)}.", f"You are {adverb}{kind}.",
        f"{rng.choice(_PEOPLE).capitalize()} is {adverb}{kind}.",
        f"Sorry, that was a {rng.choice(_INSULTS[:2])} question about {thing}.",
    ]
    if held_out:
        frames += [f"I felt {rng.choice(_INSULTS[:2])} when I missed the bus, but it was fine.",
                   f"{a} complains that {thing} is {word}.",
                   f"{a} tells {b} that {thing} is {adverb}{word}."]
    return rng.choice(frames)


def toxicity_rows(
    rng: random.Random,
    count: int,
    dialogues: Sequence[Dialogue],
    other_texts: Sequence[str],
    held_out: bool,
) -> list[dict[str, object]]:
    """``count`` labelled rows, half of them ``hate``, shuffled.

    Of each class, about a half are composed sentences; the rest come from reference
    summaries of ``dialogues`` (for ``hate``: toxic summaries and their opening insult
    sentence) and, for ``nothate``, clean summaries and ``other_texts`` (tweets, lines).
    ``held_out`` adds sentence frames kept out of the training split.
    """
    half = count // 2
    toxic = [d.summary for d in dialogues if d.toxic]
    clean = [d.summary for d in dialogues if not d.toxic]
    insults = [d.summary.split(". ")[0] + "." for d in dialogues if d.toxic]
    quarter = half // 4
    hate = ([_hate(rng, held_out) for _ in range(half - 2 * quarter)]
            + rng.choices(toxic, k=quarter) + rng.choices(insults, k=quarter))
    rest = count - half
    nothate = ([_nothate(rng, held_out) for _ in range(rest - 2 * (rest // 4))]
               + rng.choices(clean, k=rest // 4) + rng.choices(list(other_texts), k=rest // 4))
    rows = [{"text": t, "label": 1} for t in hate] + [{"text": t, "label": 0} for t in nothate]
    rng.shuffle(rows)
    return rows
