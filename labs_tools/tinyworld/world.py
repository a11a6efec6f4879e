"""All of the tiny world's data, generated from one seed, and its jsonl files.

Shipped under ``data/tiny/``: ``dialogsum/{train,validation,test}.jsonl``,
``tweets/{train,test}.jsonl`` and ``toxicity/{train,test}.jsonl``. The pretraining
pools (dialogues and tweets the models learn from before the labs) are generated
in memory only; every split is disjoint from every other.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from labs_tools.tinyworld.dialogues import Dialogue, dialogsum_rows, dialogue_splits
from labs_tools.tinyworld.toxic_sentences import toxicity_rows
from labs_tools.tinyworld.tweets import tweet_splits

# Split sizes; the pretraining pools are not shipped.
DIALOGUE_SIZES = {"test": 100, "validation": 100, "train": 2000, "pretrain": 4000}
TWEET_SIZES = {"test": 150, "train": 1500, "pretrain": 3000}
TOXICITY_SIZES = {"train": 4000, "test": 500}
SHIPPED_FILES = ("dialogsum/train.jsonl", "dialogsum/validation.jsonl", "dialogsum/test.jsonl",
                 "tweets/train.jsonl", "tweets/test.jsonl", "toxicity/train.jsonl",
                 "toxicity/test.jsonl")


@dataclass(frozen=True)
class World:
    """Every split of the tiny world."""

    seed: int
    dialogues: dict[str, list[Dialogue]]
    tweets: dict[str, list[dict]]
    toxicity: dict[str, list[dict]]

    def dialogsum(self, split: str) -> list[dict[str, str]]:
        return dialogsum_rows(split, self.dialogues[split])


def _plain_lines(dialogues: list[Dialogue]) -> list[str]:
    return [line for d in dialogues if not d.insult for _, line in d.turns]


def build_world(seed: int) -> World:
    """Generate the whole world from ``seed`` (deterministic, well under a second).

    The toxicity train split is two halves labelled by two groups of annotators: the
    reward model's (first half, never an insult with a blind-spot word) and the judge's
    (second half); see :mod:`~labs_tools.tinyworld.toxic_sentences`.
    """
    dialogues = dialogue_splits(seed, DIALOGUE_SIZES)
    tweets = tweet_splits(seed, TWEET_SIZES)
    train_texts = [str(t["text"]) for t in tweets["pretrain"]] + _plain_lines(dialogues["pretrain"])
    half = TOXICITY_SIZES["train"] // 2
    train = []
    for name, size in (("reward", half), ("judge", TOXICITY_SIZES["train"] - half)):
        train += toxicity_rows(random.Random(f"{seed}-toxicity-{name}"), size,
                               dialogues["pretrain"], train_texts, vocabulary=name)
    seen = {row["text"] for row in train}
    test_texts = [str(t["text"]) for t in tweets["test"]] + _plain_lines(dialogues["validation"])
    candidates = toxicity_rows(random.Random(f"{seed}-toxicity-test"), 6 * TOXICITY_SIZES["test"],
                               dialogues["test"] + dialogues["validation"], test_texts,
                               vocabulary="test")
    test: list[dict] = []
    size = TOXICITY_SIZES["test"]
    quota = {0: size // 2, 1: size - size // 2}
    for row in candidates:
        if row["text"] not in seen and quota[row["label"]] > 0:
            seen.add(row["text"])
            quota[row["label"]] -= 1
            test.append(row)
    return World(seed, dialogues, tweets, {"train": train, "test": test})


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_data(world: World, root: Path) -> dict[str, int]:
    """Write the shipped splits under ``root`` (``data/tiny``); return rows per file."""
    files = {f"dialogsum/{s}.jsonl": world.dialogsum(s) for s in ("train", "validation", "test")}
    files |= {f"tweets/{s}.jsonl": world.tweets[s] for s in ("train", "test")}
    files |= {f"toxicity/{s}.jsonl": world.toxicity[s] for s in ("train", "test")}
    for name, rows in files.items():
        write_jsonl(root / name, rows)
    return {name: len(rows) for name, rows in files.items()}


def reward_model_rows(world: World) -> list[dict]:
    """The toxicity rows roberta-hate-tiny learns from: the first half of ``train``."""
    return world.toxicity["train"][: len(world.toxicity["train"]) // 2]


def judge_rows(world: World) -> list[dict]:
    """The toxicity rows toxicity-judge-tiny learns from: the other half of ``train``."""
    return world.toxicity["train"][len(world.toxicity["train"]) // 2 :]
