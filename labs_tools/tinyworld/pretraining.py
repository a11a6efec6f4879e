"""A compact training loop for building the tiny models from scratch on a CPU.

The loop is budgeted in optimizer steps, never in seconds, so a busy machine gives the
same model, only later. Batches group examples of similar length (less padding),
AdamW warms up then decays linearly, and gradients are clipped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from labs_tools.tinyworld.mixture import Pair

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Schedule:
    """How long and how fast a model is trained."""

    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int = 30
    final_lr_fraction: float = 0.1  # the learning rate decays linearly to this share
    weight_decay: float = 0.01
    seed: int = 0
    per_example_loss: bool = False  # average each example's token losses before the batch mean


def encode_seq2seq(tokenizer, pairs: Sequence[Pair], max_source: int = 512,
                   max_target: int = 128) -> list[dict]:
    sources = tokenizer([p.source for p in pairs], max_length=max_source, truncation=True)
    targets = tokenizer([p.target for p in pairs], max_length=max_target, truncation=True)
    return [{"input_ids": s, "labels": t}
            for s, t in zip(sources["input_ids"], targets["input_ids"], strict=True)]


def encode_causal(tokenizer, pairs: Sequence[Pair], max_length: int = 256,
                  loose_space_share: float = 0.0, rng: random.Random | None = None) -> list[dict]:
    """Prompt then target then end-of-sequence; only target tokens are learned.

    A pair with no source is plain text (a whole dialogue): it is learned without an
    end-of-sequence token, so after a bare dialogue the model writes more dialogue.

    The target is tokenized as it follows the prompt after one space. With
    ``loose_space_share``, some prompts end with that space as a token of its own, so
    the model also copes with prompts written as ``prompt + " "``.
    """
    rng = rng or random.Random(0)
    out = []
    for p in pairs:
        if p.source:
            loose = rng.random() < loose_space_share
            prompt = tokenizer(p.source + (" " if loose else ""))["input_ids"]
            body = tokenizer(p.target, add_special_tokens=False)["input_ids"]
            if loose and body and tokenizer.convert_ids_to_tokens(body[0]).startswith("▁"):
                bare = tokenizer.convert_ids_to_tokens(body[0])[1:]
                bare_id = tokenizer.convert_tokens_to_ids(bare)
                body = ([bare_id] if bare and bare_id != tokenizer.unk_token_id else []) + body[1:]
            body = body + [tokenizer.eos_token_id]
        else:  # plain text: no end-of-sequence, so the model learns to carry on writing
            prompt = [tokenizer.bos_token_id]
            body = tokenizer(p.target, add_special_tokens=False)["input_ids"]
        ids = (prompt + body)[:max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + body)[:max_length]
        out.append({"input_ids": ids, "labels": labels})
    return out


def encode_classification(tokenizer, texts: Sequence[str], labels: Sequence[int],
                          max_length: int = 64) -> list[dict]:
    enc = tokenizer(list(texts), max_length=max_length, truncation=True)
    return [{"input_ids": ids, "labels": int(y)}
            for ids, y in zip(enc["input_ids"], labels, strict=True)]


def collate(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``input_ids`` (and sequence ``labels`` with -100) to the batch's longest."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
        mask[i, : len(e["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if isinstance(examples[0]["labels"], int):
        batch["labels"] = torch.tensor([e["labels"] for e in examples])
    else:
        label_width = max(len(e["labels"]) for e in examples)
        labels = torch.full((len(examples), label_width), IGNORE_INDEX, dtype=torch.long)
        for i, e in enumerate(examples):
            labels[i, : len(e["labels"])] = torch.tensor(e["labels"])
        batch["labels"] = labels
    return batch


def length_bucketed_batches(lengths: Sequence[int], batch_size: int,
                            rng: random.Random) -> list[list[int]]:
    """Batches of similar-length examples, in random order (one pass over the data)."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def sequence_loss(model, batch: dict[str, torch.Tensor], per_example: bool) -> torch.Tensor:
    """The model's loss on ``batch``; with ``per_example`` each example counts equally.

    The usual token average lets long targets (a 25-token summary) outweigh short ones
    (a one-word sentiment label) 25 to 1; averaging within each example first gives a
    short answer the same say as a long one.
    """
    out = model(**batch)
    if not per_example:
        return out.loss
    logits, labels = out.logits, batch["labels"]
    if not model.config.is_encoder_decoder:
        logits, labels = logits[:, :-1], labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="none").view(labels.shape)
    counted = (labels != IGNORE_INDEX).float()
    return ((losses * counted).sum(1) / counted.sum(1).clamp(min=1.0)).mean()


def train(model, examples: Sequence[dict], pad_id: int, schedule: Schedule,
          log: Callable[[str], None] | None = None, log_every: int = 50) -> dict:
    """Train ``model`` for ``schedule.steps`` steps; return the final loss and the time taken.

    ``cpu_seconds`` (summed over threads) is less sensitive than wall time to other
    programs sharing the machine.
    """
    torch.manual_seed(schedule.seed)
    rng = random.Random(schedule.seed)
    lengths = [len(e["input_ids"]) + (len(e["labels"]) if isinstance(e["labels"], list) else 0)
               for e in examples]
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": schedule.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=schedule.learning_rate)

    def lr_factor(step: int) -> float:
        if step < schedule.warmup_steps:
            return (step + 1) / schedule.warmup_steps
        progress = (step - schedule.warmup_steps) / max(1, schedule.steps - schedule.warmup_steps)
        return 1.0 - (1.0 - schedule.final_lr_fraction) * progress

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    device = next(model.parameters()).device
    losses: list[float] = []
    queue: list[list[int]] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(schedule.steps):
        if not queue:
            queue = length_bucketed_batches(lengths, schedule.batch_size, rng)
        batch = {k: v.to(device) for k, v in collate([examples[i] for i in queue.pop()],
                                                      pad_id).items()}
        loss = sequence_loss(model, batch, schedule.per_example_loss)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if log and (step + 1) % log_every == 0:
            recent = sum(losses[-log_every:]) / log_every
            log(f"step {step + 1}/{schedule.steps} loss {recent:.3f} "
                f"({time.perf_counter() - start:.0f} s)")
    model.eval()
    tail = losses[-min(50, len(losses)):]
    return {"steps": schedule.steps, "seconds": round(time.perf_counter() - start, 1),
            "cpu_seconds": round(time.process_time() - cpu_start, 1),
            "final_loss": round(sum(tail) / len(tail), 4)}
