"""What PPO trains and reads (labs_common.rl.actor_critic) on tiny random models: only the
adapter and the value head train, the log-probs it reads are those of the distribution it
sampled from (seq2seq and causal, whatever the generation config), the length draws, and the
KL measures to the reference and to the base."""

from __future__ import annotations

import random

import pytest
import torch
from peft import LoraConfig, PeftModel, TaskType

from labs_common.rl.actor_critic import ActorCritic
from labs_common.rl.ppo_config import PPOConfig
from labs_common.rl.ppo_math import logprobs_from_logits
from labs_common.rl.rollout import Rollout

from tiny_policies import (
    PROMPTS,
    llama_policy,
    reference_state,
    t5_base,
    t5_policy,
    word_level_tokenizer,
)


def actor_critic(tokenizer, model=None, lora_config=None, **overrides) -> ActorCritic:
    """What ``tiny_policies.ppo_trainer`` builds, without the optimizer, and seeded as it is."""
    settings = {"batch_size": 8, "mini_batch_size": 4, "max_new_tokens": 6, "seed": 0}
    settings.update(overrides)
    model = t5_policy() if model is None else model
    torch.manual_seed(settings["seed"])  # as the trainer does, before the value head
    return ActorCritic(PPOConfig(**settings), model, tokenizer, lora_config)


def test_setup_trains_only_the_adapter_and_value_head(t5_tokenizer):
    model = t5_policy()
    model.train()
    policy = actor_critic(t5_tokenizer, model=model)
    trainable = {n for n, p in policy.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ".default." in n for n in trainable)
    assert reference_state(policy.model)  # the frozen copy exists ...
    assert not any(p.requires_grad for p in reference_state(policy.model).values())
    assert not any(m.training for m in policy.model.modules())  # ... and dropout is off
    assert policy.value_head.weight.requires_grad


def test_seq2seq_scoring_matches_the_sampler(t5_tokenizer):
    """The log-probs PPO trains on are those of the distribution generate() sampled from."""
    policy = actor_critic(t5_tokenizer)
    torch.manual_seed(1)
    rollout = policy.generate(PROMPTS)
    encoded = t5_tokenizer(PROMPTS, padding=True, return_tensors="pt")
    torch.manual_seed(1)
    out = policy.model.generate(
        **encoded, do_sample=True, top_k=0, min_new_tokens=1, max_new_tokens=6,
        output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip
    real = rollout.response_mask == 1
    assert torch.equal(out.sequences[:, 1:][real], rollout.response_ids[real])
    sampler = logprobs_from_logits(torch.stack(out.logits, dim=1), rollout.response_ids)
    torch.testing.assert_close(
        sampler * rollout.response_mask, policy.response_logprobs(rollout), atol=1e-5, rtol=0
    )
    assert rollout.responses == t5_tokenizer.batch_decode(
        rollout.response_ids, skip_special_tokens=True
    )


def test_scoring_matches_the_processed_distribution_despite_the_generation_config(
        t5_tokenizer, monkeypatch):
    """A temperature or repetition penalty in the model's generation config would make
    generate() sample from another distribution than the one PPO scores: the sampler
    ignores them. Compared here with the processed scores generate() sampled from."""
    policy = actor_critic(t5_tokenizer, min_new_tokens=0)  # min_new_tokens alters the first token
    config = policy.model.get_base_model().generation_config
    config.temperature, config.repetition_penalty, config.top_k = 0.5, 1.5, 3
    sampled_from = []
    generate = policy.model.generate

    def spy(**kwargs):
        out = generate(**kwargs, output_scores=True, return_dict_in_generate=True)
        sampled_from.append(torch.stack(out.scores, dim=1))  # after every logits processor
        return out.sequences

    monkeypatch.setattr(policy.model, "generate", spy)
    rollout = policy.generate(PROMPTS)
    processed = logprobs_from_logits(sampled_from[0].float(), rollout.response_ids)
    torch.testing.assert_close(
        processed * rollout.response_mask, policy.response_logprobs(rollout), atol=1e-5, rtol=0
    )
    assert policy.model.get_base_model().generation_config.temperature == 0.5  # restored


def test_causal_scoring_matches_the_sampler():
    tokenizer = word_level_tokenizer(append_eos=False)
    policy = actor_critic(tokenizer, model=llama_policy())
    prompts = ["red", "green blue cat dog", "sun moon", "fish bird tree"] * 2
    rollout = policy.generate(prompts)
    assert isinstance(rollout, Rollout)
    assert (rollout.query_mask[:, -1] == 1).all()  # prompts are left-padded
    # Scoring sees the same distribution as the sampler, despite the left padding.
    torch.manual_seed(3)
    rollout = policy.generate(prompts)
    encoded = tokenizer(prompts, padding=True, padding_side="left", return_tensors="pt")
    torch.manual_seed(3)
    out = policy.model.generate(
        **encoded, do_sample=True, top_k=0, min_new_tokens=1, max_new_tokens=6, pad_token_id=0,
        output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip
    sampler = logprobs_from_logits(torch.stack(out.logits, dim=1), rollout.response_ids)
    torch.testing.assert_close(
        sampler * rollout.response_mask, policy.response_logprobs(rollout), atol=1e-5, rtol=0
    )


def test_generate_draws_each_length_limit_from_the_range_and_takes_overrides(t5_tokenizer):
    """With a range, each batch's max_new_tokens comes from its own generator, seeded with
    config.seed; an explicit max_new_tokens neither draws nor disturbs the draws."""
    # min_new_tokens above the range: every response runs to the drawn limit.
    policy = actor_critic(t5_tokenizer, max_new_tokens_range=(2, 5), min_new_tokens=9, seed=4)
    expected = random.Random(4)
    widths = [policy.generate(PROMPTS).response_ids.shape[1] for _ in range(3)]
    assert policy.generate(PROMPTS, max_new_tokens=1).response_ids.shape[1] == 1
    widths.append(policy.generate(PROMPTS).response_ids.shape[1])
    assert widths == [expected.randint(2, 5) for _ in range(4)]
    # Greedy: the same responses every time, and the reference's while nothing has trained.
    greedy = policy.generate(PROMPTS, max_new_tokens=4, do_sample=False).responses
    assert policy.generate(PROMPTS, max_new_tokens=4, do_sample=False).responses == greedy
    reference = policy.generate(PROMPTS, use_reference=True, max_new_tokens=4, do_sample=False)
    assert reference.responses == greedy


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kl_to_reference_is_zero_at_the_start_but_kl_to_base_is_not(t5_tokenizer, dtype):
    # bfloat16: peft would create the copy in float32, which computes a slightly different
    # function; the set-up must match the dtypes for the KL to be exactly 0.
    policy = actor_critic(t5_tokenizer, model=t5_policy().to(dtype))
    rollout = policy.generate(PROMPTS)
    assert policy.kl_to_reference(rollout) == pytest.approx(0.0, abs=1e-6)
    assert policy.kl_to_base(rollout) > 0.05


def test_an_unknown_adapter_name_is_refused_not_taken_for_the_reference(t5_tokenizer):
    policy = actor_critic(t5_tokenizer)
    rollout = policy.generate(PROMPTS)
    for name in (None, "REFERENCE", "ref"):
        with pytest.raises(ValueError, match="'policy', 'reference' or 'base'"):
            policy.response_logprobs(rollout, name)


def test_a_model_without_adapter_uses_the_base_as_reference(t5_tokenizer):
    lora = LoraConfig(r=4, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM)
    policy = actor_critic(t5_tokenizer, model=t5_base(), lora_config=lora, max_new_tokens=4)
    assert isinstance(policy.model, PeftModel) and policy.reference_adapter is None
    rollout = policy.generate(PROMPTS)
    assert policy.kl_to_reference(rollout) == pytest.approx(0.0, abs=1e-6)
    assert policy.kl_to_base(rollout) == pytest.approx(0.0, abs=1e-6)
