"""The policies the RL labs start from, found where the previous lab saved them.

Lab 3 starts PPO from Lab 2's LoRA summarizer; Lab 4 compares its methods with Lab 3's
PPO policy. On Colab each notebook gets a fresh machine (unless the build folder is kept
in Google Drive), so a lab cannot count on the previous one having run here: each
function below loads the saved adapter, or makes it here with the previous lab's own
recipe and budget, saves it where that lab would have, and says which happened.
"""

from __future__ import annotations

from collections.abc import Callable

from labs_common import detox, lora, training
from labs_common.paths import build_dir, lab2_adapter_dir, lab3_adapter_dir


def lab2_policy(profile, base_model, tokenizer, dialogues, *, seed: int, bf16: bool,
                log: Callable[[str], None] = print):
    """Lab 2's LoRA summarizer on ``base_model`` (in place), trainable, in eval mode.

    Returns ``(policy, source)``: ``source`` says whether the adapter was Lab 2's or was
    trained here (with :func:`labs_common.training.lab2_lora_budget`, as Lab 2 trains it).
    """
    from peft import PeftModel
    from transformers import set_seed

    directory = lab2_adapter_dir(profile.name)
    if (directory / "adapter_config.json").is_file():
        policy = PeftModel.from_pretrained(base_model, str(directory), is_trainable=True)
        return policy.eval(), "Lab 2's adapter"
    budget = training.lab2_lora_budget(profile)
    log(f"Lab 2's LoRA adapter is not in {directory.relative_to(build_dir())} under the build "
        f"folder (Lab 2 has not run here; on Colab each notebook gets a fresh machine unless "
        f"use_google_drive is set).\nTraining it here instead, with Lab 2's recipe and "
        f"budget: {budget['max_steps']} steps of {budget['batch_size']} dialogues. This takes "
        f"as long as it does in Lab 2.")
    set_seed(seed)
    policy = lora.make_lora_model(base_model, r=32, alpha=32, dropout=0.05, targets=("q", "v"),
                                  in_place=True)
    train = dialogues["train"]
    if profile.lab2.train_examples is not None:
        train = train.select(range(min(profile.lab2.train_examples, len(train))))
    run = training.train_seq2seq(policy, tokenizer, training.summary_pairs(train), **budget,
                                 seed=seed, bf16=bf16, progress=profile.name == "full")
    lora.save_adapter(policy, directory)
    log(f"trained in {run.seconds:.0f} s and saved where Lab 2 saves it, so the next run "
        f"starts from it")
    return policy.eval(), f"Lab 2's adapter, trained here ({run.steps} steps)"


def save_ppo_policy(trainer, profile_name: str):
    """Save the policy adapter of a PPO trainer (not its frozen reference) where Lab 4 looks."""
    directory = lab3_adapter_dir(profile_name)
    directory.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(str(directory), selected_adapters=[trainer.policy_adapter])
    return directory


def lab3_policy(profile, base_model):
    """Lab 3's PPO policy on a copy of ``base_model`` (eval mode), or None if Lab 3 saved none."""
    directory = lab3_adapter_dir(profile.name)
    if not (directory / "adapter_config.json").is_file():
        return None
    return lora.load_adapter(base_model, directory, trainable=True).eval()


def lab3_ppo_policy(profile, base_model, policy_start, tokenizer, reward_model, dialogues, *,
                    seed: int, log: Callable[[str], None] = print):
    """Lab 3's PPO policy, loaded (:func:`lab3_policy`), or made here by Lab 3's main run
    (its settings, on the dialogues it chooses) from ``policy_start`` and saved where Lab 3
    saves it. Returns ``(policy, source)``."""
    import copy

    policy = lab3_policy(profile, base_model)
    if policy is not None:
        return policy, "Lab 3's PPO policy"
    settings = profile.lab3
    log(f"Lab 3's PPO policy is not in {lab3_adapter_dir(profile.name).relative_to(build_dir())} "
        f"under the build folder (Lab 3 has not run here). Running Lab 3's main PPO run here "
        f"instead: {settings.ppo_steps} steps of {settings.ppo_batch_size} dialogues, as long as "
        f"it takes in Lab 3.")
    chosen, _ = detox.choose_ppo_dialogues(policy_start, tokenizer, reward_model,
                                           dialogues["train"]["dialogue"], settings, seed=seed)
    run = detox.run_ppo(copy.deepcopy(policy_start), tokenizer, reward_model.reward, chosen,
                        detox.ppo_config(settings, seed), settings.ppo_steps,
                        description="PPO, Lab 3's main run")
    save_ppo_policy(run.trainer, profile.name)
    log(f"trained in {run.seconds:.0f} s and saved where Lab 3 saves it")
    source = f"Lab 3's PPO policy, trained here ({settings.ppo_steps} steps)"
    return lab3_policy(profile, base_model), source
