import json

import pytest

from labs_common import data
from labs_common.profiles import get_profile


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def dialogue_rows(n, drop=None):
    rows = [
        {"id": f"d{i}", "dialogue": f"#Person1#: hi {i}", "summary": f"s{i}", "topic": "t"}
        for i in range(n)
    ]
    if drop:
        for row in rows:
            row.pop(drop)
    return rows


@pytest.fixture
def tiny_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path))
    for split, n in (("train", 6), ("validation", 3), ("test", 4)):
        write_jsonl(tmp_path / "tiny" / "dialogsum" / f"{split}.jsonl", dialogue_rows(n))
    for split in ("train", "test"):
        rows = [
            {"id": str(i), "text": f"tweet {i}", "label": i % 3, "label_text": "neutral"}
            for i in range(5)
        ]
        write_jsonl(tmp_path / "tiny" / "tweets" / f"{split}.jsonl", rows)
    return tmp_path


def test_dialogues_load_with_all_splits_and_sizes(tiny_folders):
    dialogues = data.load_dialogues(get_profile("tiny"), train=2)
    assert set(dialogues) == {"train", "validation", "test"}
    assert len(dialogues["train"]) == 2 and len(dialogues["test"]) == 4
    assert dialogues["test"].column_names == list(data.DIALOGUE_COLUMNS)


def test_tweets_load(tiny_folders):
    tweets = data.load_tweets(get_profile("tiny"), test=3)
    assert len(tweets["test"]) == 3 and "label_text" in tweets["train"].column_names


def test_a_missing_column_is_named(tiny_folders):
    path = tiny_folders / "tiny" / "dialogsum" / "validation.jsonl"
    write_jsonl(path, dialogue_rows(3, drop="summary"))
    with pytest.raises(data.DataError, match="'validation' split .* no 'summary' column"):
        data.load_dialogues(get_profile("tiny"))


def test_a_missing_file_says_how_to_rebuild(tiny_folders):
    (tiny_folders / "tiny" / "tweets" / "test.jsonl").unlink()
    with pytest.raises(data.DataError, match="make tiny-world"):
        data.load_tweets(get_profile("tiny"))


def test_unique_dialogues_skips_repeats():
    from datasets import Dataset

    rows = Dataset.from_dict(
        {"dialogue": ["a", "a", "a", "b", "b", "c"], "summary": list("123456")}
    )
    unique = data.unique_dialogues(rows, 2)
    assert unique["dialogue"] == ["a", "b"] and unique["summary"] == ["1", "4"]


@pytest.fixture
def hub_folder(tmp_path, monkeypatch):
    """A local Hub folder (LABS_HUB_DIR) with the dialogues as CSVs, as DialogSum ships them."""
    import csv

    from labs_common import hub

    full = get_profile("full")
    for repo_id in full.hub_repositories():
        (tmp_path / repo_id).mkdir(parents=True)
    for split, n in (("train", 6), ("validation", 3), ("test", 4)):
        with open(tmp_path / full.dialogue_dataset / f"{split}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=data.DIALOGUE_COLUMNS)
            writer.writeheader()
            writer.writerows(dialogue_rows(n))
    monkeypatch.setitem(hub._state, "hub_dir", str(tmp_path))
    return tmp_path


def test_the_full_profile_loads_dialogsum_csvs_from_the_hub_folder(hub_folder):
    dialogues = data.load_dialogues(get_profile("full"), train=2)
    assert set(dialogues) == {"train", "validation", "test"}
    assert len(dialogues["train"]) == 2 and len(dialogues["test"]) == 4
    assert set(dialogues["test"].column_names) == set(data.DIALOGUE_COLUMNS)


def test_tweets_in_the_newer_two_column_schema_get_id_and_label_text(hub_folder):
    """A re-upload kept only text and label: the loader derives the other two columns."""
    folder = hub_folder / get_profile("full").sentiment_dataset
    for split in ("train", "test"):
        write_jsonl(folder / f"{split}.jsonl",
                    [{"text": f"tweet {i}", "label": i % 3} for i in range(6)])
    tweets = data.load_tweets(get_profile("full"))
    test = tweets["test"]
    assert set(data.TWEET_COLUMNS) <= set(test.column_names)
    assert test["label_text"] == ["negative", "neutral", "positive"] * 2
    assert len(set(test["id"])) == 6


def test_tweets_in_the_pinned_schema_are_left_as_they_are(hub_folder):
    folder = hub_folder / get_profile("full").sentiment_dataset
    rows = [{"id": f"x{i}", "text": f"t{i}", "label": 1, "label_text": "neutral"}
            for i in range(3)]
    for split in ("train", "test"):
        write_jsonl(folder / f"{split}.jsonl", rows)
    tweets = data.load_tweets(get_profile("full"))
    assert tweets["train"]["id"] == ["x0", "x1", "x2"]
