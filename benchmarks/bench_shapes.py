"""An experiment: ours as it is against ours with sequence lengths rounded up (bucketed).

Dynamic padding gives nearly every batch a tensor shape of its own. On a GPU a new shape
costs time once (cuDNN attention plans, kernel selection, allocator growth), so a step
that keeps meeting new shapes keeps paying it; the seeds' fixed 512-token padding never
does. Rounding lengths up to a multiple of ``--multiple`` tokens leaves a handful of
shapes that are met again and again. This runs, in one process and with the same data:

* fine-tuning (``train_seq2seq``) as it is, with the collator's ``pad_to_multiple_of``
  set, and with cuDNN's attention kernels switched off, plus the seed-style baseline;
* a PPO step (``PPOTrainer.step``) as it is and with ``Rollout.select`` rounding the
  prompt and response lengths up.

Both changes only add padding that is masked out, so the numbers computed stay the same.
The patches live here, for measuring: they are proposals, not changes to labs_common.

    python -m benchmarks.bench_shapes --scale full --device cuda
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import torch

from benchmarks.bench_ppo import cheap_reward
from benchmarks.common import (
    Details,
    Device,
    PeakMemory,
    Result,
    Scale,
    build_t5,
    dtype_name,
    release_memory,
    run_cli,
    synthetic_dialogues,
    t5_tokenizer,
    time_repeats,
)
from benchmarks.seed_style import train_padded_to_max_length
from labs_common.lora import make_lora_model
from labs_common.ppo import PPOConfig, PPOTrainer, Rollout
from labs_common.profiles import model_dtype, training_precision
from labs_common.prompts import instruction_prompt
from labs_common.training import summary_pairs, train_seq2seq

MULTIPLE = 64  # tokens: inputs of 200 +- 80 tokens fall into 4-5 buckets, summaries into 1


def round_up(length: int, multiple: int, limit: int) -> int:
    """``length`` rounded up to a multiple of ``multiple``, at most ``limit``."""
    return min(limit, -(-length // multiple) * multiple)


@contextmanager
def bucketed_collator(multiple: int = MULTIPLE):
    """``DataCollatorForSeq2Seq`` with ``pad_to_multiple_of=multiple`` inside the block."""
    import transformers

    original = transformers.DataCollatorForSeq2Seq

    class Bucketed(original):
        def __init__(self, *args, **kwargs):
            kwargs["pad_to_multiple_of"] = multiple
            super().__init__(*args, **kwargs)

    transformers.DataCollatorForSeq2Seq = Bucketed
    try:
        yield
    finally:
        transformers.DataCollatorForSeq2Seq = original


@contextmanager
def cudnn_attention_off():
    """PyTorch's scaled-dot-product attention without the cuDNN backend inside the block."""
    if not torch.cuda.is_available():
        yield
        return
    enabled = torch.backends.cuda.cudnn_sdp_enabled()
    torch.backends.cuda.enable_cudnn_sdp(False)
    try:
        yield
    finally:
        torch.backends.cuda.enable_cudnn_sdp(enabled)


@contextmanager
def bucketed_rollouts(multiple: int = MULTIPLE):
    """``Rollout.select`` keeping prompt and response lengths at multiples of ``multiple``."""
    original = Rollout.select

    def select(self, rows, left_padded_queries):
        batch = original(self, rows, left_padded_queries)
        query = round_up(batch.query_ids.shape[1], multiple, self.query_ids.shape[1])
        response = round_up(batch.response_ids.shape[1], multiple, self.response_ids.shape[1])
        columns = slice(-query, None) if left_padded_queries else slice(0, query)
        return Rollout(
            queries=batch.queries, responses=batch.responses,
            query_ids=self.query_ids[rows][:, columns],
            query_mask=self.query_mask[rows][:, columns],
            response_ids=self.response_ids[rows, :response],
            response_mask=self.response_mask[rows, :response],
        )

    Rollout.select = select
    try:
        yield
    finally:
        Rollout.select = original


@contextmanager
def as_is():
    yield


def finetune(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    pairs = summary_pairs(synthetic_dialogues(scale, scale.finetune_examples, seed=2))
    settings = scale.profile.lab2
    dtype = model_dtype(device)
    common = {"learning_rate": settings.full_learning_rate, "batch_size": settings.batch_size,
              "bf16": training_precision(device)["bf16"], "seed": 0}
    variants = {
        "ours": (train_seq2seq, as_is),
        f"ours, padded to multiples of {MULTIPLE}": (train_seq2seq, bucketed_collator),
        "ours, cuDNN attention off": (train_seq2seq, cudnn_attention_off),
        "seed-style": (train_padded_to_max_length, as_is),
    }
    measured: Details = {}
    for name, (train, context) in variants.items():
        with context(), PeakMemory(device) as memory:
            model = build_t5(scale, device, dtype)
            train(model, tokenizer, pairs, max_steps=scale.finetune_warmup_steps, **common)
            run = train(model, tokenizer, pairs, max_steps=scale.finetune_steps, **common)
        measured[name] = {"samples_per_second": run.steps * settings.batch_size / run.seconds,
                          "peak_bytes": memory.extra_bytes}
        model = None
        release_memory()
    seed = measured["seed-style"]
    note = f"full, batch {settings.batch_size}, {dtype_name(dtype)}"
    results = [Result(f"fine-tuning: {name}", "samples/s", "throughput",
                      seed["samples_per_second"], values["samples_per_second"], note)
               for name, values in measured.items() if name != "seed-style"]
    return results, measured


def ppo(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    dtype = model_dtype(device)
    lab3 = scale.profile.lab3
    length = scale.ppo_new_tokens
    rows = synthetic_dialogues(scale, 4 * lab3.ppo_batch_size, seed=3)
    prompts = [instruction_prompt(row["dialogue"]) for row in rows]
    size = lab3.ppo_batch_size
    measured: Details = {}
    bucketed = f"ours, lengths bucketed to multiples of {MULTIPLE}"
    for name, context in (("ours", as_is), (bucketed, bucketed_rollouts)):
        batches = itertools.cycle([prompts[i : i + size] for i in range(0, len(prompts), size)])
        with context(), PeakMemory(device) as memory:
            policy = make_lora_model(build_t5(scale, device, dtype), in_place=True)
            config = PPOConfig(batch_size=size, mini_batch_size=lab3.ppo_mini_batch_size,
                               ppo_epochs=lab3.ppo_epochs, learning_rate=lab3.ppo_learning_rate,
                               init_kl_coef=lab3.init_kl_coef, target_kl=lab3.target_kl,
                               min_new_tokens=length, max_new_tokens=length, seed=0)
            trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer,
                                 reward_fn=cheap_reward)
            timing = time_repeats(lambda t=trainer, b=batches: t.step(next(b)), device=device,
                                  repeats=scale.ppo_steps, warmup=1)
        measured[name] = {"seconds": timing.seconds, "median": timing.median,
                          "peak_bytes": memory.extra_bytes}
        trainer = policy = None
        release_memory()
    names = list(measured)
    note = f"batch {size}, {length} sampled tokens, {dtype_name(dtype)}; baseline: ours as is"
    results = [Result(f"PPO step: {names[1]}", "seconds/step", "seconds",
                      measured[names[0]]["median"], measured[names[1]]["median"], note)]
    return results, measured


def run(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    finetune_rows, finetune_details = finetune(scale, device)
    ppo_rows, ppo_details = ppo(scale, device)
    return finetune_rows + ppo_rows, {"finetune": finetune_details, "ppo": ppo_details}


def main(argv: list[str] | None = None) -> None:
    run_cli(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    main()
