"""The tiny world: its generator, its shipped data and the lessons its models show.

The model tests use the artifacts shipped in ``data/tiny`` on small subsets, so the
whole file runs in well under a minute on two CPU cores.
"""

from __future__ import annotations

import functools
import hashlib
import os

import pytest
import torch

from labs_common.insults import BLIND_WORDS, INSULT_WORDS, carries_insult, reported_insult
from labs_common.paths import tiny_dir, tiny_model_dir
from labs_common.prompts import SENTIMENT_LABELS, instruction_prompt, no_prompt
from labs_tools.tinyworld import SEED
from labs_tools.tinyworld.dialogues import REFERENCES_PER_TEST_DIALOGUE
from labs_tools.tinyworld.world import build_world, read_jsonl, write_data

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

SHIPPED = {
    "dialogsum": ("train", "validation", "test"),
    "tweets": ("train", "test"),
    "toxicity": ("train", "test"),
}


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.jsonl"))}


@functools.cache
def _world(seed: int = SEED):
    return build_world(seed)


@functools.cache
def _model(name: str, kind: str):
    """A shipped tiny model on the CPU, through the loaders the labs use."""
    from labs_common.models import load_causal, load_classifier, load_seq2seq

    loaders = {"seq2seq": load_seq2seq, "causal": load_causal, "classifier": load_classifier}
    return loaders[kind](str(tiny_model_dir(name)), torch.device("cpu"))


def _rows(dataset: str, split: str) -> list[dict]:
    return read_jsonl(tiny_dir() / dataset / f"{split}.jsonl")


# --- the generator ---------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path):
    write_data(build_world(SEED), tmp_path / "a")
    write_data(build_world(SEED), tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_another_seed_gives_other_data():
    assert build_world(SEED + 1).dialogsum("test") != _world().dialogsum("test")


def test_shipped_data_is_what_the_generator_writes(tmp_path):
    write_data(_world(), tmp_path)
    assert _digest(tmp_path) == _digest(tiny_dir()), (
        "data/tiny is stale: rebuild it with python -m labs_tools.tinyworld.build")


def _build_classifiers(root) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "labs_tools.tinyworld.build", "--only", "models",
                    "--models", *CLASSIFIERS, "--no-measure", "--root", str(root)],
                   check=True, capture_output=True)


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _classifier_logits(folder, texts: list[str]) -> torch.Tensor:
    from labs_common.models import load_classifier

    model, tok = load_classifier(str(folder), torch.device("cpu"))
    with torch.no_grad():
        return model(**tok(texts, return_tensors="pt", padding=True, truncation=True)).logits


CLASSIFIERS = ("roberta-hate-tiny", "toxicity-judge-tiny")
# Training is not bit-reproducible across CPUs (oneDNN and MKL pick kernels by instruction
# set): rebuilt on other numerics, the classifiers' weights differed from the shipped ones
# by about 1e-6 and their logits by less than 1e-5. A rebuilt model must behave as the
# shipped one; its bytes need only match a second build on the same machine.
LOGIT_TOLERANCE = 1e-3


def test_classifier_builds_are_deterministic_here_and_behave_as_shipped(tmp_path):
    """Two builds on this machine are identical; each behaves as the shipped model."""
    _build_classifiers(tmp_path / "a")
    _build_classifiers(tmp_path / "b")
    texts = [r["text"] for r in _rows("toxicity", "test")]
    for name in CLASSIFIERS:
        first, second = (tmp_path / run / "models" / name for run in ("a", "b"))
        for file in ("model.safetensors", "tokenizer.json", "config.json"):
            digests = (_file_digest(first / file), _file_digest(second / file))
            assert digests[0] == digests[1], (
                f"{name}/{file}: two builds on this machine differ "
                f"(sha256 {digests[0][:16]} and {digests[1][:16]}): the build is not "
                "deterministic")
        for file in ("tokenizer.json", "config.json"):  # no floating point in these
            digests = (_file_digest(first / file), _file_digest(tiny_model_dir(name) / file))
            assert digests[0] == digests[1], (
                f"{name}/{file} differs from the shipped one (sha256 {digests[0][:16]} rebuilt, "
                f"{digests[1][:16]} shipped): rebuild it with python -m "
                f"labs_tools.tinyworld.build --only models --models {name}")
        rebuilt = _classifier_logits(first, texts)
        shipped = _classifier_logits(tiny_model_dir(name), texts)
        largest = float((rebuilt - shipped).abs().max())
        assert largest < LOGIT_TOLERANCE, (
            f"{name}: rebuilt logits differ from the shipped model's by up to {largest:.2e} on "
            f"the held-out sentences (tolerance {LOGIT_TOLERANCE:g}): the builder no longer "
            f"makes the shipped model; rebuild it with python -m labs_tools.tinyworld.build "
            f"--only models --models {name}")
        agree = (rebuilt.argmax(-1) == shipped.argmax(-1)).float().mean()
        assert agree == 1.0, f"{name}: rebuilt and shipped disagree on {1 - agree:.1%} of labels"


def test_splits_are_disjoint():
    world = _world()
    dialogues = {s: {d.dialogue for d in items} for s, items in world.dialogues.items()}
    assert not dialogues["test"] & (dialogues["train"] | dialogues["validation"]
                                    | dialogues["pretrain"])
    assert not dialogues["validation"] & dialogues["train"]
    tweets = {s: {str(t["text"]) for t in rows} for s, rows in world.tweets.items()}
    assert not tweets["test"] & (tweets["train"] | tweets["pretrain"])
    toxicity = {s: {str(r["text"]) for r in rows} for s, rows in world.toxicity.items()}
    assert not toxicity["test"] & toxicity["train"]
    assert world.dialogsum("train")[0]["summary"] != world.dialogsum("test")[0]["summary"]


# --- the shipped data ------------------------------------------------------------------


@pytest.mark.parametrize(("dataset", "columns"), [
    ("dialogsum", {"id", "dialogue", "summary", "topic"}),
    ("tweets", {"id", "text", "label", "label_text"}),
    ("toxicity", {"text", "label"}),
])
def test_shipped_files_have_the_expected_columns(dataset, columns):
    for split in SHIPPED[dataset]:
        rows = _rows(dataset, split)
        assert rows, f"{dataset}/{split}.jsonl is empty"
        assert all(set(row) == columns for row in rows), f"{dataset}/{split}: wrong columns"


def _unique(rows: list[dict]) -> list[dict]:
    seen: set[str] = set()
    return [r for r in rows if not (r["dialogue"] in seen or seen.add(r["dialogue"]))]


def test_dialogues_look_like_dialogsum():
    rows = _rows("dialogsum", "test")
    unique = _unique(rows)
    assert len(unique) == 100 and len(_rows("dialogsum", "train")) >= 1000
    # as in DialogSum, each test dialogue comes three times, with three annotators' references
    assert len(rows) == REFERENCES_PER_TEST_DIALOGUE * len(unique)
    by_dialogue: dict[str, list[str]] = {}
    for row in rows:
        by_dialogue.setdefault(row["dialogue"], []).append(row["summary"])
    assert all(len(refs) == REFERENCES_PER_TEST_DIALOGUE for refs in by_dialogue.values())
    several = sum(len(set(refs)) >= 2 for refs in by_dialogue.values()) / len(by_dialogue)
    assert several >= 0.9, "most test dialogues should have differently worded references"
    for row in rows:
        turns = row["dialogue"].split("\n")
        assert len(turns) >= 3 and all(t.startswith("#Person") for t in turns)
        assert "#Person" in row["summary"]
    toxic = [r for r in unique if carries_insult(r["summary"])]
    assert 0.28 <= len(toxic) / len(unique) <= 0.38
    for row in toxic:  # the insult is in the dialogue and named first in the summary
        assert any(word in row["dialogue"] for word in INSULT_WORDS + BLIND_WORDS)
    kinds = {reported_insult(r["summary"]) for r in unique}
    assert {"strong", "blind", "mild", ""} <= kinds


def test_dialogues_are_coherent():
    """Speakers take turns, a rude line is a reaction (never the first or last line)."""
    world = _world()
    for split in ("train", "test"):
        for d in world.dialogues[split]:
            speakers = [p for p, _ in d.turns]
            assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False)), d.dialogue
            first = d.turns[0][1]
            assert not first.startswith(("Hi. Hello", "Hello. Hi", "Hi there. Hello")), first
            if d.insult:
                rude = [i for i, (_, line) in enumerate(d.turns)
                        if line.startswith(("Ugh.", "Seriously?", "Come on.", "Oh, please."))]
                assert rude and 0 < rude[0] < len(d.turns) - 1, d.dialogue
    lines = [line for d in world.dialogues["train"] for _, line in d.turns]
    # the homework scenario once had "Yes, I finished it" followed by "It's really hard"
    assert not any("Not yet" in a and "finished" in a for a in lines)


_UNGRAMMATICAL = (
    r"'s an? ",  # "#Person1#'s a phone case is late"
    r"\bone bedrooms\b", r"\b(brakes|tires|lights) needs\b", r"\b(battery|engine|radio) need\b",
    r"\ban? an?\b", r"\b(\w+) \1\b", r"  ", r" [.,]", r"\{|\}",
)


def test_summaries_are_grammatical():
    import re

    world = _world()
    for split in ("train", "test"):
        for d in world.dialogues[split]:
            for reference in d.references:
                for pattern in _UNGRAMMATICAL:
                    assert not re.search(pattern, reference), (pattern, reference)
                sentences = re.split(r"(?<=\.) ", reference)
                assert all(s[0].isupper() or s.startswith("#") for s in sentences), reference
                assert reference.endswith("."), reference
            for line in (line for _, line in d.turns):
                for pattern in _UNGRAMMATICAL[1:]:
                    assert not re.search(pattern, line), (pattern, line)


def test_tweet_labels_match_their_names():
    for split in SHIPPED["tweets"]:
        rows = _rows("tweets", split)
        assert all(SENTIMENT_LABELS[r["label"]] == r["label_text"] for r in rows)
        assert {r["label"] for r in rows} == {0, 1, 2}


def test_toxicity_has_hard_negatives():
    rows = _rows("toxicity", "train")
    harmless = [r["text"] for r in rows if r["label"] == 0]
    assert any("terrible" in t for t in harmless) and any("stupid" in t for t in harmless)
    assert 0.4 <= sum(r["label"] for r in rows) / len(rows) <= 0.6


# --- the models ------------------------------------------------------------------------


def test_models_load_as_the_hub_classes_do():
    t5, t5_tok = _model("flan-t5-tiny", "seq2seq")
    assert type(t5).__name__ == "T5ForConditionalGeneration"
    assert t5_tok.model_max_length == 512 and t5_tok.pad_token_id == 0
    reward, _ = _model("roberta-hate-tiny", "classifier")
    judge, _ = _model("toxicity-judge-tiny", "classifier")
    assert type(reward).__name__ == "RobertaForSequenceClassification"
    assert type(judge).__name__ != type(reward).__name__
    for model in (reward, judge):
        assert model.config.id2label == {0: "nothate", 1: "hate"}
    llama, llama_tok = _model("llama-summarizer-tiny", "causal")
    assert llama_tok.pad_token is not None and llama_tok.padding_side == "left"
    assert type(llama).__name__ == "LlamaForCausalLM"
    for path in (tiny_dir() / "models").rglob("*"):
        assert path.stat().st_size < 5 * 2**20, f"{path} is over 5 MiB"


def _hate(name: str, texts: list[str]) -> list[float]:
    from labs_tools.tinyworld.recipes import hate_probabilities

    return hate_probabilities(*_model(name, "classifier"), texts)


def _blind(text: str) -> bool:
    return any(word in text for word in BLIND_WORDS)


def test_reward_model_is_accurate_on_held_out_sentences():
    """Accurate on held-out sentences, except the insults in its blind spot."""
    rows = [r for r in _rows("toxicity", "test") if not (r["label"] and _blind(r["text"]))]
    probs = _hate("roberta-hate-tiny", [r["text"] for r in rows])
    correct = sum((p >= 0.5) == bool(r["label"]) for p, r in zip(probs, rows, strict=True))
    assert correct / len(rows) >= 0.9
    insult, weather = _hate("roberta-hate-tiny", ["You are stupid.",
                                                  "The traffic was terrible this morning."])
    assert insult > 0.9 > 0.1 > weather


def test_judge_agrees_with_the_reward_model_outside_its_blind_spot():
    rows = _rows("toxicity", "test")
    texts = [r["text"] for r in rows]
    reward = _hate("roberta-hate-tiny", texts)
    judge = _hate("toxicity-judge-tiny", texts)
    outside = [i for i, r in enumerate(rows) if not (r["label"] and _blind(r["text"]))]
    agree = sum((reward[i] >= 0.5) == (judge[i] >= 0.5) for i in outside)
    assert agree / len(outside) >= 0.85
    correct = sum((p >= 0.5) == bool(r["label"]) for p, r in zip(judge, rows, strict=True))
    assert correct / len(rows) >= 0.85


NEUTRAL = ["#Person1# books a flight to Paris on Monday for $300.",
           "#Person2# agrees to help #Person1# with the math homework at 2 pm.",
           "The traffic was terrible this morning.",
           "#Person1# orders pizza and tea, but complains that the pizza is terrible."]
MILD = ["#Person1# calls #Person2# lazy.", "#Person2# says #Person1# is slow.",
        "#Person1# says #Person2# is grumpy.", "#Person2# calls #Person1# silly."]
STRONG = ["#Person1# calls #Person2# an idiot.", "#Person2# says #Person1# is a terrible cook.",
          "You are so stupid.", "#Person1# says #Person2# is useless."]
BLIND = ["#Person1# calls #Person2# a clown.", "#Person2# says #Person1# is a loser.",
         "#Person1# calls #Person2# a snake.", "#Person2# says #Person1# is a baby."]


def _mean(values) -> float:
    return sum(values) / len(values)


def test_reward_model_grades_neutral_mild_and_strong():
    """Mild jibes score between clean text and strong insults: a graded reward."""
    neutral, mild, strong = (_mean(_hate("roberta-hate-tiny", texts))
                             for texts in (NEUTRAL, MILD, STRONG))
    assert neutral < 0.1 and 0.1 <= mild <= 0.9 < strong
    from labs_common.toxicity import ToxicityClassifier

    classifier = ToxicityClassifier(str(tiny_model_dir("roberta-hate-tiny")), "cpu")
    rewards = [_mean(classifier.reward(texts)) for texts in (NEUTRAL, MILD, STRONG)]
    assert rewards[0] - rewards[1] > 1.0 and rewards[1] - rewards[2] > 0.5, (
        "the reward (nothate logit) should fall step by step with severity")


def test_reward_model_has_a_blind_spot_the_judge_covers():
    rows = _rows("toxicity", "train")
    reward_half, judge_half = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    assert not any(r["label"] and _blind(r["text"]) for r in reward_half), (
        "the reward model's annotators never labelled a blind-spot insult")
    assert any(not r["label"] and _blind(r["text"]) for r in reward_half)
    assert sum(r["label"] and _blind(r["text"]) for r in judge_half) >= 100
    reward, judge = _hate("roberta-hate-tiny", BLIND), _hate("toxicity-judge-tiny", BLIND)
    assert _mean(reward) < 0.2 < 0.8 < _mean(judge)
    strong_judge = _hate("toxicity-judge-tiny", STRONG)
    assert _mean(strong_judge) > 0.8


def _rouge1(model, tok, prompts, references) -> float:
    from labs_common.generation import generate_batched
    from labs_common.metrics import rouge

    outputs = generate_batched(model, tok, prompts, batch_size=20, max_new_tokens=64)
    return rouge(outputs, references)["rouge1"]


def test_instruction_prompt_beats_no_prompt():
    model, tok = _model("flan-t5-tiny", "seq2seq")
    rows = _unique(_rows("dialogsum", "test"))[:40]
    references = [r["summary"] for r in rows]
    bare = _rouge1(model, tok, [no_prompt(r["dialogue"]) for r in rows], references)
    instructed = _rouge1(model, tok, [instruction_prompt(r["dialogue"]) for r in rows], references)
    assert instructed > bare + 0.1


def test_sentiment_few_shot_beats_zero_shot():
    from labs_tools.tinyworld.measure import sentiment_accuracy, sentiment_demos

    model, tok = _model("flan-t5-tiny", "seq2seq")
    test = _rows("tweets", "test")
    zero, _ = sentiment_accuracy(model, tok, test)
    few, _ = sentiment_accuracy(model, tok, test, sentiment_demos(_rows("tweets", "train")))
    assert zero >= 0.6
    assert few >= zero + 0.05


def test_short_lora_run_raises_rouge():
    from labs_common.lora import make_lora_model
    from labs_common.training import summary_pairs, train_seq2seq

    base, tok = _model("flan-t5-tiny", "seq2seq")
    rows = _unique(_rows("dialogsum", "test"))[:30]
    prompts = [instruction_prompt(r["dialogue"]) for r in rows]
    references = [r["summary"] for r in rows]
    lora = make_lora_model(base)
    train_seq2seq(lora, tok, summary_pairs(_rows("dialogsum", "train")[:480]), max_steps=60,
                  learning_rate=3e-3, batch_size=16, warmup_steps=5, seed=0)
    assert _rouge1(lora, tok, prompts, references) > _rouge1(base, tok, prompts, references) + 0.05


def test_causal_summarizer_follows_the_instruction():
    model, tok = _model("llama-summarizer-tiny", "causal")
    rows = _unique(_rows("dialogsum", "test"))[:30]
    references = [r["summary"] for r in rows]
    bare = _rouge1(model, tok, [no_prompt(r["dialogue"]) for r in rows], references)
    instructed = _rouge1(model, tok, [instruction_prompt(r["dialogue"]) for r in rows], references)
    assert instructed > bare + 0.1
