"""What the labs train, without a notebook: full fine-tuning, LoRA and PPO detoxification.

Each recipe calls the functions its lab calls, with the profile's settings, and writes
the trained weights and a short ``recipe.json`` (steps, final loss or reward, seconds,
processes) to ``--out``::

    python -m labs_tools.recipes lora --profile tiny --steps 20 --out build/recipes/lora
    python -m labs_tools.recipes ppo --profile tiny --steps 3 --adapter build/recipes/lora \\
        --out build/recipes/ppo

The same command runs on several processes under ``accelerate launch`` (each process
trains on its share of every batch; the main process saves and prints)::

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no -m labs_tools.recipes lora --profile tiny --steps 20 --out DIR

``--batch-size`` is the global batch, shared among the processes; on CPUs the
``--multi_gpu`` launcher starts the processes with torchrun and they talk over gloo
(``--cpu`` alone starts one process). README, "Scaling up", has the commands for GPUs
and for models that do not fit on one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RECIPES = {
    "full": "full fine-tuning of the summarizer on dialogue-summary pairs (Lab 2, section 4): "
            "every weight trains; saves the model (safetensors)",
    "lora": "LoRA on the summarizer, r=32 on the attention queries and values (Lab 2, "
            "section 5): only the adapter trains; saves the adapter",
    "ppo": "PPO detoxification of a LoRA summarizer with the toxicity classifier as reward "
           "model (Lab 3, section 5); starts from --adapter (default: Lab 2's), saves the "
           "trained adapter, value head and trainer state",
}


def _on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def _process_state():
    """This process among those ``accelerate launch`` started (on CPUs they must be told
    so, or each would take itself for the only one)."""
    from accelerate import PartialState

    return PartialState(cpu=_on_cpu())


def _record(path: Path, name: str, entry: dict, processes: int) -> None:
    """Merge ``entry`` under ``name`` into the JSON file ``path`` (created if missing)."""
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["processes"] = processes
    results[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def _full_state_dict(model) -> dict | None:
    """The whole model's weights on every process when FSDP sharded them, else None.

    A sharded model saved by one process would hold that process's shards only; the
    state dict is gathered by all processes (a collective) and written by the main one.
    """
    import os

    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true":
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                 cpu_offload=True))


def _profile(name: str, summarizer: str | None):
    """The activated profile, with another summarizer if one is given (e.g. FLAN-T5-XL)."""
    import dataclasses

    from labs_common.hub import activate

    profile = activate(name)
    return dataclasses.replace(profile, summarizer=summarizer) if summarizer else profile


def train_summarizer(recipe: str, profile_name: str, steps: int, out: Path, *, seed: int = 42,
                     batch_size: int | None = None, summarizer: str | None = None) -> dict:
    """Full fine-tuning or LoRA of the profile's summarizer, as Lab 2 trains it."""
    from labs_common import data, lora, training
    from labs_common.device import training_precision
    from labs_common.models import load_seq2seq

    state = _process_state()
    profile = _profile(profile_name, summarizer)
    settings = profile.lab2
    batch_size = batch_size or settings.batch_size
    if batch_size % state.num_processes:
        raise SystemExit(f"--batch-size {batch_size} cannot be shared equally among "
                         f"{state.num_processes} processes.")
    from transformers import set_seed

    set_seed(seed)
    model, tokenizer = load_seq2seq(profile.summarizer, state.device, trainable=True)
    dialogues = data.load_dialogues(profile, train=settings.train_examples)
    pairs = training.summary_pairs(dialogues["train"])
    if recipe == "lora":
        model = lora.make_lora_model(model, r=32, alpha=32, dropout=0.05, targets=("q", "v"),
                                     in_place=True)
    rate = settings.lora_learning_rate if recipe == "lora" else settings.full_learning_rate
    run = training.train_seq2seq(
        model, tokenizer, pairs, max_steps=steps, learning_rate=rate,
        batch_size=batch_size // state.num_processes,  # per process: the global batch shared
        warmup_steps=min(settings.warmup_steps, steps - 1), logging_steps=1, seed=seed,
        bf16=training_precision(state.device)["bf16"], progress=False,
    )
    weights = _full_state_dict(model)
    if state.is_main_process:
        if recipe == "lora" and weights is None:
            lora.save_adapter(model, out)  # as Lab 2 saves it
        else:
            model.save_pretrained(str(out), state_dict=weights, safe_serialization=True)
            tokenizer.save_pretrained(str(out))
    state.wait_for_everyone()
    return {"steps": run.steps, "batch_size": batch_size, "final_loss": run.losses[-1][1],
            "seconds": round(run.seconds, 2)}


def train_ppo(profile_name: str, steps: int, out: Path, *, seed: int = 42,
              batch_size: int | None = None, adapter: Path | None = None,
              summarizer: str | None = None) -> dict:
    """PPO detoxification as Lab 3 runs it, on every process of an ``Accelerator``."""
    from accelerate import Accelerator
    from peft import PeftModel

    from labs_common import data, detox, lora
    from labs_common.models import load_seq2seq
    from labs_common.paths import lab2_adapter_dir
    from labs_common.rl.ppo import PPOTrainer
    from labs_common.toxicity import ToxicityClassifier

    accelerator = Accelerator(cpu=_on_cpu())
    profile = _profile(profile_name, summarizer)
    settings = profile.lab3
    base, tokenizer = load_seq2seq(profile.summarizer, accelerator.device)
    adapter = Path(adapter) if adapter else lab2_adapter_dir(profile.name)
    if (adapter / "adapter_config.json").is_file():
        policy = PeftModel.from_pretrained(base, str(adapter), is_trainable=True)
    else:
        if accelerator.is_main_process:
            print(f"No LoRA adapter in {adapter}: PPO starts from a fresh one.")
        policy = lora.make_lora_model(base, r=32, alpha=32, dropout=0.05, in_place=True)
    reward_model = ToxicityClassifier(profile.toxicity_classifier, accelerator.device)
    overrides = {"batch_size": batch_size} if batch_size else {}
    config = detox.ppo_config(settings, seed, **overrides)
    trainer = PPOTrainer(config, model=policy, tokenizer=tokenizer,
                         reward_fn=reward_model.reward, accelerator=accelerator)
    run = detox.run_ppo(policy, tokenizer, reward_model.reward, data.load_dialogues(profile)[
        "train"]["dialogue"], config, steps, progress=False, trainer=trainer)
    trainer.save(out)
    last = run.history[-1]
    return {"steps": len(run.history), "batch_size": config.batch_size,
            "final_reward": last["env/reward_mean"], "final_kl": last["objective/kl"],
            "seconds": round(run.seconds, 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m labs_tools.recipes",
        description="Train what the labs train, headless, on one process or under "
                    "`accelerate launch`.",
        epilog="recipes:\n" + "\n".join(f"  {name:<5} {text}" for name, text in RECIPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--profile", default="tiny", help="tiny (default) or full")
    parser.add_argument("--steps", type=int, required=True, help="optimizer steps (PPO: steps "
                        "of one batch of prompts each)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the trained weights")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="global batch, shared among the processes (default: the profile's)")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="ppo: the LoRA adapter to start from (default: Lab 2's)")
    parser.add_argument("--summarizer", default=None,
                        help="another seq2seq model than the profile's, a Hub id or a folder, "
                        "e.g. google/flan-t5-xl with --profile full (safetensors only; a Hub "
                        "id the profile does not pin loads from its main branch)")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON file to add this run's figures to, under the recipe's name")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    import datasets

    datasets.disable_progress_bars()
    start = time.perf_counter()
    if args.recipe == "ppo":
        entry = train_ppo(args.profile, args.steps, args.out, seed=args.seed,
                          batch_size=args.batch_size, adapter=args.adapter,
                          summarizer=args.summarizer)
    else:
        entry = train_summarizer(args.recipe, args.profile, args.steps, args.out,
                                 seed=args.seed, batch_size=args.batch_size,
                                 summarizer=args.summarizer)
    state = _process_state()
    entry["wall_seconds"] = round(time.perf_counter() - start, 2)
    entry["processes"] = state.num_processes
    if state.is_main_process:
        (args.out / "recipe.json").write_text(json.dumps(entry, indent=2) + "\n")
        if args.results is not None:
            _record(args.results, args.recipe, entry, state.num_processes)
        print(f"{args.recipe}: {json.dumps(entry)}")
    return entry


if __name__ == "__main__":
    main()
