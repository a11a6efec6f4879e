"""Loading the labs' datasets through the ``datasets`` API, from the Hub or from ``data/``.

Both profiles return a ``DatasetDict`` with the same splits and columns:

* dialogues (DialogSum): ``id, dialogue, summary, topic``; train / validation / test;
* tweets (sentiment): ``id, text, label, label_text``; train / test.

In the full profile the names are Hub ids, loaded at their pinned commits or from the
local Hub folder (:func:`labs_common.hub.resolve`); in the tiny profile they are
folders of JSON-lines files, one per split.
"""

from __future__ import annotations

from pathlib import Path

from datasets import DatasetDict, load_dataset

from labs_common.hub import resolve
from labs_common.profiles import Profile

DIALOGUE_COLUMNS = ("id", "dialogue", "summary", "topic")
DIALOGUE_SPLITS = ("train", "validation", "test")
TWEET_COLUMNS = ("id", "text", "label", "label_text")
TWEET_SPLITS = ("train", "test")
TWEET_LABELS = ("negative", "neutral", "positive")  # label 0, 1, 2


class DataError(ValueError):
    """A dataset that does not have the shape the labs need."""


def check_columns(data: DatasetDict, columns: tuple[str, ...], name: str) -> None:
    """Raise a :class:`DataError` naming the first required column a split lacks."""
    for split, dataset in data.items():
        for column in columns:
            if column not in dataset.column_names:
                raise DataError(
                    f"The {split!r} split of {name!r} has no {column!r} column "
                    f"(it has {dataset.column_names}); the labs need {list(columns)}."
                )


def _load(source: str, splits: tuple[str, ...], local: bool) -> DatasetDict:
    if not local:
        where = resolve(source)
        data = load_dataset(where.path, revision=where.revision)
        return DatasetDict({split: data[split] for split in splits if split in data})
    folder = Path(source)
    files = {split: str(folder / f"{split}.jsonl") for split in splits}
    missing = [path for path in files.values() if not Path(path).is_file()]
    if missing:
        raise DataError(
            f"Missing data file {missing[0]}: rebuild the tiny world (make tiny-world)."
        )
    # One split at a time: loading them together would fill a column that one file lacks
    # with nulls instead of reporting it.
    return DatasetDict(
        {
            split: load_dataset("json", data_files=path, split="train")
            for split, path in files.items()
        }
    )


def complete_tweet_columns(data: DatasetDict) -> DatasetDict:
    """Tweets in the labs' schema, also from a re-upload that kept only ``text, label``.

    The pinned revision has ``id, text, label, label_text``; a later upload of the same
    data lists only ``text`` and ``label``. The missing columns follow from those two:
    ``label_text`` from the label's number, ``id`` as the row's number in its split.
    """
    out = {}
    for split, dataset in data.items():
        columns = dataset.column_names
        if "label_text" not in columns and "label" in columns:
            dataset = dataset.map(
                lambda row: {"label_text": TWEET_LABELS[int(row["label"])]}
            )
        if "id" not in columns:
            dataset = dataset.add_column("id", [f"{split}-{i}" for i in range(len(dataset))])
        out[split] = dataset
    return DatasetDict(out)


def _subset(data: DatasetDict, sizes: dict[str, int | None]) -> DatasetDict:
    """The first ``sizes[split]`` rows of each split (all rows where the size is None)."""
    out = {}
    for split, dataset in data.items():
        size = sizes.get(split)
        out[split] = dataset if size is None else dataset.select(range(min(size, len(dataset))))
    return DatasetDict(out)


def load_dialogues(
    profile: Profile,
    train: int | None = None,
    validation: int | None = None,
    test: int | None = None,
) -> DatasetDict:
    """DialogSum (full) or the tiny world's dialogues, optionally cut to the first rows."""
    data = _load(profile.dialogue_dataset, DIALOGUE_SPLITS, profile.local)
    check_columns(data, DIALOGUE_COLUMNS, profile.dialogue_dataset)
    return _subset(data, {"train": train, "validation": validation, "test": test})


def load_tweets(profile: Profile, train: int | None = None, test: int | None = None) -> DatasetDict:
    """Tweet sentiment (full) or the tiny world's tweets, optionally cut to the first rows."""
    data = complete_tweet_columns(_load(profile.sentiment_dataset, TWEET_SPLITS, profile.local))
    check_columns(data, TWEET_COLUMNS, profile.sentiment_dataset)
    return _subset(data, {"train": train, "test": test})


def unique_dialogues(dataset, size: int):
    """The first ``size`` rows with distinct dialogues.

    DialogSum's test split repeats each dialogue with three human summaries, so
    "the first 10 rows" are only about four dialogues.
    """
    seen: set[str] = set()
    keep: list[int] = []
    for index, dialogue in enumerate(dataset["dialogue"]):
        if dialogue not in seen:
            seen.add(dialogue)
            keep.append(index)
        if len(keep) == size:
            break
    return dataset.select(keep)
