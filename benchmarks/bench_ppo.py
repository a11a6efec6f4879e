"""One PPO step of ``labs_common.rl.ppo.PPOTrainer`` against the course's trl-0.4-style step.

Both start from the same LoRA policy (T5 + r=32 adapter on q and v, same seed), sample
one response per prompt with pure sampling (top_k 0, top_p 1) and exactly
``scale.ppo_new_tokens`` tokens, score them with the same cheap reward function, and run
one PPO epoch over mini-batches of the profile's size. The reward model's own cost is
left out on purpose (it is the same batched pipeline call on both sides in the seeds;
``bench_toxicity`` measures scoring).

* ours: one batched ``generate`` call, the reference is a frozen copy of the adapter
  inside the same model;
* seed-style (:class:`benchmarks.seed_style.SeedStylePPO`): a Python loop of single-prompt
  ``generate`` calls and a ``deepcopy`` of the whole policy as reference.

Seconds per step: median over timed steps after a warm-up. Peak memory: from building the
policy to the last timed step, above what was allocated before (GPU: exact; CPU: sampled
RSS growth, approximate). Time per phase is recorded to show where a step's time goes:
``generate`` (tokenize, sample, decode), ``reward``, ``forward`` (log-probs and values of
the policy and the reference, no gradient) and ``optimize`` (the PPO epochs).

    python -m benchmarks.bench_ppo --scale tiny --device cpu
"""

from __future__ import annotations

import itertools

from benchmarks.common import (
    Details,
    Device,
    PeakMemory,
    PhaseTimer,
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
from benchmarks.seed_style import SeedStylePPO
from labs_common.device import model_dtype
from labs_common.lora import make_lora_model
from labs_common.prompts import instruction_prompt
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig


def cheap_reward(texts: list[str]) -> list[float]:
    """A deterministic stand-in for the reward model: a number in [0, 1) per text."""
    return [(sum(map(ord, text)) % 101) / 101 for text in texts]


def run(scale: Scale, device: Device) -> tuple[list[Result], Details]:
    tokenizer = t5_tokenizer(scale)
    dtype = model_dtype(device)
    lab3 = scale.profile.lab3
    batch_size, mini_batch_size = lab3.ppo_batch_size, lab3.ppo_mini_batch_size
    length = scale.ppo_new_tokens
    rows = synthetic_dialogues(scale, 4 * batch_size, seed=3)
    prompts = [instruction_prompt(row["dialogue"]) for row in rows]
    batches = itertools.cycle([prompts[i : i + batch_size]
                               for i in range(0, len(prompts), batch_size)])
    details: Details = {"batch_size": batch_size, "mini_batch_size": mini_batch_size,
                        "ppo_epochs": lab3.ppo_epochs, "new_tokens": length,
                        "gradient_checkpointing": lab3.ppo_gradient_checkpointing,
                        "dtype": dtype_name(dtype)}

    # -- ours
    with PeakMemory(device) as ours_memory:
        policy = make_lora_model(build_t5(scale, device, dtype), in_place=True)
        config = PPOConfig(batch_size=batch_size, mini_batch_size=mini_batch_size,
                           ppo_epochs=lab3.ppo_epochs, learning_rate=lab3.ppo_learning_rate,
                           init_kl_coef=lab3.init_kl_coef, target_kl=lab3.target_kl,
                           min_new_tokens=length, max_new_tokens=length, seed=0,
                           gradient_checkpointing=lab3.ppo_gradient_checkpointing)
        trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer, reward_fn=cheap_reward)
        trainer.step(next(batches))  # warm-up
        ours_phases = PhaseTimer(device)
        trainer.generate = ours_phases.wrap("generate", trainer.generate, memory=True)
        trainer.reward_fn = ours_phases.wrap("reward", trainer.reward_fn)
        trainer.optimize = ours_phases.wrap("optimize", trainer.optimize, memory=True)
        trainer._score = ours_phases.wrap("forward", trainer._score)  # runs inside optimize
        ours_timing = time_repeats(lambda: trainer.step(next(batches)), device=device,
                                   repeats=scale.ppo_steps, warmup=0)
    trainer = policy = None  # free them before the seed-style run
    release_memory()

    # -- seed-style
    with PeakMemory(device) as seed_memory:
        policy = make_lora_model(build_t5(scale, device, dtype), in_place=True)
        seed = SeedStylePPO(policy, tokenizer, cheap_reward, mini_batch_size=mini_batch_size,
                            ppo_epochs=lab3.ppo_epochs, learning_rate=lab3.ppo_learning_rate,
                            init_kl_coef=lab3.init_kl_coef)
        sampling = {"do_sample": True, "top_k": 0, "top_p": 1.0,
                    "min_new_tokens": length, "max_new_tokens": length}
        seed.step_from_prompts(next(batches)[:mini_batch_size], **sampling)  # warm-up
        seed_phases = PhaseTimer(device)
        seed_timing = time_repeats(
            lambda: seed.step_from_prompts(next(batches), timer=seed_phases, **sampling),
            device=device, repeats=scale.ppo_baseline_steps, warmup=0)
    seed = policy = None
    release_memory()

    details["seconds"] = {"seed-style": seed_timing.seconds, "ours": ours_timing.seconds}
    ours_phases.seconds["optimize"] -= ours_phases.seconds.get("forward", 0.0)
    details["phase_seconds_per_step"] = {
        "seed-style": {k: v / scale.ppo_baseline_steps for k, v in seed_phases.seconds.items()},
        "ours": {k: v / scale.ppo_steps for k, v in ours_phases.seconds.items()},
    }
    details["peak_bytes"] = {"seed-style": seed_memory.extra_bytes,
                             "ours": ours_memory.extra_bytes}
    # Absolute peaks by phase (GPU only); ours' "optimize" includes its "forward" passes.
    details["phase_peak_bytes"] = {"seed-style": seed_phases.peak_bytes,
                                   "ours": ours_phases.peak_bytes}
    note = (f"batch {batch_size}, mini-batch {mini_batch_size}, {length} sampled tokens, "
            f"{dtype_name(dtype)}")
    memory_metric = "peak GPU memory" if device == "cuda" else "peak RSS growth (approx.)"
    results = [
        Result("PPO step", "seconds/step", "seconds", seed_timing.median, ours_timing.median,
               note),
        Result("PPO step", memory_metric, "memory", seed_memory.extra_bytes,
               ours_memory.extra_bytes, note),
    ]
    return results, details


def main(argv: list[str] | None = None) -> None:
    run_cli(__doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    main()
