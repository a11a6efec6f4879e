"""QLoRA: Lab 2's LoRA adapter trained on a base model held in 4 bits (NF4), on one GPU.

QLoRA (Dettmers et al., 2023) stores the frozen base weights as 4-bit NormalFloat
numbers, about half a byte per weight instead of two (bf16) or four (fp32), and
dequantizes each layer's weights on the fly when it computes. The adapter itself trains
in full precision, exactly as in Lab 2: same rank, same targets, same optimizer. What
changes is the memory the base takes, and a little time for the dequantizing.

bitsandbytes' 4-bit kernels need a CUDA GPU, so everything here says plainly why it
cannot run elsewhere (:func:`qlora_unavailable_reason`) instead of failing deep inside
the loader. bitsandbytes is no dependency of the labs: ``pip install "llm-labs[qlora]"``
adds it, and the Colab set-up does so on a GPU runtime.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence

import torch

from labs_common.lora import DEFAULT_TARGETS, lora_config


class QLoRAUnavailable(RuntimeError):
    """QLoRA cannot run here; the message says why."""


def qlora_unavailable_reason() -> str | None:
    """Why 4-bit QLoRA cannot run on this machine, or None if it can."""
    if not torch.cuda.is_available():
        return ("QLoRA needs a CUDA GPU: bitsandbytes' 4-bit (NF4) kernels run only there, "
                "and this machine has none.")
    if importlib.util.find_spec("bitsandbytes") is None:
        return ('bitsandbytes is not installed: pip install "llm-labs[qlora]" (Colab\'s '
                "set-up installs it on a GPU runtime).")
    return None


def compute_dtype(device: torch.device | str = "cuda") -> torch.dtype:
    """The dtype the 4-bit layers compute in: bf16 where the GPU has it, else fp32.

    Never fp16, which FLAN-T5 overflows in (see the precision rules of labs_common.device).
    """
    from labs_common.device import training_precision

    return torch.bfloat16 if training_precision(torch.device(device))["bf16"] else torch.float32


def nf4_config(dtype: torch.dtype = torch.bfloat16):
    """The ``BitsAndBytesConfig`` of QLoRA: NF4 weights, double quantization, ``dtype`` compute."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",  # 4-bit NormalFloat: levels placed for normal weights
        bnb_4bit_use_double_quant=True,  # quantize the per-block scales too (~0.4 bit/weight)
        bnb_4bit_compute_dtype=dtype,
    )


def load_qlora_model(
    name: str,
    r: int = 32,
    alpha: int = 32,
    dropout: float = 0.05,
    targets: Sequence[str] = DEFAULT_TARGETS,
    *,
    gradient_checkpointing: bool = False,
):
    """The summarizer ``name`` loaded in 4-bit NF4 on the GPU, with a fresh LoRA adapter.

    The adapter is the one Lab 2 trains (:func:`labs_common.lora.lora_config`), so the
    result trains with :func:`labs_common.training.train_seq2seq` like any LoRA model.
    ``prepare_model_for_kbit_training`` keeps the layer norms and the output layer in
    fp32 and lets gradients flow from the inputs (needed with gradient checkpointing).
    Raises :class:`QLoRAUnavailable` on a machine without CUDA or bitsandbytes.
    """
    reason = qlora_unavailable_reason()
    if reason is not None:
        raise QLoRAUnavailable(reason)
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForSeq2SeqLM

    from labs_common.models import _pretrained

    dtype = compute_dtype("cuda")
    model = _pretrained(AutoModelForSeq2SeqLM, name, quantization_config=nf4_config(dtype),
                        dtype=dtype, device_map={"": torch.cuda.current_device()})
    model = prepare_model_for_kbit_training(model,
                                            use_gradient_checkpointing=gradient_checkpointing)
    with warnings.catch_warnings():  # transformers' deprecation, triggered inside peft
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        return get_peft_model(model, lora_config(r, alpha, dropout, targets))
