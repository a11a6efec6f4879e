"""Device and precision: fp32 on CPUs and T4s, bf16 only where a GPU computes in it, never fp16."""

import pytest
import torch

from labs_common import device


def test_precision_rules_never_use_fp16_and_cpu_is_fp32():
    assert device.model_dtype("cpu") == torch.float32
    assert device.training_precision("cpu") == {"bf16": False, "fp16": False}


def fake_gpu(monkeypatch, capability, emulated_bf16=True):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: emulated_bf16)


def test_a_t4_runs_in_fp32_although_torch_calls_its_emulated_bf16_supported(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), emulated_bf16=True)  # what torch says on a T4
    assert device.model_dtype("cuda") == torch.float32
    assert device.training_precision("cuda") == {"bf16": False, "fp16": False}


def test_ampere_or_newer_uses_bf16_for_frozen_models_and_autocast(monkeypatch):
    fake_gpu(monkeypatch, (8, 0))  # an A100
    assert device.model_dtype("cuda") == torch.bfloat16
    assert device.training_precision("cuda") == {"bf16": True, "fp16": False}
    fake_gpu(monkeypatch, (9, 0))  # an H100
    assert device.model_dtype("cuda") == torch.bfloat16


def test_a_model_that_trains_keeps_fp32_weights_even_on_a_bf16_gpu(monkeypatch):
    fake_gpu(monkeypatch, (8, 0))
    assert device.model_dtype("cuda", trainable=True) == torch.float32


def test_as_t4_a_bigger_gpu_runs_in_fp32_within_15_gib(monkeypatch):
    import types

    fake_gpu(monkeypatch, (9, 0))
    monkeypatch.setenv("LABS_AS_T4", "1")
    assert device.model_dtype("cuda") == torch.float32
    assert device.training_precision("cuda") == {"bf16": False, "fp16": False}
    fractions = []
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: types.SimpleNamespace(total_memory=140 * 2**30))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda fraction: fractions.append(fraction))
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        device.emulate_t4()
        assert torch.backends.cuda.matmul.allow_tf32 is False
        assert torch.backends.cudnn.allow_tf32 is False
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert fractions == [pytest.approx(15 / 140)]


def test_padding_multiple_only_on_a_gpu():
    assert device.padding_multiple("cpu") is None
    assert device.padding_multiple("cuda") == 64
    assert device.padding_multiple(torch.device("cuda", 1)) == 64


def test_the_device_is_the_gpu_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.select_device() == torch.device("cpu")
    assert not device.supports_bf16("cuda")  # no GPU, whatever the name says
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.select_device() == torch.device("cuda")
    assert not device.supports_bf16("cpu")


def test_tiny_takes_one_cpu_thread_and_full_keeps_torchs_choice():
    assert device.cpu_threads("tiny", environ={}) == 1
    assert device.cpu_threads("full", environ={}) is None
    assert device.cpu_threads("tiny", environ={"OMP_NUM_THREADS": ""}) == 1  # set but empty


def test_omp_num_threads_decides_on_every_profile():
    assert device.cpu_threads("tiny", environ={"OMP_NUM_THREADS": "4"}) == 4
    assert device.cpu_threads("full", environ={"OMP_NUM_THREADS": " 2 "}) == 2


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_thread_count_that_is_not_a_positive_whole_number_is_refused(value):
    with pytest.raises(ValueError, match="OMP_NUM_THREADS"):
        device.cpu_threads("tiny", environ={"OMP_NUM_THREADS": value})


def test_set_cpu_threads_applies_the_choice(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        assert device.set_cpu_threads("tiny") == 1 == torch.get_num_threads()
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert device.set_cpu_threads("tiny") == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
