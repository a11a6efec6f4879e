"""Lab 2's fine-tuning (``train_seq2seq``) against the seeds' padding to 512 tokens.

Ours pads each batch to its longest example and the labels with -100; the seeds padded
every input and every label to 512 tokens with the pad id. Everything else is equal: the
same model (fresh, same seed), training pairs, batch size, learning rate, optimizer steps
and precision (bf16 where the profile layer uses it). Measured for full fine-tuning and
for LoRA (r=32 on q and v), each after a few untimed warm-up steps.

Peak memory: on a GPU, ``torch.cuda.max_memory_allocated`` from building the model to the
end of training, above what was allocated before; on a CPU, the sampled growth of the
resident set size over the same span (approximate).

    python -m benchmarks.bench_finetune --scale tiny --device cpu
"""

from __future__ import annotations

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
)
from benchmarks.seed_style import train_padded_to_max_length
from labs_common.device import model_dtype, training_precision
from labs_common.lora import make_lora_model
from labs_common.training import summary_pairs, train_seq2seq


def run(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    pairs = summary_pairs(synthetic_dialogues(scale, scale.finetune_examples, seed=2))
    settings = scale.profile.lab2
    bf16 = training_precision(device)["bf16"]
    memory_metric = "peak GPU memory" if device == "cuda" else "peak RSS growth (approx.)"
    results: list[Result] = []
    details: Details = {"batch_size": settings.batch_size, "steps": scale.finetune_steps,
                        "dtype": {"full": dtype_name(model_dtype(device, trainable=True)),
                                  "LoRA base": dtype_name(model_dtype(device))},
                        "bf16_autocast": bf16}
    methods = {"full": settings.full_learning_rate, "LoRA r=32": settings.lora_learning_rate}
    for method in scale.finetune_methods:
        learning_rate = methods[method]
        measured = {}
        for variant, train in (("ours", train_seq2seq), ("seed-style", train_padded_to_max_length)):
            with PeakMemory(device) as memory:
                # Full fine-tuning trains the weights: fp32 with bf16 autocast. LoRA's base
                # is frozen and may hold bf16 weights (peft keeps the adapter in fp32).
                model = build_t5(scale, device, model_dtype(device, trainable=method == "full"))
                if method != "full":
                    model = make_lora_model(model, in_place=True)
                common = {"learning_rate": learning_rate, "batch_size": settings.batch_size,
                          "bf16": bf16, "seed": 0}
                train(model, tokenizer, pairs, max_steps=scale.finetune_warmup_steps, **common)
                run = train(model, tokenizer, pairs, max_steps=scale.finetune_steps, **common)
            measured[variant] = {
                "samples_per_second": run.steps * settings.batch_size / run.seconds,
                "seconds": run.seconds,
                "peak_bytes": memory.extra_bytes,
            }
            del model
            release_memory()
        details[method] = measured
        dtype = model_dtype(device, trainable=method == "full")
        note = f"{method}, batch {settings.batch_size}, {dtype_name(dtype)}"
        results.append(Result("fine-tuning", "samples/s", "throughput",
                              measured["seed-style"]["samples_per_second"],
                              measured["ours"]["samples_per_second"], note))
        results.append(Result("fine-tuning", memory_metric, "memory",
                              measured["seed-style"]["peak_bytes"],
                              measured["ours"]["peak_bytes"], note))
    return results, details


def main(argv: list[str] | None = None) -> None:
    run_cli(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    main()
