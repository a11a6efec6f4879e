"""Profiles: the one place that knows whether the labs run on Hub models or on the tiny world.

* ``full``: FLAN-T5, DialogSum, tweets and Meta's hate-speech classifier from the
  Hugging Face Hub, sized for a Colab T4 or a bigger GPU.
* ``tiny``: the default. The same code on data the project generates and small models it
  trains itself (``data/tiny``), so every lab runs offline on a laptop CPU or in CI.
  Its numbers are a miniature of the lesson, not FLAN-T5's numbers.

A notebook picks its profile in its ``parameters`` cell, which defaults to the
``LABS_PROFILE`` environment variable, and calls :func:`activate`.

The full profile can also run without the Hub: download its repositories once into a
folder, under their ids (``<folder>/google/flan-t5-base/``, ``<folder>/knkarthick/dialogsum/``,
...), and name the folder in ``LABS_HUB_DIR`` (or the notebooks' ``hub_dir`` parameter).
Every Hub id then resolves there (:func:`resolve`), nothing waits on a network, and the rest
is the full profile unchanged: the same ids in the output, the same loaders and sizes.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

import torch

from labs_common.paths import tiny_dir, tiny_model_dir

PROFILE_NAMES = ("tiny", "full")
DEFAULT_PROFILE = "tiny"
HUB_DIR_VARIABLE = "LABS_HUB_DIR"
# Set (to 1) on a bigger GPU to run as on a Colab T4: fp32, TF32 off, 15 GiB of memory.
T4_VARIABLE = "LABS_AS_T4"
T4_MEMORY_BYTES = 15 * 2**30

# Every Hub repository the full profile names, pinned to one commit, so that a re-upload
# (the tweets were re-uploaded with another schema) cannot change what the labs load.
# Loading at a commit also keeps transformers from asking the Hub's conversion service to
# turn pickled weights into safetensors, which would open a pull request on the owner's
# repository: it only does that on ``main``.
HUB_REVISIONS: dict[str, str] = {
    "google/flan-t5-base": "7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
    "facebook/roberta-hate-speech-dynabench-r4-target": "391c99ab8b3f65beb77746a2cf6ddf1ddf9817e6",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "12fd25f77366fa6b3b4b768ec3050bf629380bac",
    "textdetox/xlmr-large-toxicity-classifier": "b9c7c563427c591fc318d91eb592381ae2fbde66",
    # the revision with ``id, text, label, label_text`` that MTEB's task files evaluate on
    "mteb/tweet_sentiment_extraction": "d604517c81ca91fe16a244d1248fc021f9ecee7a",
}
# Repositories that load from ``main`` until a commit of theirs can be checked, and why.
UNPINNED: dict[str, str] = {
    "knkarthick/dialogsum": "no commit of it could be verified; its CSVs have not changed "
                            "since 2022, and the loader checks their columns",
}
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
    grpo_steps: int
    grpo_batch_size: int
    grpo_generations: int
    grpo_learning_rate: float
    grpo_max_completion_length: int
    # Recompute activations in PPO's backward pass instead of keeping them (PPOConfig's
    # gradient_checkpointing): on a GPU it cuts the update's peak memory; on a CPU it only
    # costs time.
    ppo_gradient_checkpointing: bool = False
    # DPO (section 10): pairs from sampled summaries of training dialogues
    dpo_dialogues: int = 128  # training dialogues sampled for preference pairs
    dpo_samples: int = 4  # summaries sampled per dialogue; the best and worst make a pair
    dpo_min_margin: float = 1.0  # least reward difference (nothate logit) to keep a pair
    dpo_beta: float = 0.1
    dpo_learning_rate: float = 1e-4
    dpo_epochs: int = 2
    dpo_batch_size: int = 8
    # DPO on the causal policy of section 11 (trl's DPOTrainer and the project's): a new
    # LoRA adapter from zero wants a larger step than FLAN-T5's trained one
    causal_dpo_learning_rate: float = 5e-5


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
            grpo_steps=40,  # 8 steps (16 prompts) moved nothing measurable
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-3,
            grpo_max_completion_length=32,
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
            grpo_steps=40,
            grpo_batch_size=16,
            grpo_generations=4,
            grpo_learning_rate=1e-4,  # a LoRA rate; 1e-5 suits full fine-tuning
            grpo_max_completion_length=48,
            ppo_gradient_checkpointing=True,  # see benchmarks/README.md for what it saves
        ),
    )


_BUILDERS = {"tiny": _tiny, "full": _full}

# The rehearsal (``make rehearse``) runs every lab on the full profile against a local
# replica of its Hub repositories (random weights, shrunk widths): it checks that the code
# path works, not the lessons, so each subset and training run is cut to a few examples.
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
             "dpo_min_margin": 0.0, "dpo_epochs": 1, "dpo_batch_size": 4},
}


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


_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def set_offline(offline: bool = True) -> None:
    """Tell the Hugging Face libraries not to wait on a network (they retry for ~47 s).

    The libraries read the variables once, at import: huggingface_hub into its
    ``constants`` and datasets into its ``config``. Both copies are updated too, so that a
    kernel can switch from ``tiny`` (offline) to ``full`` (online) and back.
    """
    value = "1" if offline else "0"
    for variable in _OFFLINE_VARIABLES:
        os.environ[variable] = value
    try:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = offline
    except (ImportError, AttributeError):
        pass
    try:
        from datasets import config as datasets_config

        datasets_config.HF_HUB_OFFLINE = offline
        datasets_config.HF_DATASETS_OFFLINE = offline
    except (ImportError, AttributeError):
        pass
    _state["offline_set_by_labs"] = offline


def _offline_requested_by_user() -> bool:
    """Whether HF_HUB_OFFLINE is on and it was not :func:`set_offline` that turned it on."""
    on = any(os.environ.get(v, "0") not in ("", "0") for v in _OFFLINE_VARIABLES)
    return on and not _state["offline_set_by_labs"]


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


# What :func:`activate` decided for this process: where Hub ids resolve, and whether the
# offline variables are the labs' doing (so a later profile may turn them off again).
_state: dict = {"hub_dir": None, "offline_set_by_labs": False}


@dataclass(frozen=True)
class Source:
    """Where one model or dataset loads from: ``from_pretrained(path, revision=revision)``."""

    name: str  # the name the profile uses: a Hub id or a local folder
    path: str  # what the loader is given
    revision: str | None  # a pinned commit on the Hub; None for a folder on disk

    @property
    def on_disk(self) -> bool:
        return self.revision is None and os.path.isdir(self.path)


def display_name(name: str) -> str:
    """How outputs name a model: a Hub id as it is, a local folder by its last part."""
    return Path(name).name if Path(name).is_absolute() else name


def download_command(repo_id: str, kind: str, folder: str | Path) -> str:
    """The command that puts ``repo_id`` where ``LABS_HUB_DIR=folder`` looks for it."""
    revision = HUB_REVISIONS.get(repo_id)
    parts = ["hf download", repo_id]
    if kind == "dataset":
        parts.append("--repo-type dataset")
    if revision:
        parts.append(f"--revision {revision}")
    parts.append(f"--local-dir {Path(folder) / repo_id}")
    return " ".join(parts)


def resolve(name: str) -> Source:
    """Where ``name`` (a Hub id or a folder) loads from in this process.

    With a Hub folder active (``LABS_HUB_DIR``), a Hub id is the folder's ``<id>``
    subfolder, and a missing one stops at once with the command that downloads it. Without
    one, a Hub id loads from the Hub at its pinned commit (:data:`HUB_REVISIONS`) and a
    folder on disk loads as it is.
    """
    hub_dir = _state["hub_dir"]
    if hub_dir is not None and not Path(name).is_absolute():
        path = Path(hub_dir) / name
        if not path.is_dir():
            raise ProfileError(_missing_repository_message(name, hub_dir))
        return Source(name=name, path=str(path), revision=None)
    if os.path.isdir(name):
        return Source(name=name, path=name, revision=None)
    return Source(name=name, path=name, revision=HUB_REVISIONS.get(name))


def _missing_repository_message(name: str, hub_dir: str | Path, kind: str = "model") -> str:
    return (
        f"{name} is not in the Hub folder {hub_dir} ({HUB_DIR_VARIABLE}). Download it once, "
        f"where the internet is reachable, with:\n  {download_command(name, kind, hub_dir)}"
    )


def activate(profile: Profile | str | None = None, hub_dir: str | Path | None = None) -> Profile:
    """Prepare this process for ``profile`` and return it.

    ``tiny``: offline mode on, and a clear error if the tiny world is missing.
    ``full`` with a Hub folder (``hub_dir``, else ``$LABS_HUB_DIR``): offline mode on, every
    Hub id resolves in that folder, and a repository missing there stops at once.
    ``full`` without one: online, and a clear error at once if the Hub cannot be reached,
    instead of minutes of retries further down.

    Either way transformers may never ask the Hub to convert pickled weights (that would
    open a pull request on someone else's repository), and no usage telemetry is sent.
    """
    if not isinstance(profile, Profile):
        profile = get_profile(profile)
    quiet_progress_bars()
    silence_library_deprecations()
    if as_t4():
        emulate_t4()
    os.environ["DISABLE_SAFETENSORS_CONVERSION"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    hub_dir = hub_dir or os.environ.get(HUB_DIR_VARIABLE) or None
    _state["hub_dir"] = None
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
                "`make tiny-world` (or `python -m labs_tools.tinyworld.build`)."
            )
    elif hub_dir is not None:
        folder = Path(hub_dir).expanduser().resolve()
        for repo_id, kind in profile.hub_repositories().items():
            if not (folder / repo_id).is_dir():
                raise ProfileError(_missing_repository_message(repo_id, folder, kind))
        set_offline(True)
        _state["hub_dir"] = str(folder)
    else:
        if _offline_requested_by_user():
            raise ProfileError(
                "The 'full' profile downloads models and data from the Hugging Face Hub, but "
                "HF_HUB_OFFLINE is set. Unset it, or download the repositories once and set "
                f"{HUB_DIR_VARIABLE} (README: 'Without internet'), or run with LABS_PROFILE=tiny."
            )
        set_offline(False)
        if not hub_reachable():
            raise ProfileError(
                "The 'full' profile downloads models and data from the Hugging Face Hub, which "
                "cannot be reached from here. Connect to the internet, or download the "
                f"repositories once and set {HUB_DIR_VARIABLE} (README: 'Without internet'), "
                "or run with LABS_PROFILE=tiny (profile_name = 'tiny')."
            )
    return profile


def select_device() -> torch.device:
    """CUDA when there is a GPU, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def supports_bf16(device: torch.device | str) -> bool:
    """bf16 needs an Ampere or newer GPU: compute capability 8.0 or more.

    ``torch.cuda.is_bf16_supported()`` is no test: by default it also counts bf16 that a
    GPU can only emulate, and says True on a Colab T4 (capability 7.5), where bf16 runs
    without tensor cores, slowly.
    """
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available() or as_t4():
        return False
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def as_t4() -> bool:
    """Whether this process runs as on a Colab T4 (``LABS_AS_T4=1``), on a bigger GPU."""
    return os.environ.get(T4_VARIABLE, "0") not in ("", "0")


def emulate_t4() -> None:
    """On a bigger GPU, take a T4's limits: no TF32 matmuls, at most 15 GiB of memory.

    Precision follows from :func:`supports_bf16`, which says False under ``LABS_AS_T4``.
    Speed does not follow: a bigger GPU stays faster, so times measured this way are a
    lower bound for a T4, while memory is what a T4 must hold.
    """
    if not torch.cuda.is_available():
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, T4_MEMORY_BYTES / total))


def model_dtype(device: torch.device | str, trainable: bool = False) -> torch.dtype:
    """The dtype to load a model in: fp32 unless it stays frozen on a bf16 GPU.

    A model that is trained keeps fp32 weights (AdamW's updates are far smaller than bf16's
    rounding step, so in bf16 most of them would vanish) and trains with bf16 autocast where
    the GPU has it (:func:`training_precision`). A frozen model (an evaluation copy, a
    reward model, LoRA's base) may hold bf16 weights there. Never fp16: T5 overflows in it.
    """
    if trainable:
        return torch.float32
    return torch.bfloat16 if supports_bf16(device) else torch.float32


def training_precision(device: torch.device | str) -> dict[str, bool]:
    """Mixed-precision flags for the trainer: bf16 autocast where supported, never fp16."""
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
