import pytest

from labs_common import models


def test_parameter_count_counts_tied_weights_once(tiny_t5):
    count = models.count_parameters(tiny_t5)
    unique = {id(p): p.numel() for p in tiny_t5.parameters()}
    assert count.total == sum(unique.values())
    assert count.trainable == count.total and count.percent == 100.0


def test_parameter_count_of_a_lora_model_matches_peft(tiny_t5):
    import copy

    from peft import LoraConfig, TaskType, get_peft_model

    lora = get_peft_model(
        copy.deepcopy(tiny_t5),
        LoraConfig(r=4, lora_alpha=4, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM),
    )
    count = models.count_parameters(lora)
    assert (count.trainable, count.total) == lora.get_nb_trainable_parameters()
    assert 0 < count.percent < 100
    assert "percentage of trainable model parameters: " in str(count)


def test_size_on_disk_and_format(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 1500)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"x" * 500)
    assert models.size_on_disk(tmp_path) == 2000
    assert models.format_bytes(2000) == "2.0 KB"
    assert models.format_bytes(999) == "999 B"
    assert models.format_bytes(4.4e6) == "4.4 MB"


@pytest.mark.parametrize("size", [0, 1])
def test_format_bytes_small(size):
    assert models.format_bytes(size) == f"{size} B"


def test_training_footprint_counts_adam_state_for_trainable_parameters_only(tiny_t5):
    import copy

    import torch

    full = models.training_footprint(tiny_t5)
    weights = sum(p.numel() * 4 for p in tiny_t5.parameters())
    assert full.weights == weights
    assert full.gradients == weights and full.optimizer_state == 2 * weights
    assert full.total == 4 * weights and full.trainable_total == 4 * weights

    frozen = copy.deepcopy(tiny_t5)
    for name, parameter in frozen.named_parameters():
        parameter.requires_grad = name.startswith("lm_head") or "final_layer_norm" in name
    trainable = sum(p.numel() * 4 for p in frozen.parameters() if p.requires_grad)
    part = models.training_footprint(frozen)
    assert part.weights == weights
    assert part.gradients == trainable < weights
    assert part.optimizer_state == 2 * trainable
    assert part.trainable_total == 4 * trainable and part.total == weights + 3 * trainable
    half = models.training_footprint(copy.deepcopy(tiny_t5).to(torch.bfloat16))
    assert half.weights == weights // 2
