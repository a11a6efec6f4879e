"""Profiles: the one place that knows whether the labs run on Hub models or on the tiny world.

* ``full``: FLAN-T5, DialogSum, tweets and Meta's hate-speech classifier from the
  Hugging Face Hub, sized for a Colab T4 or a bigger GPU.
* ``tiny``: the default. The same code on data the project generates and small models it
  trains itself (``data/tiny``), so every lab runs offline on a laptop CPU or in CI.
  Its numbers are a miniature of the lesson, not FLAN-T5's numbers.

A profile holds values only: which models and datasets each logical name means, and the
sizes of every subset and training run (:class:`Lab1Settings`, :class:`Lab2Settings`,
:class:`Lab3Settings`). A notebook picks its profile in its ``parameters`` cell, which
defaults to the ``LABS_PROFILE`` environment variable, and calls
:func:`labs_common.hub.activate`, which prepares the process for it. Where a Hub id loads
from (the Hub at a pinned commit, or a local folder of its repositories) is
:mod:`labs_common.hub`'s business; the device and precision, :mod:`labs_common.device`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from labs_common.paths import tiny_dir, tiny_model_dir

PROFILE_NAMES = ("tiny", "full")
DEFAULT_PROFILE = "tiny"
DATASET_FIELDS = ("dialogue_dataset", "sentiment_dataset")
MODEL_FIELDS = ("summarizer", "toxicity_classifier", "toxicity_judge", "causal_policy")


class ProfileError(RuntimeError):
    """A profile that cannot run here, with a message that says what to do."""


@dataclass(frozen=True)
class Lab1Settings:
    """Sizes for Lab 1 (prompt engineering)."""

    rouge_examples: int  # test dialogues scored with ROUGE per prompt style
    sentiment_examples: int  # test tweets scored for accuracy per prompt style
    few_shot_examples: int  # solved examples in the few-shot prompt
    batch_size: int  # prompts generated at once
    max_new_tokens: int  # summary length limit


@dataclass(frozen=True)
class Lab2Settings:
    """Sizes and training budgets for Lab 2 (fine-tuning)."""

    train_examples: int | None  # training dialogues (None: the whole split)
    eval_examples: int  # test dialogues scored with ROUGE
    sentiment_examples: int  # test tweets for the forgetting and sentiment sections
    batch_size: int  # training batch size
    full_steps: int  # full fine-tuning optimizer steps
    full_learning_rate: float
    lora_steps: int  # LoRA optimizer steps
    lora_learning_rate: float
    multitask_sentiment_share: float  # share of sentiment instructions in the multi-task mixture
    sentiment_lora_steps: int  # LoRA steps on sentiment prompts
    sentiment_lora_learning_rate: float
    warmup_steps: int
    generation_batch_size: int
    max_new_tokens: int


@dataclass(frozen=True)
class Lab3Settings:
    """Sizes for Labs 3 and 4 (PPO; GRPO and DPO): the two RL labs share them."""

    eval_examples: int  # test dialogues for toxicity and ROUGE before/after
    generation_batch_size: int  # summaries generated at once when scoring before/after
    ppo_steps: int  # PPO steps (each one batch of prompts)
    ppo_batch_size: int  # prompts sampled per PPO step
    ppo_mini_batch_size: int
    ppo_epochs: int
    ppo_learning_rate: float
    init_kl_coef: float
    target_kl: float
    min_new_tokens: int
    max_new_tokens: int
    seeds: tuple[int, ...]  # PPO runs for the seed-spread section
    grpo_steps: int
    grpo_batch_size: int
    grpo_generations: int
    grpo_learning_rate: float
    grpo_max_completion_length: int
    # Recompute activations in PPO's backward pass instead of keeping them (PPOConfig's
    # gradient_checkpointing): on a GPU it cuts the update's peak memory; on a CPU it only
    # costs time.
    ppo_gradient_checkpointing: bool = False
    # PPO's prompts: of the first ``ppo_scan_dialogues`` training dialogues (None: all), the
    # ``ppo_prompt_share`` whose starting summaries the reward model finds the most toxic
    ppo_scan_dialogues: int | None = None
    ppo_prompt_share: float = 0.4
    # DPO (Lab 4, section 3): pairs from sampled summaries of training dialogues
    dpo_dialogues: int = 128  # training dialogues sampled for preference pairs
    dpo_samples: int = 4  # summaries sampled per dialogue; the best and worst make a pair
    dpo_min_margin: float = 1.0  # least reward difference (nothate logit) to keep a pair
    dpo_beta: float = 0.1
    dpo_learning_rate: float = 1e-4
    dpo_epochs: int = 2
    dpo_batch_size: int = 8
    # DPO on the causal policy of Lab 4's section 4 (trl's DPOTrainer and the project's): a new
    # LoRA adapter from zero wants a larger step than FLAN-T5's trained one
    causal_dpo_learning_rate: float = 5e-5


@dataclass(frozen=True)
class Profile:
    """Logical model and dataset names mapped to Hub ids or local paths, plus sizes."""

    name: str
    summarizer: str  # FLAN-T5 (model and tokenizer)
    toxicity_classifier: str  # reward model: label 0 = nothate, 1 = hate
    toxicity_judge: str  # a second toxicity classifier that PPO never sees
    causal_policy: str  # a small decoder-only model for Lab 4's GRPO and DPO sections
    dialogue_dataset: str
    sentiment_dataset: str
    local: bool  # True: everything loads from disk, never from the Hub
    lab1: Lab1Settings
    lab2: Lab2Settings
    lab3: Lab3Settings
    context_tokens: int = 512  # FLAN-T5's context the prompts must fit
    judge_toxic_index: int | None = None  # the judge's toxic class, if its labels are unnamed
    notes: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **settings) -> Profile:
        """A copy with some fields changed, e.g. ``profile.with_overrides(local=True)``."""
        return replace(self, **settings)

    def with_settings(self, **labs: dict | None) -> Profile:
        """A copy with some of the labs' sizes changed: ``with_settings(lab3={"ppo_steps": 2})``.

        The notebooks' ``settings_overrides`` parameter (``{"lab3": {...}, ...}``) comes
        here, so a headless run can shrink subsets and training budgets without touching any
        other cell. Lab 3 reads Lab 2's settings too, for the adapter it may have to train.
        """
        changed = {}
        for lab, values in labs.items():
            if lab not in ("lab1", "lab2", "lab3"):
                raise ProfileError(f"No settings named {lab!r}: use lab1, lab2 or lab3.")
            if values:
                current = getattr(self, lab)
                unknown = sorted(set(values) - set(current.__dataclass_fields__))
                if unknown:
                    raise ProfileError(f"{lab} has no setting named {unknown[0]!r}.")
                changed[lab] = replace(current, **values)
        return replace(self, **changed)

    def hub_repositories(self) -> dict[str, str]:
        """``{repository id: "model" or "dataset"}`` for every Hub repository named here."""
        if self.local:
            return {}
        repos = {getattr(self, name): "model" for name in MODEL_FIELDS}
        repos.update({getattr(self, name): "dataset" for name in DATASET_FIELDS})
        return repos


def _tiny() -> Profile:
    models = {
        "summarizer": "flan-t5-tiny",
        "toxicity_classifier": "roberta-hate-tiny",
        "toxicity_judge": "toxicity-judge-tiny",
        "causal_policy": "llama-summarizer-tiny",
    }
    return Profile(
        name="tiny",
        **{key: str(tiny_model_dir(value)) for key, value in models.items()},
        dialogue_dataset=str(tiny_dir() / "dialogsum"),
        sentiment_dataset=str(tiny_dir() / "tweets"),
        local=True,
        lab1=Lab1Settings(rouge_examples=100, sentiment_examples=150, few_shot_examples=3,
                          batch_size=25, max_new_tokens=64),
        lab2=Lab2Settings(
            train_examples=None,  # all 2,000 training dialogues
            eval_examples=100,  # the whole test split
            sentiment_examples=150,  # the same test tweets as Lab 1
            batch_size=16,
            full_steps=300,  # 2.4 passes over the training dialogues
            # 1e-3 forgot too little to show (sentiment 0.79 -> 0.73); 3e-3 forgets plainly
            # and still gains as much ROUGE.
            full_learning_rate=3e-3,
            lora_steps=300,  # Lab 3 starts from this adapter (its fallback trains as many)
            lora_learning_rate=3e-3,
            multitask_sentiment_share=0.2,
            sentiment_lora_steps=100,
            sentiment_lora_learning_rate=3e-3,
            warmup_steps=10,
            generation_batch_size=50,
            max_new_tokens=64,
        ),
        lab3=Lab3Settings(
            eval_examples=100,
            generation_batch_size=50,
            ppo_steps=20,
            ppo_batch_size=16,
            ppo_mini_batch_size=4,
            ppo_epochs=2,
            ppo_learning_rate=3e-4,  # 1e-3 clipped 10-25 % of tokens and shortened summaries
            # 0.05-0.2 let greedy summaries lose sentences (ROUGE-1 -0.05+); 1.0 keeps them and
            # leaves swapping an insult for a blind-spot word the cheapest way to more reward
            init_kl_coef=1.0,
            target_kl=6.0,
            min_new_tokens=5,
            max_new_tokens=40,
            seeds=(0, 1, 2),
            grpo_steps=40,  # 8 steps (16 prompts) moved nothing measurable
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-3,
            grpo_max_completion_length=32,
            # FLAN-T5's DPO: at 1e-4 two epochs moved the loss only from 0.69 to about 0.55,
            # and on some CPUs' adapters the drop was barely beyond the test sample's noise
            dpo_learning_rate=2e-4,
            # 1e-4 barely moved the loss from log 2 in two epochs; 1e-3 cost 0.16 ROUGE-1
            causal_dpo_learning_rate=5e-4,
        ),
    )


def _full() -> Profile:
    return Profile(
        name="full",
        summarizer="google/flan-t5-base",
        toxicity_classifier="facebook/roberta-hate-speech-dynabench-r4-target",
        # Trained on other data than the reward model (textdetox's multilingual toxicity
        # set, not Dynabench), and it ships safetensors; its two labels carry no names.
        toxicity_judge="textdetox/xlmr-large-toxicity-classifier",
        judge_toxic_index=1,
        causal_policy="HuggingFaceTB/SmolLM2-135M-Instruct",
        dialogue_dataset="knkarthick/dialogsum",
        sentiment_dataset="mteb/tweet_sentiment_extraction",
        local=False,
        lab1=Lab1Settings(rouge_examples=100, sentiment_examples=200, few_shot_examples=2,
                          batch_size=16, max_new_tokens=64),
        lab2=Lab2Settings(
            train_examples=4000,  # one pass: full_steps x batch_size = 4,000 dialogues
            eval_examples=100,  # distinct test dialogues (the split repeats each one 3 times)
            sentiment_examples=200,  # the same test tweets as Lab 1
            # fp32 weights, gradients and AdamW state of flan-t5-base take ~4 GB of a T4's 16 GB
            batch_size=8,
            full_steps=500,
            full_learning_rate=1e-4,  # AdamW; the course's 1e-5 suits its 31,150 steps, not 500
            lora_steps=500,  # the same data as full fine-tuning
            lora_learning_rate=1e-3,  # the course's LoRA rate
            multitask_sentiment_share=0.2,
            sentiment_lora_steps=200,
            sentiment_lora_learning_rate=1e-3,
            warmup_steps=20,
            generation_batch_size=16,
            max_new_tokens=64,
        ),
        lab3=Lab3Settings(
            eval_examples=100,
            generation_batch_size=16,
            ppo_steps=20,  # twice the course's 10 steps (320 episodes); a few minutes on a T4
            ppo_batch_size=16,
            ppo_mini_batch_size=4,
            ppo_epochs=1,
            # A tenth of Lab 2's LoRA rate, the ratio that worked on tiny; the course's 1.41e-5
            # (trl's default for full fine-tuning) barely moves a LoRA adapter in 20 steps.
            ppo_learning_rate=1e-4,
            init_kl_coef=0.2,  # the course's (trl 0.4's) starting beta
            target_kl=6.0,
            min_new_tokens=5,
            max_new_tokens=64,  # DialogSum summaries are 20-40 tokens (the course drew 100-400)
            seeds=(0,),  # one extra run: each costs a few minutes on a T4
            grpo_steps=40,
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-4,  # a LoRA rate; 1e-5 suits full fine-tuning
            grpo_max_completion_length=48,
            ppo_gradient_checkpointing=True,  # see benchmarks/README.md for what it saves
            ppo_scan_dialogues=1024,  # a minute of greedy summaries on a T4
        ),
    )


_BUILDERS = {"tiny": _tiny, "full": _full}


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$LABS_PROFILE``, else ``tiny``."""
    chosen = (name or os.environ.get("LABS_PROFILE") or DEFAULT_PROFILE).strip().lower()
    if chosen not in _BUILDERS:
        raise ProfileError(
            f"Unknown profile {chosen!r}. Use 'tiny' (offline, the project's own small models; "
            "the default) or 'full' (FLAN-T5 and friends from the Hugging Face Hub, for a GPU): "
            "set LABS_PROFILE or the profile_name parameter."
        )
    return _BUILDERS[chosen]()
