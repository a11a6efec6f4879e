"""This runtime's facts (labs_common.runtime): bf16, the GPU read through a faked torch.cuda,
RAM under a container's limit."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from labs_common import runtime as runtime_module
from labs_common.runtime import GIB, Runtime, gather_runtime


@pytest.fixture(autouse=True)
def build(monkeypatch, tmp_path):
    """Each test with a build folder of its own and no LABS_AS_T4 from outside."""
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("LABS_AS_T4", raising=False)
    return tmp_path


@pytest.mark.parametrize(("capability", "as_t4", "real"), [
    ((7, 5), False, False),  # T4: torch.cuda.is_bf16_supported() says True, by emulation
    ((8, 0), False, True),  # A100
    ((9, 0), True, False),  # H100 run as a T4
    (None, False, False),
])
def test_real_bf16_needs_capability_8(capability, as_t4, real):
    runtime = Runtime(in_colab=False, device="cuda" if capability else "cpu",
                      compute_capability=capability, as_t4=as_t4)
    assert runtime.real_bf16 is real


def test_gather_runtime_on_this_cpu(build):
    runtime = gather_runtime()
    if runtime.has_gpu:
        pytest.skip("this machine has a GPU")
    assert runtime.device == "cpu" and runtime.gpu_name is None and not runtime.in_colab
    assert runtime.ram_bytes > GIB and runtime.free_disk_bytes > 0
    assert not runtime.real_bf16


def fake_cuda(monkeypatch, total, free):
    import torch

    properties = SimpleNamespace(name="NVIDIA H200", total_memory=total, major=9, minor=0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: properties)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index: (free, total))


def test_gather_runtime_reads_the_gpu(monkeypatch, build):
    fake_cuda(monkeypatch, total=140 * GIB, free=139 * GIB)
    monkeypatch.setitem(__import__("sys").modules, "google.colab", SimpleNamespace())
    runtime = gather_runtime(build / "not" / "yet")
    assert runtime.in_colab and runtime.has_gpu and runtime.gpu_name == "NVIDIA H200"
    assert runtime.gpu_memory_bytes == 140 * GIB and runtime.gpu_free_bytes == 139 * GIB
    assert runtime.compute_capability == (9, 0) and runtime.real_bf16
    assert runtime.free_disk_bytes > 0  # of the nearest folder that exists


def test_gather_runtime_as_a_t4_takes_its_memory_and_precision(monkeypatch):
    fake_cuda(monkeypatch, total=140 * GIB, free=139 * GIB)
    monkeypatch.setenv("LABS_AS_T4", "1")
    runtime = gather_runtime()
    assert runtime.as_t4 and not runtime.real_bf16
    assert runtime.gpu_memory_bytes == runtime.gpu_free_bytes == 15 * GIB


def test_ram_is_the_containers_limit_when_lower(monkeypatch):
    real_read = Path.read_text

    def read(path, *args, **kwargs):
        if str(path) == "/sys/fs/cgroup/memory.max":
            return "2147483648\n"
        if str(path) == "/sys/fs/cgroup/memory/memory.limit_in_bytes":
            raise OSError
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read)
    assert runtime_module._ram_bytes() == 2 * GIB
