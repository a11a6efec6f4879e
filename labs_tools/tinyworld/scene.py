"""A small toolkit for writing dialogue templates: slots, paraphrases and the summary.

A scenario function receives a :class:`Scene`, fills a few slots, has the speakers say
one of several paraphrases per turn and writes the reference summary from the same
slots, so the summary always names who did what with which details.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

CITIES = ("Paris", "London", "Tokyo", "Boston", "Madrid", "Berlin", "Sydney", "Toronto",
          "Rome", "Chicago", "Seattle", "Dublin", "Vienna", "Denver")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIMES = ("9 am", "10 am", "11 am", "noon", "2 pm", "3 pm", "4 pm", "6 pm", "7 pm", "8 pm")
COLOURS = ("red", "blue", "green", "black", "white", "grey", "yellow", "brown")
CLOTHES = ("jacket", "sweater", "dress", "shirt", "coat", "skirt", "scarf", "hat")
DISHES = ("pasta", "steak", "chicken soup", "fish", "salad", "pizza", "curry", "noodles")
DRINKS = ("coffee", "tea", "orange juice", "water", "lemonade")
JOBS = ("sales assistant", "accountant", "designer", "nurse", "teacher", "cook",
        "driver", "engineer")
SUBJECTS = ("math", "history", "chemistry", "physics", "biology", "English", "geography")
LOST_ITEMS = ("wallet", "phone", "keys", "umbrella", "backpack", "glasses", "laptop")
LOST_PLACES = ("on the bus", "in the cafe", "at the gym", "in the park", "on the train",
               "at the library", "in a taxi")
CAR_PARTS = ("brakes", "battery", "tires", "engine", "lights", "radio")
SYMPTOMS = ("a headache", "a sore throat", "a bad cough", "a fever", "back pain",
            "a stomach ache")
FILM_KINDS = ("comedy", "horror film", "love story", "cartoon", "war film", "thriller")
GIFTS = ("a book", "a watch", "a cake", "flowers", "a board game", "a camera")
SPORTS = ("tennis", "football", "swimming", "basketball", "running", "yoga")
ROOMS = ("single room", "double room", "suite")
PETS = ("dog", "cat", "rabbit", "parrot")


@dataclass
class Scene:
    """One dialogue being written: its turns, its summary sentences and its slots."""

    rng: random.Random
    topic: str = ""
    gist: str = ""  # what a vague summary would say they talk about, e.g. "booking a flight"
    roles: dict[int, str] = field(default_factory=dict)  # speaker -> role noun, e.g. "waiter"
    slots: dict[str, object] = field(default_factory=dict)
    turns: list[tuple[int, str]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    # every phrasing offered for each summary sentence, formatted: the other references
    summary_options: list[tuple[str, ...]] = field(default_factory=list)
    # other ways to say ``gist``; slots allowed ("the {subject} homework")
    gists: tuple[str, ...] = ()

    def pick(self, *options):
        """One of ``options``, chosen at random."""
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def price(self, low: int, high: int, step: int = 5) -> int:
        return self.rng.randrange(low, high + 1, step)

    def fill(self, **slots) -> None:
        """Set slots that later turns and summary sentences refer to as ``{name}``."""
        self.slots.update(slots)

    def say(self, speaker: int, *options: str) -> None:
        """Speaker ``speaker`` says one of ``options`` (formatted with the slots)."""
        self.turns.append((speaker, self.pick(*options).format(**self.slots)))

    def sums(self, *options: str) -> None:
        """Add one sentence, chosen from ``options``, to the reference summary.

        Every option is kept (formatted) in ``summary_options``: the other annotators'
        references are written from them.
        """
        formatted = tuple(o.format(**self.slots) for o in options)
        self.summary.append(self.rng.choice(formatted))
        self.summary_options.append(formatted)

    def gist_options(self) -> tuple[str, ...]:
        """``gist`` and its alternatives, formatted with the slots."""
        return (self.gist, *(g.format(**self.slots) for g in self.gists))

    @property
    def speakers(self) -> list[int]:
        return sorted({speaker for speaker, _ in self.turns})
