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
