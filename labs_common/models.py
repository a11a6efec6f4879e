"""Loading the labs' models, counting their parameters and measuring them on disk.

Models load with ``from_pretrained`` from a Hub id (full profile) or a local folder
(tiny profile) in the profile's dtype, always as safetensors and never with remote code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from labs_common.profiles import model_dtype, select_device


@dataclass(frozen=True)
class ParameterCount:
    """Trainable and total parameters of a model (Lab 2, sections 1 and 5)."""

    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (
            f"trainable model parameters: {self.trainable:,}\n"
            f"all model parameters: {self.total:,}\n"
            f"percentage of trainable model parameters: {self.percent:.2f}%"
        )


def count_parameters(model: torch.nn.Module) -> ParameterCount:
    """Count parameters once each, even where weights are shared (T5 ties its embeddings)."""
    trainable = total = 0
    for parameter in model.parameters():  # parameters() yields a shared weight only once
        total += parameter.numel()
        if parameter.requires_grad:
            trainable += parameter.numel()
    return ParameterCount(trainable=trainable, total=total)


def _load_kwargs(device: torch.device) -> dict:
    return {"dtype": model_dtype(device), "use_safetensors": True}


def load_seq2seq(name: str, device: torch.device | None = None):
    """A sequence-to-sequence model and its tokenizer, in eval mode on ``device``."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    device = device or select_device()
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForSeq2SeqLM.from_pretrained(name, **_load_kwargs(device)).to(device)
    return model.eval(), tokenizer


def load_causal(name: str, device: torch.device | None = None):
    """A decoder-only model and its tokenizer (left padding, a pad token), in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or select_device()
    tokenizer = AutoTokenizer.from_pretrained(name)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(name, **_load_kwargs(device)).to(device)
    return model.eval(), tokenizer


def load_classifier(name: str, device: torch.device | None = None):
    """A sequence classifier and its tokenizer, in fp32 (scores are compared closely)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    device = device or select_device()
    tokenizer = AutoTokenizer.from_pretrained(name)
    model = AutoModelForSequenceClassification.from_pretrained(name, use_safetensors=True)
    return model.to(device).eval(), tokenizer


def size_on_disk(path: str | Path) -> int:
    """Bytes of all files under ``path`` (a saved model or adapter folder)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def format_bytes(size: float) -> str:
    """``1536`` → ``'1.5 KB'``; decimal units, as file browsers show them."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TrainingFootprint:
    """Bytes a training run must hold besides activations (Lab 2, section 8).

    With AdamW every trainable parameter needs its weight, a gradient and two moment
    estimates; frozen parameters need only their weight.
    """

    weights: int  # all parameters, trainable or frozen
    trainable_weights: int  # the trainable part of ``weights``
    gradients: int  # one per trainable parameter
    optimizer_state: int  # AdamW: two per trainable parameter

    @property
    def trainable_total(self) -> int:
        """Trainable weights, their gradients and optimizer state: what LoRA shrinks."""
        return self.trainable_weights + self.gradients + self.optimizer_state

    @property
    def total(self) -> int:
        """Everything: all weights plus gradients and optimizer state."""
        return self.weights + self.gradients + self.optimizer_state


def training_footprint(model: torch.nn.Module, optimizer_states: int = 2) -> TrainingFootprint:
    """Weights, gradients and AdamW state in bytes (``optimizer_states`` per trainable value).

    Gradients and optimizer state take the parameter's own dtype (fp32 here; mixed
    precision keeps fp32 master weights). Shared weights are counted once.
    """
    weights = trainable = 0
    for parameter in model.parameters():
        size = parameter.numel() * parameter.element_size()
        weights += size
        if parameter.requires_grad:
            trainable += size
    return TrainingFootprint(weights=weights, trainable_weights=trainable, gradients=trainable,
                             optimizer_state=optimizer_states * trainable)
