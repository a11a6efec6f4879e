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


def test_a_repository_with_only_pickled_weights_is_refused_before_loading(tmp_path, tiny_t5):
    import torch

    from labs_common.hub import resolve

    folder = tmp_path / "bin-only"
    tiny_t5.config.save_pretrained(folder)
    torch.save(tiny_t5.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(models.UnsafeWeightsError, match="no safetensors"):
        models.load_seq2seq(str(folder), "cpu")
    assert not models.has_safetensors(resolve(str(folder)))
    tiny_t5.save_pretrained(tmp_path / "safe")
    assert models.has_safetensors(resolve(str(tmp_path / "safe")))


def test_a_hub_repository_is_checked_for_safetensors_at_its_pinned_commit(monkeypatch):
    import huggingface_hub

    from labs_common.hub import Source

    asked = {}

    def files(repo_id, revision=None):
        asked.update(repo_id=repo_id, revision=revision)
        return ["config.json", "pytorch_model.bin"]

    monkeypatch.setattr(huggingface_hub, "list_repo_files", files)
    source = Source(name="someone/model", path="someone/model", revision="a" * 40)
    with pytest.raises(models.UnsafeWeightsError):
        models.require_safetensors(source)
    assert asked == {"repo_id": "someone/model", "revision": "a" * 40}


def test_offload_moves_models_to_the_cpu_and_frees_the_gpu_cache(monkeypatch, tiny_t5):
    import torch

    freed = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: freed.append(True))
    models.offload(tiny_t5)
    assert freed == [True]
    assert all(p.device.type == "cpu" for p in tiny_t5.parameters())


def test_gpu_memory_is_reported_on_a_gpu_only(monkeypatch, capsys):
    import types

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    models.report_gpu_memory("section 4")
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda: 3 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: types.SimpleNamespace(total_memory=15 * 2**30))
    models.report_gpu_memory("section 4")
    assert capsys.readouterr().out == "[section 4] GPU memory in use: 3.0 GiB of 15.0 GiB\n"
