"""Generated tweets with a sentiment label: ``id, text, label, label_text``.

Labels follow tweet_eval's sentiment task: 0 negative, 1 neutral, 2 positive. Most
tweets carry a clear cue ("love", "awful"); some are harder (a negated cue such as
"not bad at all", or a question about something rated elsewhere).
"""

from __future__ import annotations

import random

from labs_common.prompts import SENTIMENT_LABELS

SUBJECTS = ("the new phone", "my flight", "this coffee shop", "the game last night",
            "my new job", "this movie", "the train today", "the concert", "the app update",
            "the pizza place downtown", "my landlord", "the weather", "this book",
            "the hotel", "the new album", "my internet", "the bus service", "our team",
            "the museum", "this hair cut", "the gym", "the bakery", "the traffic", "my laptop")

_FRAMES = {
    "negative": (
        "I hate {x}.", "{X} was awful.", "Worst day ever, thanks to {x}.",
        "So disappointed with {x}.",
        "{X} ruined my day.", "Really annoyed at {x} right now.", "{X} is a total mess.",
        "Ugh, {x} again. So frustrating.", "Can't believe how bad {x} is.", "{X} broke my heart :(",
        "Never again, {x}.", "{X} is the worst.",
    ),
    "neutral": (
        "Reading about {x}.", "Anyone know when {x} opens?", "Going to check out {x} later.",
        "Just saw a post about {x}.", "{X} is on the news tonight.", "Thinking about {x}.",
        "Heading out, {x} on my list today.", "Talking about {x} at lunch.",
        "Does anyone have info on {x}?", "{X} is mentioned in the paper today.",
        "Writing down some notes on {x}.", "Waiting to hear more about {x}.",
    ),
    "positive": (
        "I love {x}!", "{X} was amazing.", "Best day ever, thanks to {x}.", "So happy with {x}.",
        "{X} made my day :)", "Really enjoyed {x}.", "{X} is just perfect.",
        "Wow, {x} again. So much fun.", "Can't believe how good {x} is.", "{X} stole my heart.",
        "Can't wait for more of {x}!", "{X} is the best.",
    ),
}
# Harder tweets: the cue is negated or mild.
_HARD_FRAMES = {
    "negative": ("{X} is not good at all.", "{X} could have been better.",
                 "Not happy with {x}.", "Meh, {x} was a letdown."),
    "neutral": ("Not sure what to think about {x} yet.", "Somebody asked me about {x} today.",
                "Is {x} good? Asking for a friend."),
    "positive": ("{X} is not bad at all.", "Pretty decent, {x}.", "No complaints about {x}.",
                 "{X} was nicer than I expected."),
}
_TAGS = ("", "", "", " #monday", " #life", " lol", " #weekend", " #news")
HARD_SHARE = 0.2  # share of tweets written with a harder frame


def make_tweet(rng: random.Random, label: int) -> str:
    """One tweet with sentiment ``label`` (0 negative, 1 neutral, 2 positive)."""
    name = SENTIMENT_LABELS[label]
    frames = _HARD_FRAMES[name] if rng.random() < HARD_SHARE else _FRAMES[name]
    subject = rng.choice(SUBJECTS)
    text = rng.choice(frames).format(x=subject, X=subject[0].upper() + subject[1:])
    return text + rng.choice(_TAGS)


def generate_tweets(
    rng: random.Random, count: int, seen: set[str], balanced: bool = True
) -> list[dict[str, object]]:
    """``count`` distinct tweets not in ``seen``; ``balanced`` gives equal class counts."""
    if balanced:
        labels = [i % 3 for i in range(count)]
        rng.shuffle(labels)
    else:
        labels = [rng.randrange(3) for _ in range(count)]
    rows: list[dict[str, object]] = []
    for label in labels:
        while True:
            text = make_tweet(rng, label)
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": label, "label_text": SENTIMENT_LABELS[label]})
                break
    return rows


def tweet_splits(seed: int, sizes: dict[str, int]) -> dict[str, list[dict[str, object]]]:
    """Disjoint splits of tweets, with ids, generated in the given order."""
    seen: set[str] = set()
    splits = {}
    for name, count in sizes.items():
        rows = generate_tweets(random.Random(f"{seed}-tweets-{name}"), count, seen)
        splits[name] = [{"id": f"{name}_{i}", **row} for i, row in enumerate(rows)]
    return splits
