"""QLoRA's loader: a clear reason where it cannot run, and the NF4 settings it loads with.

The 4-bit path itself needs CUDA and bitsandbytes; on a CPU these tests check that it
stops before loading anything, and says why."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest
import torch

from labs_common import colab, quantization
from labs_common.quantization import QLoRAUnavailable, load_qlora_model, qlora_unavailable_reason

ROOT = Path(__file__).resolve().parents[1]


def test_without_cuda_it_says_why_and_loads_nothing(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(quantization, "lora_config",
                        lambda *a: pytest.fail("must stop before building anything"))
    assert "needs a CUDA GPU" in qlora_unavailable_reason()
    with pytest.raises(QLoRAUnavailable, match="needs a CUDA GPU"):
        load_qlora_model("google/flan-t5-base")


def test_with_cuda_but_no_bitsandbytes_it_names_the_install(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    assert 'pip install "llm-labs[qlora]"' in qlora_unavailable_reason()


def test_nf4_with_double_quantization_and_no_fp16():
    config = quantization.nf4_config(torch.bfloat16)
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    assert quantization.compute_dtype("cpu") == torch.float32


def test_bitsandbytes_is_an_extra_installed_only_on_gpu_runtimes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("bitsandbytes") for d in project["dependencies"])
    assert any(d.startswith("bitsandbytes") for d in project["optional-dependencies"]["qlora"])
    assert colab.install_command(Path("/content/llm-labs"), gpu=True)[-1] == (
        "/content/llm-labs[qlora]")
    assert colab.install_command(Path("/content/llm-labs"))[-1] == "/content/llm-labs"
