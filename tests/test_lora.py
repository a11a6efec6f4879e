import pytest
import torch

from labs_common import lora
from labs_common.models import count_parameters

PROMPTS = ["summarize the following conversation hello how are you", "i love this day"]
TARGETS = ["#Person1# greets #Person2# .", "positive"]


def _nudge_adapter(peft_model, value=0.05):
    """Give the adapter's B matrices non-zero values, as training would."""
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.fill_(value)


def test_make_lora_model_trains_only_the_adapter_and_leaves_the_original_alone(tiny_t5):
    before = {k: v.clone() for k, v in tiny_t5.state_dict().items()}
    model = lora.make_lora_model(tiny_t5, r=4, alpha=4)
    count = count_parameters(model)
    # r * (d_model + inner) per q and v matrix, 1 encoder + 1 decoder (self + cross) attention
    q_or_v = 4 * (32 + 32)
    assert count.trainable == q_or_v * 2 * 3
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    assert not any("lora_" in n for n, _ in tiny_t5.named_parameters())
    after = tiny_t5.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_in_place_changes_the_model_it_is_given(tiny_t5):
    import copy

    victim = copy.deepcopy(tiny_t5)
    lora.make_lora_model(victim, r=2, alpha=2, in_place=True)
    assert any("lora_" in n for n, _ in victim.named_parameters())


def test_a_fresh_adapter_changes_nothing_and_a_trained_one_does(tiny_t5, word_tokenizer):
    model = lora.make_lora_model(tiny_t5, r=4, alpha=8)
    assert lora.max_logit_difference(model, tiny_t5, word_tokenizer, PROMPTS, TARGETS) == 0.0
    _nudge_adapter(model)
    assert lora.max_logit_difference(model, tiny_t5, word_tokenizer, PROMPTS, TARGETS) > 1e-4
    with model.disable_adapter():
        assert lora.max_logit_difference(model, tiny_t5, word_tokenizer, PROMPTS, TARGETS) == 0.0


def test_save_and_reload_give_the_same_outputs_and_a_frozen_adapter(tiny_t5, word_tokenizer,
                                                                    tmp_path):
    model = lora.make_lora_model(tiny_t5, r=4, alpha=8)
    _nudge_adapter(model)
    folder = lora.save_adapter(model, tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(lora.adapter_files(folder))
    reloaded = lora.load_adapter(tiny_t5, folder)
    assert count_parameters(reloaded).trainable == 0
    assert not any("lora_" in n for n, _ in tiny_t5.named_parameters())
    difference = lora.max_logit_difference(model, reloaded, word_tokenizer, PROMPTS, TARGETS)
    assert difference < 1e-5
    trainable = lora.load_adapter(tiny_t5, folder, trainable=True)
    assert count_parameters(trainable).trainable == count_parameters(model).trainable


def test_merge_and_unload_gives_a_plain_model_with_the_same_outputs(tiny_t5, word_tokenizer,
                                                                    tmp_path):
    model = lora.make_lora_model(tiny_t5, r=4, alpha=8)
    _nudge_adapter(model)
    folder = lora.save_adapter(model, tmp_path / "adapter")
    merged = lora.load_adapter(tiny_t5, folder).merge_and_unload()
    assert type(merged) is type(tiny_t5)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert lora.max_logit_difference(model, merged, word_tokenizer, PROMPTS, TARGETS) < 1e-5


def test_loading_a_missing_adapter_says_which_lab_writes_it(tiny_t5, tmp_path):
    with pytest.raises(FileNotFoundError, match="Lab 2"):
        lora.load_adapter(tiny_t5, tmp_path / "nothing-here")


def test_max_logit_difference_needs_one_target_per_prompt(tiny_t5, word_tokenizer):
    with pytest.raises(ValueError, match="one target per prompt"):
        lora.max_logit_difference(tiny_t5, tiny_t5, word_tokenizer, PROMPTS, TARGETS[:1])


def test_lora_config_matches_the_course_settings():
    config = lora.lora_config()
    assert (config.r, config.lora_alpha, config.lora_dropout) == (32, 32, 0.05)
    assert set(config.target_modules) == {"q", "v"}
    assert str(config.task_type.value if hasattr(config.task_type, "value")
               else config.task_type) == "SEQ_2_SEQ_LM"


def test_two_adapters_on_one_base_switch_by_name(tiny_t5, word_tokenizer, tmp_path):
    first = lora.make_lora_model(tiny_t5, r=4, alpha=8)
    _nudge_adapter(first, 0.05)
    second = lora.make_lora_model(tiny_t5, r=4, alpha=8)
    _nudge_adapter(second, -0.08)
    first_dir = lora.save_adapter(first, tmp_path / "first")
    second_dir = lora.save_adapter(second, tmp_path / "second")
    both = lora.add_adapter(lora.load_adapter(tiny_t5, first_dir), second_dir, "second")
    assert set(both.peft_config) == {"default", "second"}
    assert lora.max_logit_difference(both, first, word_tokenizer, PROMPTS, TARGETS) < 1e-5
    both.set_adapter("second")
    assert lora.max_logit_difference(both, second, word_tokenizer, PROMPTS, TARGETS) < 1e-5
    assert lora.max_logit_difference(both, first, word_tokenizer, PROMPTS, TARGETS) > 1e-4
    with pytest.raises(FileNotFoundError):
        lora.add_adapter(both, tmp_path / "missing", "third")
