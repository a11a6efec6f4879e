"""Supervised fine-tuning of a sequence-to-sequence model (Lab 2, reused by Lab 3).

Training data is a table of ``prompt`` → ``target`` pairs. Tokenization keeps every
example at its own length; the collator pads each batch only to its longest member
and pads the labels with -100, the index the loss ignores. The seed notebooks padded
every input and label to 512 tokens with the pad id instead: most of each batch was
padding, the model spent compute on it, and because padded labels were real targets
the loss rewarded predicting padding.

:func:`train_seq2seq` also runs under ``accelerate launch``: each process trains on its
share of every batch, and the loss is the mean over the tokens of all processes.
"""

from __future__ import annotations

import random
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from datasets import Dataset
from transformers import TrainerCallback

from labs_common import checkpoints
from labs_common.device import padding_multiple
from labs_common.hub import silence_library_deprecations
from labs_common.prompts import build_sentiment_prompt, instruction_prompt

IGNORE_INDEX = -100  # label value that the cross-entropy loss skips

Row = Mapping[str, object]


def summary_pairs(
    rows: Sequence[Row], prompt: Callable[[str], str] = instruction_prompt
) -> Dataset:
    """``prompt(dialogue)`` → reference summary, for each DialogSum row (Lab 2, section 3)."""
    return Dataset.from_dict(
        {
            "prompt": [prompt(str(row["dialogue"])) for row in rows],
            "target": [str(row["summary"]) for row in rows],
        }
    )


def sentiment_pairs(rows: Sequence[Row]) -> Dataset:
    """Zero-shot sentiment prompt → label word, for each tweet row (Lab 2, part two)."""
    return Dataset.from_dict(
        {
            "prompt": [build_sentiment_prompt(str(row["text"])) for row in rows],
            "target": [str(row["label_text"]) for row in rows],
        }
    )


def mix_pairs(parts: Mapping[str, tuple[Dataset, float]], size: int, seed: int = 0) -> Dataset:
    """A shuffled mixture of ``size`` pairs drawn from named parts with the given shares.

    ``parts`` maps a name to ``(pairs, share)``; shares must sum to 1. Each part
    contributes ``round(share * size)`` pairs, cycling through it if it is shorter.
    A ``task`` column records where each pair came from (Lab 2, multi-task section).
    """
    total = sum(share for _, share in parts.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"The mixture's shares sum to {total:g}; they must sum to 1.")
    rng = random.Random(seed)
    prompts: list[str] = []
    targets: list[str] = []
    tasks: list[str] = []
    for name, (pairs, share) in parts.items():
        if len(pairs) == 0:
            raise ValueError(f"The mixture part {name!r} is empty.")
        count = round(share * size)
        order = list(range(len(pairs)))
        rng.shuffle(order)
        picks = [order[i % len(order)] for i in range(count)]
        prompts += [pairs[i]["prompt"] for i in picks]
        targets += [pairs[i]["target"] for i in picks]
        tasks += [name] * count
    order = list(range(len(prompts)))
    rng.shuffle(order)
    return Dataset.from_dict(
        {
            "prompt": [prompts[i] for i in order],
            "target": [targets[i] for i in order],
            "task": [tasks[i] for i in order],
        }
    )


def tokenize_pairs(
    pairs: Dataset, tokenizer, max_source_length: int = 512, max_target_length: int = 128
) -> Dataset:
    """Token ids for prompts and targets, truncated but not padded (the collator pads)."""

    def encode(batch):
        encoded = tokenizer(batch["prompt"], max_length=max_source_length, truncation=True)
        encoded["labels"] = tokenizer(
            text_target=batch["target"], max_length=max_target_length, truncation=True
        )["input_ids"]
        return encoded

    return pairs.map(encode, batched=True, remove_columns=pairs.column_names)


@dataclass
class TrainingRun:
    """What a fine-tuning run leaves behind for the lab to show."""

    losses: list[tuple[int, float]]  # (step, training loss) at each logging step
    seconds: float  # wall-clock training time (evaluations included)
    steps: int
    peak_gpu_memory_bytes: int | None = None  # None on a CPU
    log_history: list[dict] = field(default_factory=list, repr=False)
    gpu_memory_before_bytes: int | None = None  # allocated when training started; None on a CPU
    eval_losses: list[tuple[int, float]] = field(default_factory=list)  # (step, validation loss)

    @property
    def extra_gpu_memory_bytes(self) -> int | None:
        """GPU memory the run needed on top of what was already allocated (None on a CPU)."""
        if self.peak_gpu_memory_bytes is None or self.gpu_memory_before_bytes is None:
            return None
        return self.peak_gpu_memory_bytes - self.gpu_memory_before_bytes


def token_mean_loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """Cross-entropy summed over this process's target tokens, divided by ``num_items_in_batch``.

    The Trainer's ``compute_loss_func`` on several processes. It counts the target tokens
    of the whole batch, over all processes, and multiplies each process's loss by the
    process count before the gradients are averaged; that is right only for a loss
    divided by that count. T5 computes the mean over its own tokens whatever it is given,
    which would make every gradient ``processes`` times too large and weigh the processes
    equally instead of by their tokens.
    """
    logits = outputs["logits"] if isinstance(outputs, Mapping) else outputs[0]
    total = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.to(logits.device).reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="sum",
    )
    if num_items_in_batch is None:
        num_items_in_batch = (labels != IGNORE_INDEX).sum()
    return total / num_items_in_batch


def train_seq2seq(
    model,
    tokenizer,
    pairs: Dataset,
    *,
    max_steps: int,
    learning_rate: float,
    batch_size: int = 16,
    warmup_steps: int = 0,
    weight_decay: float = 0.0,
    logging_steps: int = 10,
    seed: int = 0,
    bf16: bool = False,
    max_source_length: int = 512,
    max_target_length: int = 128,
    progress: bool = False,
    output_dir: str | None = None,
    pad_to_multiple_of: int | None | Literal["auto"] = "auto",
    eval_pairs: Dataset | None = None,
    eval_steps: int | None = None,
    checkpoint_dir: str | Path | None = None,
    save_steps: int | None = None,
    log: Callable[[str], None] = print,
) -> TrainingRun:
    """Fine-tune ``model`` in place on ``pairs`` with ``Seq2SeqTrainer`` (Lab 2, sections 4–5).

    Works for a plain model (full fine-tuning) and for a peft model (only the adapter
    trains). ``bf16`` comes from the profile's precision rules: FLAN-T5 overflows in
    fp16, so fp16 is never used. The learning rate decays linearly to zero.
    ``pad_to_multiple_of="auto"`` follows :func:`~labs_common.device.padding_multiple`:
    batch lengths rounded up to multiples of 64 on a GPU, no rounding on a CPU.
    With ``eval_pairs`` the loss on those held-out pairs is computed every ``eval_steps``
    steps (default: every third logging step) and once before the first step, for the loss
    curves: every run then starts from a measured point (step 0).
    Under ``accelerate launch`` ``batch_size`` is per process, and the loss is
    :func:`token_mean_loss`, the mean over the target tokens of all processes (one process
    keeps the model's own loss).

    With ``checkpoint_dir`` the run survives a disconnect: the Trainer saves a checkpoint
    there every ``save_steps`` steps (default: a fifth of the run) and after the last, each
    sealed by :func:`labs_common.checkpoints.seal`; called again with the same folder and
    settings, it resumes from the newest good checkpoint (the Trainer restores weights,
    optimizer, schedule, random generators and its place in the data), and a run that
    finished is loaded, not retrained. Other settings than the folder's start over.
    """
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

    if max_steps < 1:
        raise ValueError("max_steps must be at least 1.")
    tokenized = tokenize_pairs(pairs, tokenizer, max_source_length, max_target_length)
    evaluated = None
    if eval_pairs is not None:
        evaluated = tokenize_pairs(eval_pairs, tokenizer, max_source_length, max_target_length)
        eval_steps = eval_steps or max(1, 3 * logging_steps)
    on_gpu = torch.cuda.is_available()
    if pad_to_multiple_of == "auto":
        pad_to_multiple_of = padding_multiple("cuda" if on_gpu else "cpu")
    resume = None
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        save_steps = save_steps or max(1, max_steps // 5)
        fingerprint = {"max_steps": max_steps, "learning_rate": learning_rate,
                       "batch_size": batch_size, "warmup_steps": warmup_steps,
                       "weight_decay": weight_decay, "seed": seed, "examples": len(pairs),
                       "start": checkpoints.weights_signature(
                           p for p in model.parameters() if p.requires_grad)}
        resume = checkpoints.resume_from(checkpoint_dir, fingerprint, max_steps, "This run", log)
    with tempfile.TemporaryDirectory() as scratch:
        args = Seq2SeqTrainingArguments(
            output_dir=str(checkpoint_dir or output_dir or scratch),
            max_steps=max_steps,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            warmup_steps=warmup_steps,
            weight_decay=weight_decay,
            lr_scheduler_type="linear",
            logging_steps=logging_steps,
            save_strategy="steps" if checkpoint_dir is not None else "no",
            save_steps=save_steps or 500,
            save_total_limit=2 if checkpoint_dir is not None else None,
            report_to="none",
            seed=seed,
            data_seed=seed,
            bf16=bf16,
            fp16=False,
            use_cpu=not on_gpu,
            disable_tqdm=not progress,
            dataloader_num_workers=0,
            eval_strategy="steps" if evaluated is not None else "no",
            eval_steps=eval_steps,
            per_device_eval_batch_size=batch_size,
        )
        trainer = Seq2SeqTrainer(
            model=model,
            args=args,
            train_dataset=tokenized,
            eval_dataset=evaluated,
            data_collator=DataCollatorForSeq2Seq(
                tokenizer, model=model, label_pad_token_id=IGNORE_INDEX,
                pad_to_multiple_of=pad_to_multiple_of,
            ),
            processing_class=tokenizer,
            compute_loss_func=token_mean_loss if args.world_size > 1 else None,
            callbacks=[_SealCheckpoints()] if checkpoint_dir is not None else None,
        )
        if not progress:  # without a progress bar the trainer would print every log line
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        memory_before = None
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
            memory_before = torch.cuda.memory_allocated()
        start = time.perf_counter()
        with warnings.catch_warnings():
            silence_library_deprecations()
            start_loss = trainer.evaluate()["eval_loss"] if evaluated is not None else None
            trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        if resume is not None and checkpoints.step_of(resume) >= max_steps:
            _leave_generators_as_trained(resume, trainer.args)
        seconds = time.perf_counter() - start
    history = list(trainer.state.log_history)
    losses = [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h]
    eval_losses = [(int(h["step"]), float(h["eval_loss"])) for h in history
                   if "eval_loss" in h and h["step"] > 0]
    if start_loss is not None:
        eval_losses.insert(0, (0, float(start_loss)))
    model.eval()
    return TrainingRun(
        losses=losses,
        seconds=seconds,
        steps=int(trainer.state.global_step),
        peak_gpu_memory_bytes=torch.cuda.max_memory_allocated() if on_gpu else None,
        log_history=history,
        gpu_memory_before_bytes=memory_before,
        eval_losses=eval_losses,
    )


def _leave_generators_as_trained(checkpoint: Path, args) -> None:
    """A finished run loaded instead of retrained leaves the random generators where its
    training left them (the Trainer saved them with the last checkpoint): what the lab draws
    next, such as a new adapter's random start, is then what an uninterrupted run draws."""
    import numpy as np
    from transformers.trainer_pt_utils import safe_globals

    name = f"rng_state_{args.process_index}.pth" if args.world_size > 1 else "rng_state.pth"
    if not (checkpoint / name).is_file():
        return
    with safe_globals():  # numpy's generator state, allowed for a weights-only load
        state = torch.load(checkpoint / name, weights_only=True)
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002 - the global state the Trainer saved
    torch.random.set_rng_state(state["cpu"])
    if torch.cuda.is_available() and "cuda" in state:
        cuda = state["cuda"]
        if isinstance(cuda, list | tuple):
            torch.cuda.random.set_rng_state_all(cuda)
        else:
            torch.cuda.random.set_rng_state(cuda)


class _SealCheckpoints(TrainerCallback):
    """Seal each checkpoint once the Trainer has written it, and save one after the last step."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            checkpoints.seal(folder, state.global_step)


def lab2_lora_budget(profile) -> dict:
    """The training budget of Lab 2's LoRA summarizer, as ``train_seq2seq`` keywords.

    Lab 3 starts from that adapter; when Lab 2 has not been run (each Colab notebook gets a
    fresh machine) Lab 3 trains the same adapter with exactly this budget, so that PPO
    starts from the same kind of model either way.
    """
    settings = profile.lab2
    return {
        "max_steps": settings.lora_steps,
        "learning_rate": settings.lora_learning_rate,
        "batch_size": settings.batch_size,
        "warmup_steps": settings.warmup_steps,
    }


def collate_examples(pairs: Dataset, tokenizer, model=None, count: int = 4,
                     max_source_length: int = 512, max_target_length: int = 128) -> dict:
    """The first ``count`` pairs as one batch, padded the way :func:`train_seq2seq` pads.

    Dynamic padding: inputs are padded to the longest prompt in the batch (attention
    mask 0 there) and labels to the longest target with -100 (Lab 2, section 3).
    """
    from transformers import DataCollatorForSeq2Seq

    tokenized = tokenize_pairs(pairs.select(range(min(count, len(pairs)))), tokenizer,
                               max_source_length, max_target_length)
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=IGNORE_INDEX,
                                      return_tensors="pt")
    return collator([tokenized[i] for i in range(len(tokenized))])


def pad_to_max_length_batch(pairs: Dataset, tokenizer, count: int = 4, length: int = 512) -> dict:
    """The first ``count`` pairs padded as the seed notebooks did (for comparison only).

    Every input and every label is padded to ``length`` tokens with the pad id, so the
    padded label positions are ordinary targets that the loss trains on.
    """
    rows = pairs.select(range(min(count, len(pairs))))
    encoded = tokenizer(list(rows["prompt"]), padding="max_length", max_length=length,
                        truncation=True, return_tensors="pt")
    encoded["labels"] = tokenizer(text_target=list(rows["target"]), padding="max_length",
                                  max_length=length, truncation=True,
                                  return_tensors="pt")["input_ids"]
    return dict(encoded)


@dataclass(frozen=True)
class PaddingShare:
    """How much of a batch is padding (Lab 2, section 3)."""

    inputs: float  # share of input positions that are padding (attention mask 0)
    labels: float  # share of label positions that are padding (-100 or the pad id)
    labels_in_loss: float  # share of label positions that are padding the loss still trains on

    def __str__(self) -> str:
        return (f"inputs {self.inputs:.0%} padding, labels {self.labels:.0%} padding, "
                f"{self.labels_in_loss:.0%} of label positions are padding the loss trains on")


def padding_share(batch: Mapping[str, torch.Tensor], pad_token_id: int) -> PaddingShare:
    """Shares of padding in a collated batch with ``input_ids``, ``attention_mask``, ``labels``.

    Label padding written as -100 is ignored by the loss; label padding written as the
    pad id (the seeds' mistake) is trained on, as if "predict <pad>" were the task.
    """
    mask = torch.as_tensor(batch["attention_mask"])
    labels = torch.as_tensor(batch["labels"])
    ignored = labels == IGNORE_INDEX
    padded_targets = labels == pad_token_id
    return PaddingShare(
        inputs=float((mask == 0).float().mean()),
        labels=float((ignored | padded_targets).float().mean()),
        labels_in_loss=float(padded_targets.float().mean()),
    )
