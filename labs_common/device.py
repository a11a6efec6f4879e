"""Which device the labs run on, and in which precision.

* :func:`select_device`: CUDA when there is a GPU, otherwise the CPU.
* :func:`supports_bf16`: real bf16 arithmetic, on GPUs of compute capability 8 or more
  (A100, L4, H100); a Colab T4 (7.5) only emulates it, and a CPU runs in fp32.
* :func:`model_dtype` and :func:`training_precision`: fp32 weights for a model that trains
  (with bf16 autocast where the GPU has it), bf16 weights allowed for a frozen one; never
  fp16, in which T5 overflows.
* :func:`as_t4` and :func:`emulate_t4`: run on a bigger GPU as on a Colab T4
  (``LABS_AS_T4=1``: fp32, TF32 off, 15 GiB of memory).
* :func:`padding_multiple`: round padded lengths up on a GPU, where each new shape costs time.
* :func:`cpu_threads` and :func:`set_cpu_threads`: how many threads torch's CPU kernels use.
"""

from __future__ import annotations

import os

import torch

# Set (to 1) on a bigger GPU to run as on a Colab T4: fp32, TF32 off, 15 GiB of memory.
T4_VARIABLE = "LABS_AS_T4"
T4_MEMORY_BYTES = 15 * 2**30


def cpu_threads(profile_name: str, environ: dict | None = None) -> int | None:
    """The thread count for torch's CPU kernels, or None to keep torch's own choice.

    ``OMP_NUM_THREADS``, when set, decides (torch reads it too): it is the way to ask for
    more threads on an idle machine. Otherwise the tiny profile takes one
    thread: its matrices are so small that a second thread saves little, and when another
    process shares the cores (a notebook server, a second lab, CI) the threads of one
    operation wait for each other at every barrier, which made Lab 2 ten times slower on a
    busy 2-core machine. The full profile keeps torch's default (one per core).
    """
    environ = os.environ if environ is None else environ
    value = environ.get("OMP_NUM_THREADS", "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise ValueError(f"OMP_NUM_THREADS={value!r} is not a whole number.") from None
        if threads < 1:
            raise ValueError(f"OMP_NUM_THREADS={value!r}: give at least 1 thread.")
        return threads
    return 1 if profile_name == "tiny" else None


def set_cpu_threads(profile_name: str) -> int:
    """Apply :func:`cpu_threads` to torch and return the count torch now uses."""
    threads = cpu_threads(profile_name)
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


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
