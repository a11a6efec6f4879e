"""This runtime's facts, as the preflight (:mod:`labs_common.preflight`) weighs them.

:func:`gather_runtime` reads them into a :class:`Runtime`: Colab or not, the GPU's name and
memory (a T4's when run as one, ``LABS_AS_T4``), whether it has real bf16 arithmetic, RAM
(the container's limit where that is lower) and free disk, for the build folder and for the
Hub cache. Nothing downloads. Tests build their own :class:`Runtime` instead.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from labs_common.device import T4_MEMORY_BYTES, as_t4
from labs_common.paths import build_dir

GIB = 2**30


@dataclass(frozen=True)
class Runtime:
    """What this runtime offers the labs; :func:`gather_runtime` reads it, tests make their own."""

    in_colab: bool
    device: str  # "cuda" or "cpu": the device the labs pick (device.select_device)
    gpu_name: str | None = None
    gpu_memory_bytes: int | None = None  # usable: the GPU's total, a T4's 15 GiB as a T4
    compute_capability: tuple[int, int] | None = None
    ram_bytes: int | None = None  # physical memory, or the container's limit if lower
    free_disk_bytes: int | None = None  # on the disk of the build folder
    hub_cache_free_bytes: int | None = None  # on the disk Hub downloads go to
    gpu_free_bytes: int | None = None  # GPU memory no other process holds
    as_t4: bool = False  # LABS_AS_T4: a bigger GPU run with a T4's limits

    @property
    def has_gpu(self) -> bool:
        return self.device == "cuda"

    @property
    def real_bf16(self) -> bool:
        """bf16 arithmetic in hardware: compute capability 8 or more, and not run as a T4.

        ``torch.cuda.is_bf16_supported()`` says True on a T4 (7.5), which only emulates it.
        """
        return (self.has_gpu and not self.as_t4 and self.compute_capability is not None
                and self.compute_capability >= (8, 0))


def gather_runtime(build_folder: Path | None = None) -> Runtime:
    """Read this runtime's facts: Colab, GPU, bf16, RAM, free disk (nothing downloads)."""
    import torch

    from labs_common.colab import in_colab

    gpu = torch.cuda.is_available()
    name = memory = capability = free = None
    if gpu:
        properties = torch.cuda.get_device_properties(0)
        name, memory = properties.name, int(properties.total_memory)
        capability = (int(properties.major), int(properties.minor))
        free = int(torch.cuda.mem_get_info(0)[0])
        if as_t4():
            memory = min(memory, T4_MEMORY_BYTES)
            free = min(free, memory)
    return Runtime(
        in_colab=in_colab(),
        device="cuda" if gpu else "cpu",
        gpu_name=name,
        gpu_memory_bytes=memory,
        compute_capability=capability,
        ram_bytes=_ram_bytes(),
        free_disk_bytes=_free_bytes(build_folder or build_dir()),
        hub_cache_free_bytes=_free_bytes(_hub_cache()),
        gpu_free_bytes=free,
        as_t4=gpu and as_t4(),
    )


def _ram_bytes() -> int | None:
    """Physical memory, or the container's memory limit (cgroup) where that is lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def _free_bytes(folder: Path | str) -> int | None:
    """Free bytes on the disk that holds ``folder`` (or its nearest existing parent)."""
    path = Path(folder).expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _hub_cache() -> Path:
    """Where the Hugging Face libraries download to."""
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except (ImportError, AttributeError):
        home = os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")
        return Path(home) / "hub"
