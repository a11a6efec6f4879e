"""Loading the labs' models, counting their parameters and measuring them on disk.

Models load with ``from_pretrained`` from a Hub id at its pinned commit or from a folder
(the tiny world, or the full profile's local Hub folder; :func:`labs_common.hub.resolve`),
in the dtype the precision rules choose, always as safetensors and never with remote code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from labs_common.device import model_dtype, select_device
from labs_common.hub import Source, resolve


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


class UnsafeWeightsError(RuntimeError):
    """A model repository without safetensors weights, which the labs refuse to load."""


SAFE_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def has_safetensors(source: Source) -> bool:
    """Whether ``source`` ships safetensors weights, checked before anything is downloaded."""
    if source.on_disk:
        return any((Path(source.path) / name).is_file() for name in SAFE_WEIGHT_FILES)
    from huggingface_hub import list_repo_files

    files = list_repo_files(source.path, revision=source.revision)
    return any(name in files for name in SAFE_WEIGHT_FILES)


def require_safetensors(source: Source) -> None:
    """Stop, with what to do, if ``source`` has only pickled weights.

    Pickled ``pytorch_model.bin`` files can run code when loaded. And asked for safetensors
    that a Hub repository lacks, transformers would ask the Hub's conversion service for
    them, which opens a pull request on the owner's repository.
    """
    if not has_safetensors(source):
        raise UnsafeWeightsError(
            f"{source.name} has no safetensors weights (only pickled pytorch_model.bin files, "
            "which can run code when loaded), so the labs will not load it. Choose a model "
            "that ships model.safetensors, or a revision of it that does."
        )


def _pretrained(auto_class, name: str, **kwargs):
    """``auto_class.from_pretrained`` on where ``name`` resolves, safetensors only."""
    source = resolve(name)
    require_safetensors(source)
    return auto_class.from_pretrained(source.path, revision=source.revision,
                                      use_safetensors=True, **kwargs)


def load_tokenizer(name: str):
    """The tokenizer of a Hub id or a folder, from where the profile resolves it."""
    from transformers import AutoTokenizer

    source = resolve(name)
    return AutoTokenizer.from_pretrained(source.path, revision=source.revision)


def load_seq2seq(name: str, device: torch.device | None = None, trainable: bool = False):
    """A sequence-to-sequence model and its tokenizer, in eval mode on ``device``.

    ``trainable=True`` for a model whose own weights will be trained (full fine-tuning, or
    copies made for it): those load in fp32 whatever the GPU (:func:`model_dtype`).
    """
    from transformers import AutoModelForSeq2SeqLM

    device = device or select_device()
    tokenizer = load_tokenizer(name)
    model = _pretrained(AutoModelForSeq2SeqLM, name, dtype=model_dtype(device, trainable))
    return model.to(device).eval(), tokenizer


def load_causal(name: str, device: torch.device | None = None, trainable: bool = False):
    """A decoder-only model and its tokenizer (left padding, a pad token), in eval mode."""
    from transformers import AutoModelForCausalLM

    device = device or select_device()
    tokenizer = load_tokenizer(name)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = _pretrained(AutoModelForCausalLM, name, dtype=model_dtype(device, trainable))
    return model.to(device).eval(), tokenizer


def load_classifier(name: str, device: torch.device | None = None):
    """A sequence classifier and its tokenizer, in fp32 (scores are compared closely)."""
    from transformers import AutoModelForSequenceClassification

    device = device or select_device()
    tokenizer = load_tokenizer(name)
    model = _pretrained(AutoModelForSequenceClassification, name)
    return model.to(device).eval(), tokenizer


def offload(*models: torch.nn.Module) -> None:
    """Move finished models to the CPU and return their GPU memory before the next run.

    Lab 2 trains four models one after another; on a 15 GiB T4 the last run only fits if
    the earlier ones no longer sit on the GPU. An offloaded model still works, on the CPU.
    """
    for model in models:
        model.to("cpu")
    if torch.cuda.is_available():
        import gc

        gc.collect()
        torch.cuda.empty_cache()


def gpu_memory_in_use() -> str | None:
    """``"3.1 GiB of 15.0 GiB in use"`` on a GPU; None on a CPU, which has no such counter."""
    if not torch.cuda.is_available():
        return None
    used = torch.cuda.memory_allocated() / 2**30
    total = torch.cuda.get_device_properties(0).total_memory / 2**30
    return f"GPU memory in use: {used:.1f} GiB of {total:.1f} GiB"


def report_gpu_memory(label: str) -> None:
    """Print :func:`gpu_memory_in_use` with ``label`` on a GPU; print nothing on a CPU."""
    line = gpu_memory_in_use()
    if line is not None:
        print(f"[{label}] {line}")


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
