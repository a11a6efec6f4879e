"""Profiles: the one place that knows whether the labs run on Hub models or on the tiny world.

* ``full``: FLAN-T5, DialogSum, tweets and Meta's hate-speech classifier from the
  Hugging Face Hub, sized for a Colab T4 or a bigger GPU.
* ``tiny``: the default. The same code on data the project generates and small models it
  trains itself (``data/tiny``), so every lab runs offline on a laptop CPU or in CI.
  Its numbers are a miniature of the lesson, not FLAN-T5's numbers.

A notebook picks its profile in its ``parameters`` cell, which defaults to the
``LABS_PROFILE`` environment variable, and calls :func:`activate`.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

import torch

from labs_common.paths import tiny_dir, tiny_model_dir

PROFILE_NAMES = ("tiny", "full")
DEFAULT_PROFILE = "tiny"


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
    """Sizes for Lab 3 (PPO detoxification and GRPO)."""

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
    lab2_fallback_steps: int  # LoRA steps if Lab 2's adapter is missing
    grpo_steps: int
    grpo_batch_size: int
    grpo_generations: int
    grpo_learning_rate: float
    grpo_max_completion_length: int
    # Recompute activations in PPO's backward pass instead of keeping them (PPOConfig's
    # gradient_checkpointing): on a GPU it cuts the update's peak memory; on a CPU it only
    # costs time.
    ppo_gradient_checkpointing: bool = False


@dataclass(frozen=True)
class Profile:
    """Logical model and dataset names mapped to Hub ids or local paths, plus sizes."""

    name: str
    summarizer: str  # FLAN-T5 (model and tokenizer)
    toxicity_classifier: str  # reward model: label 0 = nothate, 1 = hate
    toxicity_judge: str  # a second toxicity classifier that PPO never sees
    causal_policy: str  # a small decoder-only model for Lab 3's GRPO section
    dialogue_dataset: str
    sentiment_dataset: str
    local: bool  # True: everything loads from disk, never from the Hub
    lab1: Lab1Settings
    lab2: Lab2Settings
    lab3: Lab3Settings
    context_tokens: int = 512  # FLAN-T5's context the prompts must fit
    notes: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **settings) -> Profile:
        """A copy with some fields changed, e.g. ``profile.with_overrides(local=True)``."""
        return replace(self, **settings)


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
        lab1=Lab1Settings(
            rouge_examples=100,
            sentiment_examples=150,
            few_shot_examples=3,
            batch_size=25,
            max_new_tokens=64,
        ),
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
            init_kl_coef=0.5,  # 0.05-0.2 let greedy summaries lose sentences (ROUGE-1 -0.05+)
            target_kl=6.0,
            min_new_tokens=5,
            max_new_tokens=40,
            seeds=(0, 1, 2),
            lab2_fallback_steps=300,  # Lab 2's LoRA budget
            grpo_steps=40,  # 8 steps (16 prompts) moved nothing measurable
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-3,
            grpo_max_completion_length=32,
        ),
    )


def _full() -> Profile:
    return Profile(
        name="full",
        summarizer="google/flan-t5-base",
        toxicity_classifier="facebook/roberta-hate-speech-dynabench-r4-target",
        toxicity_judge="s-nlp/roberta_toxicity_classifier",
        causal_policy="HuggingFaceTB/SmolLM2-135M-Instruct",
        dialogue_dataset="knkarthick/dialogsum",
        sentiment_dataset="mteb/tweet_sentiment_extraction",
        local=False,
        lab1=Lab1Settings(
            rouge_examples=100,
            sentiment_examples=200,
            few_shot_examples=2,
            batch_size=16,
            max_new_tokens=64,
        ),
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
            lab2_fallback_steps=200,
            grpo_steps=40,
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-4,  # a LoRA rate; 1e-5 suits full fine-tuning
            grpo_max_completion_length=48,
            ppo_gradient_checkpointing=True,  # see benchmarks/README.md for what it saves
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


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers within ``timeout`` seconds."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def set_offline(offline: bool = True) -> None:
    """Tell the Hugging Face libraries not to wait on a network (they retry for ~47 s)."""
    value = "1" if offline else "0"
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[variable] = value
    try:  # huggingface_hub reads the variable at import time
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = offline
    except (ImportError, AttributeError):
        pass


def quiet_progress_bars() -> None:
    """Hide download/loading bars: in a notebook they become widget outputs."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


# Deprecations raised inside the libraries' own calls, with nothing for a student to change.
_LIBRARY_DEPRECATIONS = (
    # peft 0.21 and trl 1.16 still call the name transformers 5.2x deprecated
    r"`is_gradient_checkpointing` is deprecated",
    r"`gradient_checkpointing_(enable|disable)` is deprecated",
)


def silence_library_deprecations() -> None:
    """Hide the FutureWarnings that libraries raise about each other's renamed methods."""
    for message in _LIBRARY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning)


def activate(profile: Profile | str | None = None) -> Profile:
    """Prepare this process for ``profile`` and return it.

    ``tiny``: offline mode on, and a clear error if the tiny world is missing.
    ``full``: a clear error at once if the Hub cannot be reached, instead of
    minutes of retries further down.
    """
    if not isinstance(profile, Profile):
        profile = get_profile(profile)
    quiet_progress_bars()
    silence_library_deprecations()
    if profile.local:
        set_offline(True)
        missing = [
            path
            for path in (profile.summarizer, profile.dialogue_dataset, profile.toxicity_classifier)
            if not os.path.isdir(path)
        ]
        if missing:
            raise ProfileError(
                f"The tiny world is missing ({missing[0]}). Rebuild it with "
                "`make tiny-world` (or `python -m labs_common.tinyworld.build`)."
            )
    elif os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0") or not hub_reachable():
        raise ProfileError(
            "The 'full' profile downloads models and data from the Hugging Face Hub, which "
            "cannot be reached from here (or HF_HUB_OFFLINE is set). Run with "
            "LABS_PROFILE=tiny (profile_name = 'tiny'), or connect to the internet."
        )
    return profile


def select_device() -> torch.device:
    """CUDA when there is a GPU, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def supports_bf16(device: torch.device | str) -> bool:
    """bf16 needs an Ampere or newer GPU (a Colab T4 has none)."""
    device = torch.device(device)
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def model_dtype(device: torch.device | str) -> torch.dtype:
    """bf16 on GPUs that support it, otherwise fp32. Never fp16: T5 overflows in it."""
    return torch.bfloat16 if supports_bf16(device) else torch.float32


def training_precision(device: torch.device | str) -> dict[str, bool]:
    """Mixed-precision flags for the trainer: bf16 where supported, never fp16."""
    return {"bf16": supports_bf16(device), "fp16": False}


GPU_PADDING_MULTIPLE = 64


def padding_multiple(device: torch.device | str) -> int | None:
    """Round padded sequence lengths up to this many tokens on a GPU; on a CPU, don't.

    On a GPU every new tensor shape costs time once (attention kernels plan per shape), and
    padding each batch only to its longest member makes nearly every batch a new shape:
    full fine-tuning of FLAN-T5 ran 3x faster with lengths rounded up to multiples of 64
    (benchmarks/README.md). The extra positions are masked and carry no labels, so the loss
    counts the same tokens (in training, dropout draws its random masks over the larger
    tensors, so the numbers differ as between two seeds). On a CPU there is no per-shape
    cost, and extra padding would only be extra arithmetic.
    """
    return GPU_PADDING_MULTIPLE if torch.device(device).type == "cuda" else None
