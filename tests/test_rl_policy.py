"""The policy and its reference (labs_common.rl.policy): the frozen copy of the starting
adapter, switching between policy, reference and base, the adapter's weights out and back
in, and gradient checkpointing that keeps the model in eval mode."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, PeftModel, TaskType

from labs_common.rl.policy import (
    REFERENCE_ADAPTER,
    adapter_weights,
    add_adapter_copy,
    end_of_sequence_ids,
    load_adapter_weights,
    prepare_policy,
    recomputing_activations,
    require_pad_token,
    using_adapter,
)

from tiny_policies import hand_rollout, t5_base, t5_policy


def _logits(model, rollout) -> torch.Tensor:
    model.eval()  # no dropout
    with torch.no_grad():
        return model(input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
                     decoder_input_ids=rollout.response_ids).logits


def _adapter(model, name: str) -> dict[str, torch.Tensor]:
    return {n.replace(f".{name}.", "."): p for n, p in model.named_parameters()
            if f".{name}." in n}


def test_a_peft_model_keeps_its_adapter_as_policy_and_a_frozen_copy_as_reference():
    model = t5_policy()
    model.train()
    policy, policy_adapter, reference_adapter = prepare_policy(model)
    assert policy is model and policy_adapter == "default"
    assert reference_adapter == REFERENCE_ADAPTER
    copy, original = _adapter(policy, REFERENCE_ADAPTER), _adapter(policy, "default")
    assert copy.keys() == original.keys() and copy
    for name, parameter in copy.items():
        assert torch.equal(parameter, original[name]), name
        assert not parameter.requires_grad and original[name].requires_grad
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all(".default." in n for n in trainable)
    assert not any(m.training for m in policy.modules())  # dropout off
    with pytest.raises(ValueError, match="already has an adapter named 'reference'"):
        prepare_policy(policy)


def test_a_reference_from_the_base_or_a_new_adapter_adds_no_copy():
    policy, _, reference_adapter = prepare_policy(t5_policy(), reference="base")
    assert reference_adapter is None and set(policy.peft_config) == {"default"}
    lora = LoraConfig(r=4, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM)
    fresh, adapter, reference_adapter = prepare_policy(t5_base(), lora)
    assert isinstance(fresh, PeftModel) and adapter == "default" and reference_adapter is None
    with pytest.raises(TypeError, match="needs a lora_config"):
        prepare_policy(t5_base())
    with pytest.raises(ValueError, match="'copy' or 'base'"):
        prepare_policy(t5_policy(), reference="start")


def test_the_copy_keeps_the_source_dtype_and_computes_the_same_function(t5_tokenizer):
    model = t5_policy().to(torch.bfloat16)
    add_adapter_copy(model, source="default", name="twin")
    twin, source = _adapter(model, "twin"), _adapter(model, "default")
    assert {p.dtype for p in twin.values()} == {torch.bfloat16}
    rollout = hand_rollout(t5_tokenizer)
    before = _logits(model, rollout)
    model.set_adapter("twin")
    assert torch.equal(_logits(model, rollout), before)
    assert all(torch.equal(twin[n], source[n]) for n in twin)


def test_using_an_adapter_switches_for_the_block_and_always_switches_back(t5_tokenizer):
    model, policy_adapter, reference_adapter = prepare_policy(t5_policy())
    rollout = hand_rollout(t5_tokenizer)
    with torch.no_grad():
        for parameter in _adapter(model, "default").values():
            parameter.add_(0.1)  # the policy moves away from its reference
    policy = _logits(model, rollout)
    with model.disable_adapter():
        base = _logits(model, rollout)
    outputs = {}
    for which in ("policy", "reference", "base"):
        with using_adapter(model, which, policy_adapter, reference_adapter):
            outputs[which] = _logits(model, rollout)
        assert model.active_adapter == policy_adapter
    assert torch.equal(outputs["policy"], policy) and torch.equal(outputs["base"], base)
    assert not torch.allclose(outputs["reference"], policy)
    assert not torch.allclose(outputs["reference"], base)
    with pytest.raises(RuntimeError), using_adapter(model, "reference", policy_adapter,
                                                    reference_adapter):
        raise RuntimeError("a failed forward pass")
    assert model.active_adapter == policy_adapter
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".default." in n for n in trainable)  # the reference stays frozen
    with using_adapter(model, "reference", policy_adapter, None):  # no copy: the base
        torch.testing.assert_close(_logits(model, rollout), base)
    for wrong in ("Reference", "ref", None):
        with pytest.raises(ValueError, match="'policy', 'reference' or 'base'"), using_adapter(
                model, wrong, policy_adapter, reference_adapter):
            pass


def test_responses_end_at_the_model_s_eos_ids_else_the_tokenizer_s(t5_tokenizer):
    model = t5_base()
    assert end_of_sequence_ids(model, t5_tokenizer) == [1]
    model.generation_config.eos_token_id = [1, 7]
    assert end_of_sequence_ids(model, t5_tokenizer) == [1, 7]
    model.generation_config.eos_token_id = None
    assert end_of_sequence_ids(model, t5_tokenizer) == [t5_tokenizer.eos_token_id]


def test_a_tokenizer_without_pad_token_is_refused(t5_tokenizer):
    import copy

    require_pad_token(t5_tokenizer)
    unpadded = copy.deepcopy(t5_tokenizer)
    unpadded.pad_token = None
    with pytest.raises(ValueError, match="no pad token"):
        require_pad_token(unpadded)


def test_adapter_weights_go_out_and_back_in_and_wrong_ones_are_refused(t5_tokenizer):
    trained, fresh = t5_policy(), t5_policy(trained_start=False)
    rollout = hand_rollout(t5_tokenizer)
    weights = adapter_weights(trained, "default")
    assert weights and all("lora_" in name for name in weights)
    assert not torch.allclose(_logits(fresh, rollout), _logits(trained, rollout))
    load_adapter_weights(fresh, "default", weights)
    torch.testing.assert_close(_logits(fresh, rollout), _logits(trained, rollout))

    other = t5_policy(trained_start=False)
    before = {n: p.clone() for n, p in _adapter(other, "default").items()}
    dropped = sorted(weights)[0]
    with pytest.raises(ValueError, match="lacks adapter weights"):
        load_adapter_weights(other, "default", {k: v for k, v in weights.items() if k != dropped})
    assert all(torch.equal(p, before[n]) for n, p in _adapter(other, "default").items())
    extra = {**weights, "base_model.model.nowhere.lora_A.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match="no place for"):
        load_adapter_weights(other, "default", extra)


def test_recomputing_activations_switches_only_the_layers_and_only_for_the_block():
    from transformers.modeling_layers import GradientCheckpointingLayer

    model, _, _ = prepare_policy(t5_policy())
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert layers
    with recomputing_activations(model, enabled=False):
        assert not any(m.training for m in model.modules())
        assert not any(layer.gradient_checkpointing for layer in layers)
    with recomputing_activations(model):
        assert all(layer.training and layer.gradient_checkpointing for layer in layers)
        inside = [m for layer in layers for m in layer.modules() if m is not layer]
        assert inside and not any(m.training for m in inside)  # dropout stays off
    assert not any(m.training for m in model.modules())
    assert not any(layer.gradient_checkpointing for layer in layers)
