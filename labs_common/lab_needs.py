"""What each lab needs of a runtime, per profile: the table :mod:`labs_common.preflight` checks.

* :data:`NEEDS`: peak GPU memory, minutes, RAM and disk for each lab on each profile, each
  figure marked as measured (copied from ``benchmarks/README.md``) or as an estimate, with
  where it comes from (:class:`Figure`);
* :data:`MEMORY_SETTINGS`: the settings that size each lab's batches on the GPU, the ones
  to lower when a GPU is too small;
* :data:`GPU_HEADROOM_GIB`, what CUDA takes beyond the measured peaks, and
  :data:`REFERENCE_HARDWARE`, where each profile's minutes are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LABS = ("lab1", "lab2", "lab3", "lab4")
# The peaks below are torch's max_memory_allocated, which leaves out CUDA's own context
# (about 0.3-0.5 GiB) and the caching allocator's slack: a GPU needs this much more. An
# estimate.
GPU_HEADROOM_GIB = 1.0
# Where each profile's minutes are counted.
REFERENCE_HARDWARE = {"full": "a Colab T4", "tiny": "a laptop CPU"}


@dataclass(frozen=True)
class Figure:
    """One figure a lab needs (GiB or minutes), measured or estimated, and its source."""

    value: float
    measured: bool
    source: str

    @property
    def kind(self) -> str:
        return "measured" if self.measured else "estimate"


@dataclass(frozen=True)
class Needs:
    """What one lab needs on one profile."""

    gpu_memory_gib: Figure  # peak GPU memory, in fp32 as on a T4 (bf16 GPUs need less)
    minutes: Figure  # on the profile's REFERENCE_HARDWARE
    ram_gib: Figure  # on the host, with a GPU (without one, the GPU's share comes on top)
    disk_gib: Figure  # Hub downloads and what the lab writes


def _measured(value: float, source: str) -> Figure:
    return Figure(value, True, source)


def _estimate(value: float, source: str) -> Figure:
    return Figure(value, False, source)


_BENCH = "benchmarks/README.md"
_FULL_RAM = "the lab's models in fp32 on the host, plus ~3 GiB for Python, torch and CUDA"
# Downloads: safetensors sizes from parameter counts, 4 bytes a weight (SmolLM2 ships bf16):
# flan-t5-base 1.0 GB, roberta hate-speech 0.5 GB, xlmr-large judge 2.2 GB, SmolLM2 0.3 GB.
_JUDGES = "flan-t5-base 1 GB, both judges 2.7 GB"
# Tiny: seconds of each lab in the `ci` variant of labs_tools/robustness.py (one thread, AVX2
# kernels) on a 2-core AMD EPYC, 2026-12-03, rounded up to whole minutes.
_TINY_SECONDS = {"lab1": 22, "lab2": 129, "lab3": 161, "lab4": 121}

# What each lab needs, per profile. Measured figures are copied from benchmarks/README.md
# (tests/test_lab_needs.py checks that they appear there); the rest are estimates until
# `make rehearse-gpu` measures each lab in the T4 regime. Lab 3 (PPO) peaks in Lab 2's LoRA
# when it trains Lab 2's adapter itself; Lab 4 (GRPO and DPO) has estimates only: DPO's peak
# is counted from activations, GRPO's is not measured.
NEEDS: dict[str, dict[str, Needs]] = {
    "full": {
        "lab1": Needs(
            gpu_memory_gib=_estimate(1.5, "flan-t5-base's fp32 weights (0.9 GiB) and "
                                          "generation at batch 16; not measured"),
            minutes=_estimate(10, "not measured on a T4; generation at 18.9 examples/s on "
                                  f"an H100 in bf16 ({_BENCH})"),
            ram_gib=_estimate(4, _FULL_RAM),
            disk_gib=_estimate(1, "Hub downloads: flan-t5-base 1 GB and the data"),
        ),
        "lab2": Needs(
            gpu_memory_gib=_measured(10.67, "full fine-tuning, batch 8, fp32 as on a T4 "
                                            f"(fit_t4.py, {_BENCH})"),
            minutes=_estimate(30, "the lab's own budget on a T4 (section 4)"),
            ram_gib=_estimate(7, "four trained flan-t5-base copies kept on the host in fp32, "
                                  "plus ~3 GiB for Python, torch and CUDA"),
            disk_gib=_estimate(2, "flan-t5-base 1 GB, and the fine-tuned copy it saves"),
        ),
        "lab3": Needs(
            gpu_memory_gib=_measured(8.25, "Lab 2's LoRA r=32, batch 8, fp32 as on a T4, "
                                           "which Lab 3 runs when it trains Lab 2's adapter "
                                           f"itself (fit_t4.py, {_BENCH}); with the adapter, "
                                           "PPO's step measured 1.43 GiB (with a stand-in "
                                           "reward, the classifiers not counted)"),
            minutes=_estimate(25, "PPO's main run and a second seed (20 steps each, a few "
                                  "minutes each), the scan for toxic prompts and the scoring "
                                  "before and after, on a T4; never run there; a few more "
                                  "if it trains Lab 2's adapter itself"),
            ram_gib=_estimate(6, _FULL_RAM),
            disk_gib=_estimate(4, f"Hub downloads: {_JUDGES}"),
        ),
        "lab4": Needs(
            gpu_memory_gib=_estimate(9.1, "DPO's step at 8 pairs, counted from activations "
                                          f"({_BENCH}); GRPO not measured"),
            minutes=_estimate(20, "GRPO (40 steps) and DPO (2 epochs) on a T4; never run"),
            ram_gib=_estimate(6, _FULL_RAM),
            disk_gib=_estimate(4, f"Hub downloads: {_JUDGES}, SmolLM2 0.3 GB"),
        ),
    },
    "tiny": {
        lab: Needs(
            gpu_memory_gib=_estimate(0.5, "models of about 1 M parameters"),
            minutes=_estimate(math.ceil(seconds / 60),
                              f"{seconds} s on one thread of a 2-core AMD EPYC, rounded up; "
                              "about 7 min for the four labs (labs_tools/robustness.py, "
                              "its ci variant)"),
            ram_gib=_estimate(2, "Python, torch and transformers with 1 M-parameter models"),
            disk_gib=_estimate(0.1, "nothing downloads; small models and adapters written"),
        )
        for lab, seconds in _TINY_SECONDS.items()
    },
}

# The settings that size each lab's batches on the GPU, as ``settings_overrides`` names
# them: (profile section, setting, what it sizes). Lab 4's DPO and GRPO sizes are
# Lab3Settings fields until they get settings of their own.
MEMORY_SETTINGS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "lab1": (("lab1", "batch_size", "prompts generated at once"),),
    "lab2": (("lab2", "batch_size", "training batch"),
             ("lab2", "generation_batch_size", "summaries generated at once")),
    "lab3": (("lab3", "ppo_mini_batch_size", "prompts per PPO gradient step"),
             ("lab3", "generation_batch_size", "summaries generated at once"),
             ("lab2", "batch_size", "Lab 2's training batch, if Lab 3 trains its adapter")),
    "lab4": (("lab3", "dpo_batch_size", "preference pairs per DPO step"),
             ("lab3", "grpo_batch_size", "prompts per GRPO step"),
             ("lab3", "ppo_mini_batch_size",
              "prompts per PPO gradient step, if Lab 4 runs Lab 3's PPO run itself")),
}
