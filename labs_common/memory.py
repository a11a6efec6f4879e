"""How much GPU memory training needs for its weights, gradients and optimizer: an estimate.

Training memory has four parts. Three are fixed by the parameter counts and dtypes and
computed here: the **weights**, the **gradients** of the trained ones, and AdamW's two
moments for each trained weight (**optimizer** states, fp32). The fourth, the
**activations** kept for the backward pass, depends on the batch, the sequence lengths
and checkpointing, and is not included: the figures here are a floor, not a forecast.

Sharding divides parts among the GPUs (``gpus``):

* ``"none"``: data parallel (DDP), everything on every GPU;
* ``"optimizer"``: DeepSpeed ZeRO-1, the optimizer states split;
* ``"gradients"``: ZeRO-2 (and FSDP without resharding after forward), states and
  gradients split;
* ``"weights"``: ZeRO-3 and FSDP's full sharding, all three split (a layer's weights
  are gathered whole while it computes, which adds that layer's size on top).

The labs' precision rules set the dtypes: trained weights in fp32 (4 bytes) whatever the
GPU, frozen ones in bf16 (2) on GPUs with real bf16 arithmetic, in 4-bit NF4 (about 0.5)
for QLoRA. README, "Scaling up", tabulates the results for FLAN-T5-large and -XL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Sharding = Literal["none", "optimizer", "gradients", "weights"]
GIB = 1024**3
ADAMW_STATE_BYTES = 8  # two fp32 moments per trained weight
# Parameter counts (safetensors headers of the Hub repositories); LoRA as Lab 2 sets it.
FLAN_T5 = {
    # name: (parameters, d_model, attention inner width, layers per stack)
    "google/flan-t5-base": (247_577_856, 768, 768, 12),
    "google/flan-t5-large": (783_150_080, 1024, 1024, 24),
    "google/flan-t5-xl": (2_849_757_184, 2048, 2048, 24),
}


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per GPU for the weights, the gradients and the optimizer states."""

    weights: float
    gradients: float
    optimizer: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer

    def gib(self) -> dict[str, float]:
        """Each part and the total in GiB, rounded to 0.1."""
        parts = {"weights": self.weights, "gradients": self.gradients,
                 "optimizer": self.optimizer, "total": self.total}
        return {name: round(value / GIB, 1) for name, value in parts.items()}


def training_memory(
    parameters: int,
    trainable: int | None = None,
    *,
    frozen_bytes: float = 4,
    trainable_bytes: float = 4,
    gradient_bytes: float = 4,
    optimizer_bytes: float = ADAMW_STATE_BYTES,
    gpus: int = 1,
    sharding: Sharding = "none",
) -> TrainingMemory:
    """Weights, gradients and AdamW states per GPU, in bytes (activations not included).

    ``parameters`` counts every weight, ``trainable`` those that train (default: all,
    full fine-tuning); the others are frozen and held in ``frozen_bytes`` each.
    """
    trainable = parameters if trainable is None else trainable
    if not 0 <= trainable <= parameters or gpus < 1:
        raise ValueError("Need 0 <= trainable <= parameters and at least one GPU.")
    if sharding not in ("none", "optimizer", "gradients", "weights"):
        raise ValueError(f"Unknown sharding {sharding!r}.")
    weights = (parameters - trainable) * frozen_bytes + trainable * trainable_bytes
    gradients = trainable * gradient_bytes
    optimizer = trainable * optimizer_bytes
    split = {"none": 0, "optimizer": 1, "gradients": 2, "weights": 3}[sharding]
    return TrainingMemory(
        weights=weights / gpus if split >= 3 else weights,
        gradients=gradients / gpus if split >= 2 else gradients,
        optimizer=optimizer / gpus if split >= 1 else optimizer,
    )


def t5_lora_parameters(d_model: int, inner: int, layers: int, r: int = 32,
                       targets: int = 2) -> int:
    """Weights of a LoRA adapter of rank ``r`` on ``targets`` attention projections of T5.

    Each adapted projection (``d_model`` to ``inner`` for q and v) gets ``A`` (r x d_model)
    and ``B`` (inner x r). T5 has self-attention in each of its ``layers`` encoder and
    decoder blocks and cross-attention in each decoder block: 3 x ``layers`` attentions.
    """
    return 3 * layers * targets * r * (d_model + inner)


def scaling_rows(name: str) -> list[tuple[str, TrainingMemory]]:
    """The estimates README's "Scaling up" shows for one FLAN-T5, per way of training."""
    parameters, d_model, inner, layers = FLAN_T5[name]
    adapter = t5_lora_parameters(d_model, inner, layers)
    with_adapter = parameters + adapter
    return [
        ("full, 1 GPU (DDP: the same on each)", training_memory(parameters)),
        ("full, ZeRO-2, 4 GPUs", training_memory(parameters, gpus=4, sharding="gradients")),
        ("full, FSDP / ZeRO-3, 4 GPUs", training_memory(parameters, gpus=4, sharding="weights")),
        ("full, FSDP / ZeRO-3, 8 GPUs", training_memory(parameters, gpus=8, sharding="weights")),
        ("LoRA, fp32 base (T4, CPU)", training_memory(with_adapter, adapter)),
        ("LoRA, bf16 base (A100, L4, H100)", training_memory(with_adapter, adapter,
                                                            frozen_bytes=2)),
        ("QLoRA, NF4 base", training_memory(with_adapter, adapter, frozen_bytes=0.5)),
    ]


if __name__ == "__main__":  # python -m labs_common.memory: the table of README's "Scaling up"
    print("| model | training | weights | gradients | AdamW | total (GiB per GPU) |")
    print("|---|---|---:|---:|---:|---:|")
    for model in ("google/flan-t5-large", "google/flan-t5-xl"):
        for way, memory in scaling_rows(model):
            gib = memory.gib()
            print(f"| {model.split('/')[1]} | {way} | {gib['weights']} | {gib['gradients']} | "
                  f"{gib['optimizer']} | {gib['total']} |")
