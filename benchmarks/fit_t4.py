"""Does the full profile fit a Colab T4? Peak GPU memory of its training runs in fp32.

A T4 has about 15 GiB of usable memory and no bf16, so the profile layer trains there in
fp32 (``model_dtype``, ``training_precision``). This runs the full profile's own settings
on flan-t5-base's shape in fp32, on whatever GPU is at hand, and reports the peak memory
each run allocates: Lab 2's full fine-tuning and LoRA (batch 8), and Lab 3's PPO step
(batch 16, mini-batch 4, with the profile's activation recomputation), every response
sampled to the longest length the lab allows. Peak memory depends on the shapes, not on
the GPU's speed, so it carries over to a T4; the seconds printed are this GPU's, not a
T4's. CUDA's own context (a few hundred MiB) comes on top.

    python -m benchmarks.fit_t4 --steps 30
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch

from benchmarks.bench_ppo import cheap_reward
from benchmarks.common import (
    SCALES,
    PeakMemory,
    build_t5,
    environment,
    format_bytes,
    format_environment,
    prepare_process,
    release_memory,
    synthetic_dialogues,
    t5_tokenizer,
)
from labs_common import detox
from labs_common.lora import make_lora_model
from labs_common.memory import training_memory
from labs_common.prompts import instruction_prompt
from labs_common.rl.dpo import DPOConfig, DPOTrainer
from labs_common.rl.ppo import PPOTrainer
from labs_common.training import summary_pairs, train_seq2seq

T4_USABLE_BYTES = 15 * 1024**3


def fine_tuning(steps: int) -> dict[str, dict[str, float]]:
    scale = SCALES["full"]
    settings = scale.profile.lab2
    tokenizer = t5_tokenizer(scale)
    pairs = summary_pairs(synthetic_dialogues(scale, steps * settings.batch_size, seed=2))
    measured = {}
    for method, learning_rate in (("full fine-tuning", settings.full_learning_rate),
                                  ("LoRA r=32", settings.lora_learning_rate)):
        with PeakMemory("cuda") as memory:
            model = build_t5(scale, "cuda", torch.float32)
            if method != "full fine-tuning":
                model = make_lora_model(model, in_place=True)
            run = train_seq2seq(model, tokenizer, pairs, max_steps=steps,
                                learning_rate=learning_rate, batch_size=settings.batch_size,
                                bf16=False, seed=0)
        measured[f"Lab 2, {method} (batch {settings.batch_size})"] = {
            "peak_bytes": memory.extra_bytes, "seconds_per_step": run.seconds / run.steps}
        model = None
        release_memory()
    return measured


def ppo(steps: int) -> dict[str, dict[str, float]]:
    scale = SCALES["full"]
    lab3 = scale.profile.lab3
    tokenizer = t5_tokenizer(scale)
    rows = synthetic_dialogues(scale, 4 * lab3.ppo_batch_size, seed=3)
    prompts = [instruction_prompt(row["dialogue"]) for row in rows]
    size = lab3.ppo_batch_size
    batches = itertools.cycle([prompts[i : i + size] for i in range(0, len(prompts), size)])
    config = detox.ppo_config(lab3, seed=0, min_new_tokens=lab3.max_new_tokens)
    with PeakMemory("cuda") as memory:
        policy = make_lora_model(build_t5(scale, "cuda", torch.float32), in_place=True)
        trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer, reward_fn=cheap_reward)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.step(next(batches))
        seconds = (time.perf_counter() - start) / steps
    name = (f"Lab 3, PPO step (batch {size}, mini-batch {lab3.ppo_mini_batch_size}, "
            f"{lab3.max_new_tokens} tokens, recompute {lab3.ppo_gradient_checkpointing})")
    return {name: {"peak_bytes": memory.extra_bytes, "seconds_per_step": seconds}}


def dpo_pairs(scale, count: int, seed: int = 4) -> list[dict[str, str]]:
    """Pairs with the scale's lengths: a dialogue's prompt, its summary and another one."""
    rows = synthetic_dialogues(scale, count + 1, seed=seed)
    return [{"prompt": instruction_prompt(row["dialogue"]), "chosen": row["summary"],
             "rejected": rows[i + 1]["summary"]} for i, row in enumerate(rows[:-1])]


def dpo_trainer(scale, device: str) -> DPOTrainer:
    lab3 = scale.profile.lab3
    policy = make_lora_model(build_t5(scale, device, torch.float32), in_place=True)
    config = DPOConfig(beta=lab3.dpo_beta, learning_rate=lab3.dpo_learning_rate,
                       batch_size=lab3.dpo_batch_size, epochs=1)
    return DPOTrainer(config, model=policy, tokenizer=t5_tokenizer(scale))


def dpo_run_name(scale) -> str:
    return f"Lab 3, DPO step (batch {scale.profile.lab3.dpo_batch_size} pairs)"


def dpo(steps: int) -> dict[str, dict[str, float]]:
    scale = SCALES["full"]
    pairs = dpo_pairs(scale, steps * scale.profile.lab3.dpo_batch_size)
    with PeakMemory("cuda") as memory:
        trainer = dpo_trainer(scale, "cuda")
        run = trainer.train(pairs)
    return {dpo_run_name(scale): {"peak_bytes": memory.extra_bytes,
                                  "seconds_per_step": run.seconds / len(run.history)}}


class SavedForBackward:
    """Bytes of the tensors autograd keeps for the backward pass (parameters excluded).

    Counted once per storage while the block runs: what a training step's activations
    occupy between its forward and its backward, on any device. The peak of a real step
    adds the weights, gradients and optimizer state, and short-lived buffers on top.
    """

    def __init__(self, model: torch.nn.Module):
        self._parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self._storages: dict[int, int] = {}
        self.bytes = 0

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self._parameters:
            self._storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    def __enter__(self) -> SavedForBackward:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
        self.bytes = sum(self._storages.values())


def static_bytes(model: torch.nn.Module) -> float:
    """Weights, plus gradients and AdamW's two moments for every trainable parameter (fp32)."""
    parameters = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return training_memory(parameters, trainable).total


def count_activations() -> dict[str, dict[str, float]]:
    """Lab 2's LoRA batch and Lab 4's DPO batch at flan-t5-base's shape, counted on a CPU.

    Both runs use the same model and the same synthetic lengths, so the measured LoRA row
    of the table in benchmarks/README.md calibrates the DPO estimate.
    """
    from labs_common.training import collate_examples

    scale = SCALES["full"]
    tokenizer = t5_tokenizer(scale)
    trainer = dpo_trainer(scale, "cpu")
    model = trainer.model
    lab2 = scale.profile.lab2
    pairs = summary_pairs(synthetic_dialogues(scale, lab2.batch_size, seed=2))
    batch = collate_examples(pairs, tokenizer, model, count=lab2.batch_size)
    counted = {}
    model.train()  # as the Trainer runs Lab 2 (dropout on); DPO runs with dropout off
    with SavedForBackward(model) as saved:
        model(**batch).loss.backward()
    model.eval()
    counted[f"Lab 2, LoRA r=32 (batch {lab2.batch_size})"] = saved.bytes
    model.zero_grad(set_to_none=True)
    encoded = trainer.encode(dpo_pairs(scale, trainer.config.batch_size))
    with SavedForBackward(model) as saved:
        logits = trainer._logits(encoded)  # the policy's forward of the chosen and rejected rows
        logits.sum().backward()
    counted[dpo_run_name(scale)] = saved.bytes
    return {name: {"activation_bytes": value, "static_bytes": static_bytes(model)}
            for name, value in counted.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps per run")
    parser.add_argument("--ppo-steps", type=int, default=3, help="PPO steps")
    parser.add_argument("--dpo-steps", type=int, default=3, help="DPO steps")
    parser.add_argument("--count", action="store_true",
                        help="no GPU needed: count the activations autograd keeps for Lab 2's "
                             "LoRA batch and Lab 4's DPO batch (an estimate, not a measurement)")
    args = parser.parse_args(argv)
    if args.count:
        prepare_process()
        print("| batch at flan-t5-base's shape (fp32) | activations kept for backward | "
              "weights, gradients, AdamW |")
        print("|---|---:|---:|")
        for name, values in count_activations().items():
            print(f"| {name} | {format_bytes(values['activation_bytes'])} | "
                  f"{format_bytes(values['static_bytes'])} |")
        return
    if not torch.cuda.is_available():
        raise SystemExit("This measures GPU memory: run it on a machine with a GPU "
                         "(or pass --count for an estimate on a CPU).")
    prepare_process()
    torch.backends.cuda.matmul.allow_tf32 = False  # a T4 has no TF32: plain fp32 arithmetic
    measured = {**fine_tuning(args.steps), **ppo(args.ppo_steps), **dpo(args.dpo_steps)}
    print(format_environment(environment("cuda")), end="\n\n")
    print("| run (fp32) | peak GPU memory | share of a T4's 15 GiB | s/step on this GPU |")
    print("|---|---:|---:|---:|")
    for name, values in measured.items():
        print(f"| {name} | {format_bytes(values['peak_bytes'])} | "
              f"{values['peak_bytes'] / T4_USABLE_BYTES:.0%} | {values['seconds_per_step']:.2f} |")


if __name__ == "__main__":
    main()
