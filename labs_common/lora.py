"""LoRA adapters with peft: create, save, reload, compare (Lab 2, section 5; Lab 3 reloads).

LoRA freezes the pretrained weights and learns a low-rank update ``B @ A`` (rank ``r``)
for chosen projection matrices, here T5's attention queries ``q`` and values ``v``. The
update is scaled by ``alpha / r``; ``B`` starts at zero, so a fresh adapter changes nothing.

One trap the 2023 course fell into: peft's ``get_peft_model`` and
``PeftModel.from_pretrained`` inject adapter layers **into the model object they are
given**. Calling them on "the original model" quietly turns it into something else. The
helpers here work on a deep copy unless asked otherwise (``in_place=True``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

DEFAULT_TARGETS = ("q", "v")  # T5's attention query and value projections


def lora_config(
    r: int = 32,
    alpha: int = 32,
    dropout: float = 0.05,
    targets: Sequence[str] = DEFAULT_TARGETS,
):
    """The ``LoraConfig`` of Lab 2: rank ``r``, scaling ``alpha / r``, for a seq2seq model."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=list(targets),
        lora_dropout=dropout,
        bias="none",
        task_type=TaskType.SEQ_2_SEQ_LM,
    )


def make_lora_model(
    model,
    r: int = 32,
    alpha: int = 32,
    dropout: float = 0.05,
    targets: Sequence[str] = DEFAULT_TARGETS,
    *,
    in_place: bool = False,
):
    """A peft model with a fresh, trainable LoRA adapter on ``targets`` (Lab 2, section 5).

    Works on a deep copy of ``model`` (which stays untouched) unless ``in_place=True``.
    Only the adapter's ``A`` and ``B`` matrices are trainable afterwards.
    """
    from peft import get_peft_model

    base = model if in_place else copy.deepcopy(model)
    with warnings.catch_warnings():  # transformers' deprecation, triggered inside peft
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return get_peft_model(base, lora_config(r, alpha, dropout, targets))


def save_adapter(peft_model, directory: str | Path) -> Path:
    """Write only the adapter (config + weights, a few MB at most) to ``directory``.

    Lab 2 saves to ``paths.lab2_adapter_dir(profile)``, where Lab 3 looks for it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(directory))
    return directory


def load_adapter(base_model, directory: str | Path, *, trainable: bool = False,
                 in_place: bool = False):
    """``base_model`` with the adapter saved in ``directory``, frozen unless ``trainable``.

    peft's ``is_trainable`` defaults to False (an adapter loaded for inference); pass
    ``trainable=True`` to keep training it, as Lab 3 does. Works on a deep copy of
    ``base_model`` unless ``in_place=True``.
    """
    from peft import PeftModel

    directory = Path(directory)
    if not (directory / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"No LoRA adapter in {directory} (adapter_config.json is missing): run Lab 2's "
            "LoRA section first, it saves the adapter there."
        )
    base = base_model if in_place else copy.deepcopy(base_model)
    with warnings.catch_warnings():  # transformers' deprecation, triggered inside peft
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return PeftModel.from_pretrained(base, str(directory), is_trainable=trainable)


def add_adapter(peft_model, directory: str | Path, name: str):
    """Load a second saved adapter into ``peft_model`` under ``name`` (frozen).

    One base model can carry several adapters; ``peft_model.set_adapter(name)`` picks
    the one that runs (Lab 2, "try it yourself").
    """
    directory = Path(directory)
    if not (directory / "adapter_config.json").is_file():
        raise FileNotFoundError(f"No LoRA adapter in {directory} (adapter_config.json is missing).")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        peft_model.load_adapter(str(directory), adapter_name=name, is_trainable=False)
    return peft_model


def adapter_files(directory: str | Path) -> list[str]:
    """Names of the files a saved adapter consists of (sorted)."""
    return sorted(p.name for p in Path(directory).iterdir() if p.is_file())


@torch.no_grad()
def max_logit_difference(
    model_a, model_b, tokenizer, prompts: Sequence[str], targets: Sequence[str]
) -> float:
    """Largest absolute difference between the two models' logits on the same inputs.

    Both models read ``prompts`` and are teacher-forced on ``targets`` in eval mode
    (LoRA dropout off). 0.0 means identical outputs; float rounding gives ~1e-6.
    """
    if len(prompts) != len(targets) or not prompts:
        raise ValueError("Give one target per prompt (and at least one prompt).")
    device = next(model_a.parameters()).device
    encoded = tokenizer(list(prompts), return_tensors="pt", padding=True).to(device)
    labels = tokenizer(text_target=list(targets), return_tensors="pt", padding=True)["input_ids"]
    labels[labels == tokenizer.pad_token_id] = -100  # T5 turns -100 back into pad when shifting
    labels = labels.to(device)
    modes = (model_a.training, model_b.training)
    model_a.eval()
    model_b.eval()
    try:
        logits_a = model_a(**encoded, labels=labels).logits.float()
        logits_b = model_b(**encoded, labels=labels).logits.float()
    finally:
        model_a.train(modes[0])
        model_b.train(modes[1])
    return float((logits_a - logits_b).abs().max())
