"""Batched generation (``generate_batched``) against a one-at-a-time loop, as in the seeds.

Both summarize the same prompts with the same model, greedily, and generate exactly
``scale.new_tokens`` tokens per summary (``min_new_tokens == max_new_tokens``), so both
do the same number of decoding steps per example; examples/s and tokens/s then give the
same ratio. With random weights a summary would otherwise stop at an arbitrary length.

    python -m benchmarks.bench_generation --scale tiny --device cpu
"""

from __future__ import annotations

from benchmarks.common import (
    Details,
    Device,
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
from benchmarks.seed_style import generate_one_at_a_time
from labs_common.device import model_dtype
from labs_common.generation import generate_batched
from labs_common.prompts import instruction_prompt


def run(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    dtype = model_dtype(device)
    model = build_t5(scale, device, dtype)
    rows = synthetic_dialogues(scale, scale.generation_examples, seed=1)
    prompts = [instruction_prompt(row["dialogue"]) for row in rows]
    batch_size = scale.profile.lab1.batch_size
    lengths = {"max_new_tokens": scale.new_tokens, "min_new_tokens": scale.new_tokens}

    outputs: dict[str, list[str]] = {}

    def ours():
        outputs["ours"] = generate_batched(model, tokenizer, prompts, batch_size=batch_size,
                                           **lengths)

    def seed_style():
        outputs["seed-style"] = generate_one_at_a_time(model, tokenizer, prompts, **lengths)

    ours_timing = time_repeats(ours, device=device, repeats=scale.repeats, warmup=1)
    generate_one_at_a_time(model, tokenizer, prompts[:2], **lengths)  # warm-up
    seed_timing = time_repeats(seed_style, device=device, repeats=scale.baseline_repeats,
                               warmup=0)
    same = sum(a == b for a, b in zip(outputs["ours"], outputs["seed-style"], strict=True))
    model = None  # free it before the next benchmark
    release_memory()

    count, tokens = len(prompts), len(prompts) * scale.new_tokens
    note = f"greedy, {scale.new_tokens} new tokens, batch {batch_size}, {dtype_name(dtype)}"
    results = [
        Result("generation", "examples/s", "throughput",
               count / seed_timing.median, count / ours_timing.median, note),
    ]
    details: Details = {
        "examples": count,
        "generated_tokens": tokens,
        "tokens_per_second": {"seed-style": tokens / seed_timing.median,
                              "ours": tokens / ours_timing.median},
        "seconds": {"seed-style": seed_timing.seconds, "ours": ours_timing.seconds},
        "seconds_per_example": {"seed-style": seed_timing.median / count,
                                "ours": ours_timing.median / count},
        "identical_outputs": f"{same}/{count}",
        "batch_size": batch_size,
        "dtype": dtype_name(dtype),
    }
    return results, details


def main(argv: list[str] | None = None) -> None:
    run_cli(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    main()
