"""trl's maintained trainers on the detoxification task: GRPO and DPO (Lab 4, sections 2 and 4).

trl no longer has PPO (:mod:`labs_common.rl.ppo` is the labs' own), but it maintains GRPO
and DPO for causal models. This module sets them up with the pitfalls already avoided:

* GRPO: :func:`grpo_config` (trl's ``GRPOConfig`` from the RL labs' settings, ``profile.lab3``) and
  :func:`nothate_reward_function` (the reward model as a reward function, since trl
  cannot load a two-label classifier as a reward model);
* DPO: :func:`trl_preference_dataset` (the pairs of :mod:`labs_common.rl.preferences` as
  trl's dataset), :func:`trl_dpo_config` (trl's ``DPOConfig``) and :func:`run_trl_dpo`.

trl's ``DPOTrainer`` supported encoder-decoder models up to trl 0.28 and no longer does
from 0.29 on (see :func:`trl_dpo_config`), so FLAN-T5 is trained by
:class:`labs_common.rl.dpo.DPOTrainer`, and trl's trainer runs on the small causal model of
the GRPO section, on the same pairs. trl's classes are reached as ``trl.DPOConfig`` and
``trl.DPOTrainer``; the project's of the same names live in :mod:`labs_common.rl.dpo`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from peft import LoraConfig

from labs_common.profiles import Lab3Settings
from labs_common.rl.preferences import PairRows, PreferencePairs, as_continuation


def _plain_run(output_dir: str, seed: int, *, bf16: bool, use_cpu: bool) -> dict:
    """The settings both trl trainers share in the labs: bf16 only where the profile's
    precision rules allow it (trl defaults to bf16 and fails on a CPU), no fp16, no
    activation checkpointing, no saving or logging services, a log line every step, and
    the lab's seed for the model and the data order."""
    return {"output_dir": output_dir, "logging_steps": 1, "save_strategy": "no",
            "report_to": "none", "use_cpu": use_cpu, "bf16": bf16, "fp16": False,
            "activation_checkpointing": False, "disable_tqdm": True, "seed": seed,
            "data_seed": seed}


# ---------------------------------------------------------------- GRPO (Lab 4, section 2)


def nothate_reward_function(classifier, name: str = "nothate_logit"):
    """A reward function for trl's ``GRPOTrainer``: the ``nothate`` logit of each completion.

    trl calls it with the completions (plain strings for a prompt dataset) and extra
    keyword arguments, and logs it as ``rewards/<name>/mean``. The classifier cannot be
    passed to trl as a model path: trl loads reward models with ``num_labels=1``, which
    breaks a two-label classifier.
    """

    def reward(completions, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [float(r) for r in classifier.reward(texts)]

    reward.__name__ = name
    return reward


def grpo_config(settings: Lab3Settings, output_dir: str, seed: int, *, bf16: bool,
                use_cpu: bool, beta: float = 0.04, **overrides):
    """trl's ``GRPOConfig`` for Lab 4's section 2, with the pitfalls already avoided.

    ``bf16`` comes from the profile's precision rules (trl would default to bf16 and fail
    on a CPU); checkpointing, vLLM, logging services and saving are off; ``beta > 0``
    keeps a KL penalty, and with a LoRA ``peft_config`` the disabled adapter serves as
    the reference, so no second copy of the model is loaded.
    """
    from trl import GRPOConfig

    values = {
        **_plain_run(output_dir, seed, bf16=bf16, use_cpu=use_cpu),
        "max_steps": settings.grpo_steps,
        "per_device_train_batch_size": settings.grpo_batch_size,
        "num_generations": settings.grpo_generations,
        "max_completion_length": settings.grpo_max_completion_length,
        "learning_rate": settings.grpo_learning_rate,
        "beta": beta,
        "use_vllm": False,
    }
    values.update(overrides)
    return GRPOConfig(**values)


# ---------------------------------------------------------------- DPO (Lab 4, sections 3 and 4)


def trl_preference_dataset(pairs: PreferencePairs | PairRows, tokenizer):
    """The pairs as trl's ``DPOTrainer`` expects them: a ``Dataset`` of prompt/chosen/rejected.

    A model with a chat template gets conversations (a user turn, an assistant turn), which
    trl renders with the template, as :func:`labs_common.causal_prompts.grpo_prompts` does
    for GRPO.
    Otherwise the texts stay plain, each response after a space (trl concatenates the
    prompt and response strings as they are, and appends the EOS token itself).
    """
    from datasets import Dataset

    rows = list(pairs)
    prompts = [str(row["prompt"]) for row in rows]
    if getattr(tokenizer, "chat_template", None):
        return Dataset.from_dict({
            "prompt": [[{"role": "user", "content": p}] for p in prompts],
            "chosen": [[{"role": "assistant", "content": str(r["chosen"])}] for r in rows],
            "rejected": [[{"role": "assistant", "content": str(r["rejected"])}] for r in rows],
        })  # fmt: skip
    prompt_rows = list(zip(prompts, rows, strict=True))
    return Dataset.from_dict({
        "prompt": prompts,
        "chosen": [as_continuation(p, str(r["chosen"])) for p, r in prompt_rows],
        "rejected": [as_continuation(p, str(r["rejected"])) for p, r in prompt_rows],
    })  # fmt: skip


def trl_dpo_config(
    output_dir: str,
    *,
    seed: int,
    bf16: bool,
    use_cpu: bool,
    beta: float = 0.1,
    learning_rate: float = 5e-5,
    per_device_train_batch_size: int = 8,
    num_train_epochs: float = 1.0,
    **overrides,
):
    """trl's ``DPOConfig`` for the causal model of Lab 4, with the pitfalls already avoided.

    What trl 1.16's sources show (``trl/trainer/dpo_trainer.py``): the trainer is built
    for decoder-only models. ``tokenize_fn`` in ``_prepare_dataset`` tokenizes
    ``prompt + chosen`` as one text (line 1099); ``DataCollatorForPreference.torch_call``
    concatenates ``prompt_ids + chosen_ids`` into one ``input_ids`` (line 147); ``_compute_loss``
    calls ``model(**model_kwargs, labels=labels, fused_lm_head=True)`` with those ids and
    no decoder inputs (line 1299), and the fused head it patches in
    (``trl/trainer/utils.py``, ``add_fused_lm_head``) scores next tokens with
    ``last_hidden_state[:, :-1]`` (line 1618). ``is_encoder_decoder`` appears nowhere in
    the file. With a T5 policy the trainer builds, then its first step fails in T5's
    decoder: ``ValueError: You must specify exactly one of input_ids or inputs_embeds``.
    trl 0.28 still had a seq2seq branch (``if self.is_encoder_decoder:`` running the
    encoder on the prompt, the decoder on the completion); 0.29.0 dropped it.

    Settings: ``bf16`` comes from the profile's precision rules (trl defaults to bf16 and
    fails on a CPU without it); activation checkpointing, logging services and saving are
    off; a step is logged every step. ``disable_dropout`` stays on (trl's default), as
    dropout is off in the project's :class:`~labs_common.rl.dpo.DPOTrainer`. trl's learning
    rate decays linearly to 0 (its default ``lr_scheduler_type``), while the project's stays
    constant; pass ``lr_scheduler_type="constant"`` to match. With a LoRA ``peft_config``
    and a plain model, the reference is the base model (adapter disabled); given a
    ``PeftModel`` instead, trl copies its adapter ``"default"`` into a frozen adapter ``"ref"``.
    """
    from trl import DPOConfig as TrlDPOConfig

    values = {
        **_plain_run(output_dir, seed, bf16=bf16, use_cpu=use_cpu),
        "beta": beta,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": per_device_train_batch_size,
        "num_train_epochs": num_train_epochs,
    }
    values.update(overrides)
    return TrlDPOConfig(**values)


@dataclass
class TrlDPORun:
    """trl's finished DPO run: its trainer and what each step logged."""

    trainer: object  # trl.DPOTrainer; trainer.model is the trained PeftModel
    history: list[dict[str, float]]  # trl's log_history, one dict per logged step
    seconds: float  # wall-clock time of train() (print it, never record it)

    def table(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The history as a DataFrame indexed by trl's step number."""
        frame = pd.DataFrame(self.history).set_index("step")
        return frame if columns is None else frame[list(columns)]


def run_trl_dpo(model, tokenizer, pairs: PreferencePairs | PairRows, args, *,
                peft_config: LoraConfig | None = None) -> TrlDPORun:
    """Train ``model`` with trl's ``DPOTrainer`` on ``pairs`` (see :func:`trl_dpo_config`).

    ``model`` is a causal model (or its path) and ``peft_config`` the LoRA adapter to add;
    the pairs become trl's dataset through :func:`trl_preference_dataset`. The history
    keeps the per-step logs only, not trl's closing summary (``train_runtime``, ...).
    """
    from datasets.utils.logging import (
        disable_progress_bar,
        enable_progress_bar,
        is_progress_bar_enabled,
    )
    from transformers import PrinterCallback
    from trl import DPOTrainer as TrlDPOTrainer

    bars = is_progress_bar_enabled()
    disable_progress_bar()  # trl's three passes over a few hundred pairs take a moment
    try:
        trainer = TrlDPOTrainer(
            model=model,
            args=args,
            train_dataset=trl_preference_dataset(pairs, tokenizer),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    finally:
        if bars:
            enable_progress_bar()
    trainer.remove_callback(PrinterCallback)  # the history holds every step's log
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    history = [dict(h) for h in trainer.state.log_history if "loss" in h]
    return TrlDPORun(trainer, history, seconds)
