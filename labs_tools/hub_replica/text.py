"""Generated data in the real datasets' layouts, and the text the tokenizers learn from.

* ``knkarthick/dialogsum``: CSV files with ``id, dialogue, summary, topic``. A dialogue
  strings together one to four scenes of :mod:`labs_tools.tinyworld` (about 200 T5
  tokens with the instruction around it, as DialogSum's are), and the test split repeats
  each dialogue three times with three different summaries.
* ``mteb/tweet_sentiment_extraction`` (revision d604517): JSON lines with ``id`` (ten hex
  digits), ``text``, ``label`` (0 negative, 1 neutral, 2 positive) and ``label_text``.

Everything derives from one seed, so the files are the same on every machine.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

from labs_common.prompts import SENTIMENT_LABELS, build_sentiment_prompt, instruction_prompt
from labs_tools.tinyworld.dialogues import make_dialogue, speaker_tag
from labs_tools.tinyworld.tweets import make_tweet

DIALOGSUM_COLUMNS = ("id", "dialogue", "summary", "topic")
SCENES_PER_DIALOGUE = (1, 2, 2, 2, 3, 3, 4)  # drawn uniformly: about 2.4 scenes, 60-480 tokens
TOXIC_SHARE = 0.1  # a few dialogues with an insult, so the toxicity lab has something to find
_LINKS = ("By the way, ", "Oh, and ", "Also, ", "Anyway, ", "One more thing. ")
_OPENERS = ("", "", "@user ", "Honestly, ", "So ", "Today: ", "Just saying, ")
_ENDINGS = ("", "", "", " :)", " !!", " ...", " #fb", " #tgif", " haha")


def _compose(rng: random.Random) -> dict[str, str | list[str]]:
    """One DialogSum-style dialogue made of several scenes between #Person1# and #Person2#."""
    scenes = [make_dialogue(rng, insult="strong" if rng.random() < TOXIC_SHARE else "")
              for _ in range(rng.choice(SCENES_PER_DIALOGUE))]
    turns: list[tuple[int, str]] = []
    for index, scene in enumerate(scenes):
        for position, (speaker, line) in enumerate(scene.turns):
            if index and position == 0:
                keep = line.startswith(("I ", "I'")) or line[1:2].isupper()
                line = rng.choice(_LINKS) + (line if keep else line[0].lower() + line[1:])
            turns.append((speaker, line))
    dialogue = "\n".join(f"{speaker_tag(p)}: {line}" for p, line in turns)
    return {"dialogue": dialogue, "topic": scenes[0].topic,
            "summaries": [s.summary for s in scenes], "gists": [s.gist for s in scenes]}


def _summary(item: dict) -> str:
    """The reference: the first two scenes' summaries (DialogSum's are about 30 tokens)."""
    return " ".join(item["summaries"][:2])


def _three_summaries(item: dict) -> list[str]:
    """Three different references for one test dialogue, as three annotators would write."""
    parts, gists = item["summaries"], item["gists"]
    first = _summary(item)
    second = parts[0] if len(parts) == 1 else f"{parts[0]} They also talk about {gists[1]}."
    third = f"#Person1# and #Person2# talk about {' and '.join(dict.fromkeys(gists))}. {parts[-1]}"
    if second == first:
        second = f"In short, {first[0].lower()}{first[1:]}"
    return [first, second, third]


def dialogsum_rows(seed: int, rows: dict[str, int], test_summaries: int) -> dict[str, list]:
    """Rows of every split, each dialogue distinct across all splits."""
    seen: set[str] = set()
    out: dict[str, list[dict[str, str]]] = {}
    prefix = {"train": "train", "validation": "dev", "test": "test", "holdout": "holdout"}
    for split, count in rows.items():
        rng = random.Random(f"{seed}-dialogsum-{split}")
        items = []
        while len(items) < count:
            item = _compose(rng)
            if item["dialogue"] not in seen:
                seen.add(item["dialogue"])
                items.append(item)
        if split == "test":
            out[split] = [
                {"id": f"test_{i}_{k + 1}", "dialogue": item["dialogue"], "summary": summary,
                 "topic": item["topic"]}
                for i, item in enumerate(items)
                for k, summary in enumerate(_three_summaries(item)[:test_summaries])
            ]
        else:
            out[split] = [{"id": f"{prefix[split]}_{i}", "dialogue": item["dialogue"],
                           "summary": _summary(item), "topic": item["topic"]}
                          for i, item in enumerate(items)]
    return out


def write_csv(path: Path, rows: list[dict[str, str]], columns=DIALOGSUM_COLUMNS) -> None:
    """A CSV with a header row, quoting fields that hold commas, quotes or newlines."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def tweet_rows(seed: int, rows: dict[str, int], balanced: bool) -> dict[str, list[dict]]:
    """Tweets per split: balanced labels (scale ci) or the real split's rough shares."""
    used_ids: set[str] = set()
    seen: set[str] = set()
    out = {}
    for split, count in rows.items():
        rng = random.Random(f"{seed}-tweets-{split}")
        if balanced:
            labels = [i % 3 for i in range(count)]
        else:  # about 28 % negative, 40 % neutral, 31 % positive, as in the real splits
            labels = [0 if x < 0.283 else 1 if x < 0.688 else 2
                      for x in (rng.random() for _ in range(count))]
        rng.shuffle(labels)
        split_rows = []
        for label in labels:
            for _ in range(20):  # a few tries for an unseen text; the real data has repeats too
                text = rng.choice(_OPENERS) + make_tweet(rng, label) + rng.choice(_ENDINGS)
                if text not in seen:
                    break
            seen.add(text)
            while (tweet_id := f"{rng.getrandbits(40):010x}") in used_ids:
                pass
            used_ids.add(tweet_id)
            split_rows.append({"id": tweet_id, "text": text, "label": label,
                               "label_text": SENTIMENT_LABELS[label]})
        out[split] = split_rows
    return out


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")


def tokenizer_corpus(seed: int, dialogues: int = 400, tweets: int = 300) -> list[str]:
    """Text every replica tokenizer learns from: dialogues, summaries, tweets and prompts.

    Generated from its own seed (not from the dataset files), so building one repository
    alone gives the same tokenizer as building all of them.
    """
    rng = random.Random(f"{seed}-tokenizer-corpus")
    texts: list[str] = []
    for _ in range(dialogues):
        item = _compose(rng)
        texts += [item["dialogue"], *item["summaries"]]
    texts += [make_tweet(rng, i % 3) for i in range(tweets)]
    shots = [{"text": "", "label_text": label} for label in SENTIMENT_LABELS]
    prompts = [instruction_prompt(""), build_sentiment_prompt("", shots),
               "Dialogue:\n\nWhat was going on?", "Summary:", "system user assistant"]
    return texts + prompts * 20
