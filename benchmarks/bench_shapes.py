"""Why the labs round padded lengths up on a GPU: each way of padding, measured.

Dynamic padding gives nearly every batch a tensor shape of its own. On a GPU a new shape
costs time once (cuDNN attention plans, kernel selection, allocator growth), so a step
that keeps meeting new shapes keeps paying it; the seeds' fixed 512-token padding never
does. Rounding lengths up to a multiple of ``--multiple`` tokens leaves a handful of
shapes that are met again and again. This runs, in one process and with the same data:

* fine-tuning (``train_seq2seq``) padded to each batch's longest member, rounded up to
  multiples of 64 (``pad_to_multiple_of``, what the labs do on a GPU), and padded to the
  longest with cuDNN's attention kernels switched off, plus the seed-style baseline;
* a PPO step (``PPOTrainer.step``) with ``PPOConfig.pad_to_multiple_of`` None and 64.

Rounding up only adds padding that is masked out, so the numbers computed stay the same
(tests/test_rl_ppo.py checks it for PPO). ``labs_common.device.padding_multiple`` turns it
on for GPUs only.

    python -m benchmarks.bench_shapes --scale full --device cuda
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from functools import partial

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
from labs_common.device import model_dtype, training_precision
from labs_common.lora import make_lora_model
from labs_common.prompts import instruction_prompt
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig
from labs_common.training import summary_pairs, train_seq2seq

MULTIPLE = 64  # tokens: inputs of 200 +- 80 tokens fall into 4-5 buckets, summaries into 1


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
def as_is():
    yield


def finetune(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    pairs = summary_pairs(synthetic_dialogues(scale, scale.finetune_examples, seed=2))
    settings = scale.profile.lab2
    dtype = model_dtype(device, trainable=True)  # full fine-tuning: fp32 weights, bf16 autocast
    common = {"learning_rate": settings.full_learning_rate, "batch_size": settings.batch_size,
              "bf16": training_precision(device)["bf16"], "seed": 0}
    exact = partial(train_seq2seq, pad_to_multiple_of=None)
    variants = {
        "ours, padded to the longest member": (exact, as_is),
        f"ours, padded to multiples of {MULTIPLE}": (
            partial(train_seq2seq, pad_to_multiple_of=MULTIPLE), as_is),
        "ours, padded to the longest, cuDNN attention off": (exact, cudnn_attention_off),
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
    variants = {"ours, lengths of the longest member": None,
                f"ours, lengths bucketed to multiples of {MULTIPLE}": MULTIPLE}
    for name, multiple in variants.items():
        batches = itertools.cycle([prompts[i : i + size] for i in range(0, len(prompts), size)])
        with PeakMemory(device) as memory:
            policy = make_lora_model(build_t5(scale, device, dtype), in_place=True)
            config = PPOConfig(batch_size=size, mini_batch_size=lab3.ppo_mini_batch_size,
                               ppo_epochs=lab3.ppo_epochs, learning_rate=lab3.ppo_learning_rate,
                               init_kl_coef=lab3.init_kl_coef, target_kl=lab3.target_kl,
                               min_new_tokens=length, max_new_tokens=length, seed=0,
                               pad_to_multiple_of=multiple)
            trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer,
                                 reward_fn=cheap_reward)
            timing = time_repeats(lambda t=trainer, b=batches: t.step(next(b)), device=device,
                                  repeats=scale.ppo_steps, warmup=1)
        measured[name] = {"seconds": timing.seconds, "median": timing.median,
                          "peak_bytes": memory.extra_bytes}
        trainer = policy = None
        release_memory()
    names = list(measured)
    note = f"batch {size}, {length} sampled tokens, {dtype_name(dtype)}; baseline: no rounding"
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
