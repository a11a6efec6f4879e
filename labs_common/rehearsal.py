"""The rehearsal's settings: every lab's sizes cut to a few examples (``make rehearse``).

The rehearsal (``python -m labs_tools.runner --rehearsal``) runs every lab on the full
profile against a local replica of its Hub repositories (random weights, shrunk widths): it
checks that the code path works, not the lessons, so each subset and training run is cut to
a few examples. :data:`REHEARSAL_SETTINGS` is what it passes as the notebooks'
``settings_overrides`` (:meth:`labs_common.profiles.Profile.with_settings` reads it).
"""

from __future__ import annotations

REHEARSAL_SETTINGS: dict[str, dict] = {
    "lab1": {"rouge_examples": 6, "sentiment_examples": 6, "batch_size": 4,
             "max_new_tokens": 16},
    "lab2": {"train_examples": 32, "eval_examples": 4, "sentiment_examples": 6,
             "batch_size": 4, "full_steps": 2, "lora_steps": 2, "sentiment_lora_steps": 2,
             "warmup_steps": 0, "generation_batch_size": 4, "max_new_tokens": 16},
    "lab3": {"eval_examples": 4, "generation_batch_size": 4, "ppo_steps": 2,
             "ppo_batch_size": 4, "ppo_mini_batch_size": 2, "max_new_tokens": 16,
             "seeds": [0], "grpo_steps": 2, "grpo_batch_size": 4, "grpo_generations": 2,
             "grpo_max_completion_length": 8, "dpo_dialogues": 8, "dpo_samples": 2,
             "dpo_min_margin": 0.0, "dpo_epochs": 1, "dpo_batch_size": 4,
             "ppo_scan_dialogues": 16},
}
