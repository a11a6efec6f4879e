"""Where one fine-tuning step's time goes, with Lab 2's padding and with the seeds'.

A bare training step (forward, backward, fused AdamW: what the Trainer runs, without
its bookkeeping) on one batch padded each way, timed and then profiled with
``torch.profiler``. It prints, per padding scheme, the wall time per step, the time GPU
kernels were busy per step (their sum), the share of the wall time that is, and the ops
that took the most kernel time. A low busy share means the step waits on Python and
kernel launches rather than on the GPU: shrinking the batch's padding then saves little.

    python -m benchmarks.profile_step --scale full --device cuda
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import (
    SCALES,
    Device,
    build_t5,
    parse_arguments,
    prepare_process,
    resolve_device,
    synchronize,
    synthetic_dialogues,
    t5_tokenizer,
)
from labs_common.device import model_dtype, supports_bf16
from labs_common.training import collate_examples, pad_to_max_length_batch, summary_pairs


def profile_training_step(scale_name: str, device: Device, steps: int = 5, top: int = 6) -> str:
    scale = SCALES[scale_name]
    tokenizer = t5_tokenizer(scale)
    batch_size = scale.profile.lab2.batch_size
    pairs = summary_pairs(synthetic_dialogues(scale, batch_size, seed=2))
    dtype = model_dtype(device, trainable=True)  # trained weights stay fp32 (bf16 autocast)
    model = build_t5(scale, device, dtype).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5,
                                  fused=torch.device(device).type == "cuda")
    batches = {
        "ours (dynamic padding, labels -100)": collate_examples(pairs, tokenizer, model,
                                                               count=batch_size),
        "seed-style (512, labels = pad id)": pad_to_max_length_batch(pairs, tokenizer,
                                                                    count=batch_size),
    }
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                              enabled=supports_bf16(device))
    lines = [f"T5 {scale.name}, batch {batch_size}, {str(dtype).removeprefix('torch.')}, "
             f"bare training step (forward + backward + AdamW)"]
    for name, batch in batches.items():
        batch = {k: v.to(device) for k, v in batch.items() if k != "decoder_input_ids"}
        shapes = {k: tuple(v.shape) for k, v in batch.items()}

        def step(batch=batch):
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        for _ in range(2):
            step()
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        wall = (time.perf_counter() - start) / steps
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.device(device).type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities) as profiler:
            for _ in range(steps):
                step()
            synchronize(device)
        events = profiler.key_averages()
        on_gpu = torch.device(device).type == "cuda"
        key = "self_device_time_total" if on_gpu else "self_cpu_time_total"
        lines.append(f"\n{name}: shapes {shapes}")
        if on_gpu:
            kernel_us = sum(getattr(e, key, 0) for e in events) / steps
            share = kernel_us / 1e6 / wall
            lines.append(f"  wall {wall * 1e3:.1f} ms/step; GPU kernels busy "
                         f"{kernel_us / 1e3:.1f} ms/step ({share:.0%} of the wall)")
        else:
            lines.append(f"  wall {wall * 1e3:.1f} ms/step")
        ranked = sorted(events, key=lambda e: getattr(e, key, 0), reverse=True)[:top]
        for event in ranked:
            lines.append(f"    {event.key[:60]:60s} {getattr(event, key, 0) / steps / 1e3:7.2f} ms "
                         f"x{event.count // steps}")
    return "\n".join(lines)


def new_shape_costs(scale_name: str, device: Device, count: int = 6) -> str:
    """Bare training steps over ``count`` batches of different lengths, twice.

    Dynamic padding gives every batch its own shape. The first pass meets each shape for
    the first time, the second pass meets the same shapes again: if the first is much
    slower, something is paid per new shape (kernel selection, allocator growth).
    """
    scale = SCALES[scale_name]
    tokenizer = t5_tokenizer(scale)
    batch_size = scale.profile.lab2.batch_size
    pairs = summary_pairs(synthetic_dialogues(scale, batch_size * count, seed=5))
    model = build_t5(scale, device, model_dtype(device, trainable=True)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5,
                                  fused=torch.device(device).type == "cuda")
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                              enabled=supports_bf16(device))
    batches = []
    for i in range(count):
        rows = pairs.select(range(i * batch_size, (i + 1) * batch_size))
        batch = collate_examples(rows, tokenizer, model, count=batch_size)
        batches.append({k: v.to(device) for k, v in batch.items() if k != "decoder_input_ids"})
    warm = collate_examples(pairs, tokenizer, model, count=batch_size)  # a shape of its own
    warm = {k: v.to(device) for k, v in warm.items() if k != "decoder_input_ids"}

    def step(batch):
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(warm)
    passes = []
    for _ in range(2):
        times = []
        for batch in batches:
            synchronize(device)
            start = time.perf_counter()
            step(batch)
            synchronize(device)
            times.append((time.perf_counter() - start) * 1e3)
        passes.append(times)
    shapes = [tuple(b["input_ids"].shape[1:]) + tuple(b["labels"].shape[1:]) for b in batches]
    return (f"bare steps on {count} dynamically padded batches, (input, label) lengths "
            f"{shapes}:\n  first time each shape: "
            + ", ".join(f"{t:.0f}" for t in passes[0]) + " ms\n  same shapes again:     "
            + ", ".join(f"{t:.0f}" for t in passes[1]) + " ms")


def profile_trainer(scale_name: str, device: Device, steps: int = 4, top: int = 8) -> str:
    """``torch.profiler`` over full fine-tuning through the real code paths (the Trainer):
    the ops that took the most CPU time, per step, for ours and the seed-style setup."""
    from benchmarks.seed_style import train_padded_to_max_length
    from labs_common.device import training_precision
    from labs_common.training import train_seq2seq

    scale = SCALES[scale_name]
    tokenizer = t5_tokenizer(scale)
    settings = scale.profile.lab2
    pairs = summary_pairs(synthetic_dialogues(scale, settings.batch_size * (steps + 2), seed=2))
    common = {"learning_rate": settings.full_learning_rate, "batch_size": settings.batch_size,
              "bf16": training_precision(device)["bf16"], "seed": 0}
    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.device(device).type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    lines = [f"Trainer path, full fine-tuning, {steps} profiled steps after 2 warm-up steps"]
    for name, train in (("ours", train_seq2seq), ("seed-style", train_padded_to_max_length)):
        model = build_t5(scale, device, model_dtype(device, trainable=True))
        train(model, tokenizer, pairs, max_steps=2, **common)
        with torch.profiler.profile(activities=activities) as profiler:
            run = train(model, tokenizer, pairs, max_steps=steps, **common)
        events = profiler.key_averages()
        lines.append(f"\n{name}: {run.seconds / steps * 1e3:.0f} ms/step under the profiler; "
                     f"top ops by self CPU time per step:")
        for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]:
            per_step = event.self_cpu_time_total / steps / 1e3
            lines.append(f"    {event.key[:60]:60s} {per_step:8.1f} ms x{event.count / steps:g}")
        del model
    return "\n".join(lines)


def settings_report() -> str:
    """The torch settings that change per-shape costs, and the environment variables."""
    import os

    tunable = torch.cuda.is_available() and torch.cuda.tunable.is_enabled()
    variables = {k: v for k, v in os.environ.items()
                 if k.startswith(("PYTORCH_", "TORCH_", "CUBLAS", "CUDNN"))}
    return (f"torch.cuda.tunable enabled: {tunable}; allow_tf32 (matmul): "
            f"{torch.backends.cuda.matmul.allow_tf32}; variables: {variables}")


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(__doc__.splitlines()[0], argv)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    prepare_process()
    print(settings_report())
    print(profile_training_step(args.scale, device))
    print()
    print(new_shape_costs(args.scale, device))
    print()
    print(profile_trainer(args.scale, device))


if __name__ == "__main__":
    main()
