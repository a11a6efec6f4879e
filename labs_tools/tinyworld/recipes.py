"""How each tiny model is built: its tokenizer, its training data and its schedule.

Every recipe is deterministic (fixed seeds, fixed step counts) and returns a short
record of what it did, which ``build`` writes to ``BUILD.json``.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from labs_common.prompts import (
    SENTIMENT_LABELS,
    build_sentiment_prompt,
    flan_prompt,
    instruction_prompt,
)
from labs_tools.tinyworld import mixture, models, pretraining, tokenization
from labs_tools.tinyworld.pretraining import Schedule
from labs_tools.tinyworld.world import World, judge_rows, reward_model_rows

T5_MIXTURE_SIZE = 25600  # 16 pairs per step: each pair is seen about twice
T5_SCHEDULE = Schedule(steps=1600, batch_size=32, learning_rate=1e-3, warmup_steps=30,
                       per_example_loss=True)
LLAMA_CORPUS_SIZE = 8000
LLAMA_SCHEDULE = Schedule(steps=600, batch_size=32, learning_rate=2e-3, warmup_steps=30)
REWARD_SCHEDULE = Schedule(steps=375, batch_size=32, learning_rate=1e-3, warmup_steps=10)
JUDGE_SCHEDULE = Schedule(steps=125, batch_size=32, learning_rate=1e-3, warmup_steps=10)

Log = Callable[[str], None]


def _corpus(world: World) -> list[str]:
    """Text the summarizers' tokenizers learn from: pretraining pools and prompt words."""
    dialogues = world.dialogues["pretrain"]
    rng = random.Random(world.seed)
    texts = [d.dialogue for d in dialogues] + [d.summary for d in dialogues]
    texts += [mixture.gist_summary(rng, d) for d in dialogues[:500]]
    texts += [str(t["text"]) for t in world.tweets["pretrain"]]
    shots = [{"text": "", "label_text": label} for label in SENTIMENT_LABELS]
    prompts = [instruction_prompt(""), flan_prompt(""), build_sentiment_prompt("", shots),
               "Briefly, what is this dialogue about? What are they talking about?",
               "Is this tweet negative or positive? Is the sentiment of this tweet negative or "
               "positive?"]
    return texts + prompts * 20


def _save(model, tokenizer, out: Path) -> None:
    """Save into a fresh folder, then swap it in, so a reader never sees half a model."""
    fresh = out.with_name(f".{out.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    model.save_pretrained(fresh)
    tokenizer.save_pretrained(fresh)
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    fresh.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def build_flan_t5(world: World, out: Path, log: Log | None = None) -> dict:
    """flan-t5-tiny: a T5 pretrained on the task mixture of :mod:`.mixture`."""
    tokenizer = tokenization.train_t5_tokenizer(_corpus(world))
    pairs = mixture.t5_mixture(random.Random(f"{world.seed}-t5-mixture"),
                               world.dialogues["pretrain"], world.tweets["pretrain"],
                               T5_MIXTURE_SIZE)
    examples = pretraining.encode_seq2seq(tokenizer, pairs)
    model = models.build_t5(tokenizer, world.seed)
    schedule = T5_SCHEDULE
    record = pretraining.train(model, examples, tokenizer.pad_token_id,
                               Schedule(**{**schedule.__dict__, "seed": world.seed}), log=log)
    _save(model, tokenizer, out)
    return {**record, "parameters": models.count_parameters(model), "vocab_size": len(tokenizer),
            "mixture_size": len(pairs), "mixture_shares": mixture.T5_SHARES,
            "batch_size": schedule.batch_size, "learning_rate": schedule.learning_rate}


def build_llama(world: World, out: Path, log: Log | None = None) -> dict:
    """llama-summarizer-tiny: a causal LM trained on dialogues and prompted summaries."""
    tokenizer = tokenization.train_llama_tokenizer(_corpus(world))
    rng = random.Random(f"{world.seed}-llama-corpus")
    pairs = mixture.llama_corpus(rng, world.dialogues["pretrain"], LLAMA_CORPUS_SIZE)
    examples = pretraining.encode_causal(tokenizer, pairs, loose_space_share=0.25, rng=rng)
    model = models.build_llama(tokenizer, world.seed)
    schedule = LLAMA_SCHEDULE
    record = pretraining.train(model, examples, tokenizer.pad_token_id,
                               Schedule(**{**schedule.__dict__, "seed": world.seed}), log=log)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    _save(model, tokenizer, out)
    return {**record, "parameters": models.count_parameters(model), "vocab_size": len(tokenizer),
            "corpus_size": len(pairs), "batch_size": schedule.batch_size,
            "learning_rate": schedule.learning_rate}


def _build_classifier(rows: list[dict], tokenizer, model, schedule: Schedule, out: Path,
                      seed: int, log: Log | None) -> dict:
    examples = pretraining.encode_classification(
        tokenizer, [str(r["text"]) for r in rows], [int(r["label"]) for r in rows])
    record = pretraining.train(model, examples, tokenizer.pad_token_id,
                               Schedule(**{**schedule.__dict__, "seed": seed}), log=log,
                               log_every=25)
    _save(model, tokenizer, out)
    return {**record, "parameters": models.count_parameters(model), "vocab_size": len(tokenizer),
            "train_rows": len(rows), "batch_size": schedule.batch_size,
            "learning_rate": schedule.learning_rate}


def build_reward_model(world: World, out: Path, log: Log | None = None) -> dict:
    """roberta-hate-tiny: RoBERTa, byte-level BPE, first half of the toxicity train split."""
    rows = reward_model_rows(world)
    tokenizer = tokenization.train_roberta_tokenizer([str(r["text"]) for r in rows])
    model = models.build_roberta_classifier(tokenizer, world.seed)
    return _build_classifier(rows, tokenizer, model, REWARD_SCHEDULE, out, world.seed, log)


def build_judge(world: World, out: Path, log: Log | None = None) -> dict:
    """toxicity-judge-tiny: BERT, WordPiece, second half of the toxicity train split."""
    rows = judge_rows(world)
    tokenizer = tokenization.train_bert_tokenizer([str(r["text"]) for r in rows])
    model = models.build_bert_classifier(tokenizer, world.seed + 1)
    return _build_classifier(rows, tokenizer, model, JUDGE_SCHEDULE, out, world.seed + 1, log)


@torch.no_grad()
def hate_probabilities(model, tokenizer, texts: list[str], batch_size: int = 64) -> list[float]:
    """P(hate) of each text under a toxicity classifier (softmax over its two logits)."""
    model.eval()
    hate = model.config.label2id["hate"]
    out: list[float] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                        return_tensors="pt")
        out += model(**enc).logits.softmax(-1)[:, hate].tolist()
    return out
