"""The training-memory estimate against arithmetic done by hand."""

from __future__ import annotations

import pytest

from labs_common.memory import FLAN_T5, GIB, t5_lora_parameters, training_memory


def test_full_fine_tuning_costs_16_bytes_per_weight_on_one_gpu():
    memory = training_memory(1_000_000_000)
    # fp32 weights 4 + fp32 gradients 4 + AdamW's two fp32 moments 8 bytes
    assert (memory.weights, memory.gradients, memory.optimizer) == (4e9, 4e9, 8e9)
    assert memory.total == 16e9


@pytest.mark.parametrize(("sharding", "per_gpu"), [
    ("none", 4e9 + 4e9 + 8e9),
    ("optimizer", 4e9 + 4e9 + 8e9 / 4),  # ZeRO-1
    ("gradients", 4e9 + 4e9 / 4 + 8e9 / 4),  # ZeRO-2
    ("weights", 16e9 / 4),  # ZeRO-3, FSDP full sharding
])
def test_sharding_over_four_gpus(sharding, per_gpu):
    assert training_memory(1_000_000_000, gpus=4, sharding=sharding).total == per_gpu


def test_lora_on_a_bf16_base_and_qlora_on_a_4_bit_one():
    lora = training_memory(1_000_000_000, 10_000_000, frozen_bytes=2)
    # 990 M frozen x 2 bytes + 10 M trained x (4 weight + 4 gradient + 8 AdamW)
    assert lora.total == 990e6 * 2 + 10e6 * 16
    qlora = training_memory(1_000_000_000, 10_000_000, frozen_bytes=0.5)
    assert qlora.weights == 990e6 * 0.5 + 10e6 * 4


def test_gib_rounds_each_part():
    assert training_memory(GIB // 16).gib() == {"weights": 0.2, "gradients": 0.2,
                                                "optimizer": 0.5, "total": 1.0}


def test_lora_count_is_the_courses_for_flan_t5_base():
    parameters, d_model, inner, layers = FLAN_T5["google/flan-t5-base"]
    # the course: 3,538,944 of 251,116,800 weights trainable with r=32 on q and v
    assert t5_lora_parameters(d_model, inner, layers) == 3_538_944
    assert parameters + 3_538_944 == 251_116_800


def test_nonsense_is_refused():
    with pytest.raises(ValueError, match="trainable <= parameters"):
        training_memory(10, 20)
    with pytest.raises(ValueError, match="Unknown sharding"):
        training_memory(10, sharding="zero-4")
