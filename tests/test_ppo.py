"""Tests for Lab 3's PPO: the masked math against hand-computed values, then the trainer
on tiny random models (a T5 and a Llama built here, with a word-level tokenizer)."""

from __future__ import annotations

import math

import pytest
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from labs_common import ppo
from labs_common.ppo import PPOConfig, PPOTrainer, Rollout
from labs_common.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    kl_from_logits,
    logprobs_from_logits,
    mask_after_eos,
    masked_mean,
    masked_var,
    masked_whiten,
    per_token_rewards,
)

# ---------------------------------------------------------------- masked math


def test_masked_stats_ignore_padding():
    values = torch.tensor([[1.0, 2.0, 100.0], [3.0, -50.0, 7.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert masked_mean(values, mask).item() == pytest.approx(2.0)  # (1 + 2 + 3) / 3
    assert masked_mean(values, mask, dim=1).tolist() == pytest.approx([1.5, 3.0])
    assert masked_var(values, mask).item() == pytest.approx(1.0)  # ((-1)^2 + 0 + 1^2) / 2
    assert masked_var(values, mask, unbiased=False).item() == pytest.approx(2 / 3)


def test_masked_whiten_by_hand():
    values = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    assert masked_whiten(values, mask).tolist()[0] == pytest.approx([-1.0, 0.0, 1.0, 0.0])
    shifted_back = masked_whiten(values, mask, shift_mean=False).tolist()[0]
    assert shifted_back == pytest.approx([1.0, 2.0, 3.0, 0.0])


def test_mask_after_eos_keeps_the_first_eos_only():
    ids = torch.tensor([[5, 1, 0, 0], [5, 6, 7, 8], [1, 1, 1, 1], [4, 0, 1, 0]])
    expected = [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0]]
    assert mask_after_eos(ids, [1]).tolist() == expected


def test_gae_by_hand_with_padding():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])  # the 3 sits on padding and must not count
    values = torch.tensor([[0.5, 0.5, 9.0]])
    mask = torch.tensor([[1, 1, 0]])
    advantages, returns = compute_gae(rewards, values, mask, gamma=0.9, lam=0.8)
    # t=1: delta = 2 + 0.9 * 0 - 0.5 = 1.5; A = 1.5
    # t=0: delta = 1 + 0.9 * 0.5 - 0.5 = 0.95; A = 0.95 + 0.9 * 0.8 * 1.5 = 2.03
    assert advantages.tolist()[0] == pytest.approx([2.03, 1.5, 0.0])
    assert returns.tolist()[0] == pytest.approx([2.53, 2.0, 0.0])


def test_gae_limits_monte_carlo_and_td():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.2, 0.4, 0.6]])
    mask = torch.ones(1, 3)
    monte_carlo, _ = compute_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert monte_carlo.tolist()[0] == pytest.approx([0.8, 0.6, 0.4])  # return 1 minus value
    one_step, _ = compute_gae(rewards, values, mask, gamma=1.0, lam=0.0)
    assert one_step.tolist()[0] == pytest.approx([0.2, 0.2, 0.4])  # r + V(next) - V


def test_per_token_rewards_put_the_score_on_the_last_real_token():
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref_logprobs = torch.tensor([[-1.5, -1.0, -3.0], [-1.0, -1.0, -1.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    rewards, kl = per_token_rewards(torch.tensor([10.0, 20.0]), logprobs, ref_logprobs, mask, 0.5)
    assert kl.tolist() == [[0.5, -1.0, 0.0], [0.0, 0.0, 0.0]]
    torch.testing.assert_close(rewards, torch.tensor([[-0.25, 10.5, 0.0], [0.0, 0.0, 20.0]]))


@pytest.mark.parametrize(
    ("ratio", "advantage", "expected_loss", "clipped"),
    [
        (1.1, 1.0, -1.1, False),  # inside the trust region: plain ratio * advantage
        (1.1, -1.0, 1.1, False),
        (1.5, 1.0, -1.2, True),  # good action already made likelier: capped at 1 + eps
        (0.5, 1.0, -0.5, False),  # good action made rarer: the unclipped (worse) term counts
        (1.5, -1.0, 1.5, False),  # bad action made likelier: the unclipped term counts
        (0.5, -1.0, 0.8, True),  # bad action already made rarer: capped at 1 - eps
    ],
)
def test_clipped_policy_loss_at_the_clip_edges(ratio, advantage, expected_loss, clipped):
    logprobs = torch.tensor([[math.log(ratio)]], requires_grad=True)
    out = clipped_policy_loss(
        logprobs, torch.zeros(1, 1), torch.tensor([[advantage]]), torch.ones(1, 1), 0.2
    )
    out.loss.backward()
    assert out.loss.item() == pytest.approx(expected_loss)
    assert out.ratio.item() == pytest.approx(ratio)
    assert out.clipfrac.item() == (1.0 if clipped else 0.0)
    # Where clipping is in effect the loss is flat: no gradient moves the policy further.
    assert (logprobs.grad.abs().item() == 0.0) == clipped


def test_clipped_policy_loss_ignores_padding():
    logprobs = torch.tensor([[0.0, 5.0]])  # the padded token has an absurd ratio
    out = clipped_policy_loss(
        logprobs, torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([[1, 0]]), 0.2
    )
    assert out.loss.item() == pytest.approx(-1.0)
    assert out.ratio.item() == pytest.approx(1.0)
    assert out.clipfrac.item() == 0.0


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.1]])
    old_values = torch.zeros(1, 2)
    returns = torch.tensor([[1.0, 0.0]])
    out = clipped_value_loss(values, old_values, returns, torch.tensor([[1, 1]]), 0.2)
    # token 0: new value 1.0 hits the return, but the clipped value 0.2 misses it by 0.8
    # token 1: inside the clip range, error 0.1^2 either way
    assert out.loss.item() == pytest.approx(0.5 * (0.64 + 0.01) / 2)
    assert out.clipfrac.item() == pytest.approx(0.5)
    assert out.error.item() == pytest.approx(0.01 / 2)


def test_logprobs_and_kl_from_logits():
    logits = torch.tensor([[[0.0, math.log(3.0)]]])  # p = (0.25, 0.75)
    assert logprobs_from_logits(logits, torch.tensor([[1]])).item() == pytest.approx(math.log(0.75))
    uniform = torch.zeros(1, 1, 2)
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert kl_from_logits(logits, uniform).item() == pytest.approx(expected)
    assert kl_from_logits(logits, logits).item() == pytest.approx(0.0, abs=1e-7)


def test_kl_controllers():
    adaptive = AdaptiveKLController(init_kl_coef=0.2, target=6.0, horizon=10_000)
    adaptive.update(current_kl=30.0, n_steps=16)  # far above target: error capped at +0.2
    assert adaptive.value == pytest.approx(0.2 * (1 + 0.2 * 16 / 10_000))
    before = adaptive.value
    adaptive.update(current_kl=3.0, n_steps=16)  # below target: beta shrinks
    assert adaptive.value < before
    fixed = FixedKLController(0.1)
    fixed.update(current_kl=100.0, n_steps=16)
    assert fixed.value == 0.1


WORDS = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree", "fish", "bird"]


TARGET = "fish"


PROMPTS = [" ".join(WORDS[i % 7 : i % 7 + 3]) for i in range(8)]


def _tokenizer(append_eos: bool) -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({word: i + 3 for i, word in enumerate(WORDS)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if append_eos:  # T5 style: "... </s>"
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


@pytest.fixture(scope="module")
def t5_tokenizer():
    return _tokenizer(append_eos=True)


def _t5_base() -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=3 + len(WORDS),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config)


def _t5_policy(trained_start: bool = True) -> PeftModel:
    """Tiny T5 + LoRA. ``trained_start`` fills lora_B, standing in for Lab 2's adapter."""
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q", "v", "o"], task_type=TaskType.SEQ_2_SEQ_LM
    )
    model = get_peft_model(_t5_base(), lora)
    if trained_start:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.3)
    return model


def _target_share(texts: list[str]) -> list[float]:
    """Toy reward: the share of words in the response that are the target word."""
    return [t.split().count(TARGET) / max(len(t.split()), 1) for t in texts]


def _trainer(tokenizer, model=None, **overrides) -> PPOTrainer:
    settings = {"batch_size": 8, "mini_batch_size": 4, "max_new_tokens": 6, "seed": 0}
    settings.update(overrides)
    model = _t5_policy() if model is None else model
    return PPOTrainer(
        PPOConfig(**settings), model=model, tokenizer=tokenizer, reward_fn=_target_share
    )


def _reference_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if ".reference." in n}


FISH, CAT, DOG, SUN, EOS, PAD = 3 + WORDS.index("fish"), 6, 7, 8, 1, 0


HAND_RESPONSES = [
    [FISH, CAT, EOS, PAD, PAD],  # an early EOS, then padding
    [DOG, FISH, SUN, CAT, DOG],  # no EOS: cut at the length limit
    [EOS, PAD, PAD, PAD, PAD],  # EOS straight away
]


UNEVEN_PROMPTS = ["red", "green blue cat dog", "sun moon"]  # the middle one sets the width


def _hand_rollout(tokenizer, prompts=PROMPTS[:3], padding_side="right") -> Rollout:
    """Three responses of 3, 5 and 1 real tokens for the given prompts."""
    response_ids = torch.tensor(HAND_RESPONSES)
    encoded = tokenizer(list(prompts), padding=True, padding_side=padding_side,
                        return_tensors="pt")
    return Rollout(list(prompts), tokenizer.batch_decode(response_ids, skip_special_tokens=True),
                   encoded["input_ids"], encoded["attention_mask"], response_ids,
                   mask_after_eos(response_ids, [EOS]))


def _llama_policy(trained_start: bool = False) -> PeftModel:
    """Tiny Llama + LoRA, for the causal (left-padded) code paths."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=3 + len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=1,
    )
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type=TaskType.CAUSAL_LM)
    model = get_peft_model(LlamaForCausalLM(config), lora)
    if trained_start:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if "lora_B" in name:
                    parameter.normal_(std=0.3)
    return model


def test_trainer_setup_trains_only_the_adapter_and_value_head(t5_tokenizer):
    model = _t5_policy()
    model.train()
    trainer = _trainer(t5_tokenizer, model=model)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ".default." in n for n in trainable)
    assert _reference_state(trainer.model)  # the frozen copy exists ...
    assert not any(p.requires_grad for p in _reference_state(trainer.model).values())
    assert not any(m.training for m in trainer.model.modules())  # ... and dropout is off
    assert trainer.value_head.weight.requires_grad


def test_seq2seq_scoring_matches_the_sampler(t5_tokenizer):
    """The log-probs PPO trains on are those of the distribution generate() sampled from."""
    trainer = _trainer(t5_tokenizer)
    torch.manual_seed(1)
    rollout = trainer.generate(PROMPTS)
    encoded = t5_tokenizer(PROMPTS, padding=True, return_tensors="pt")
    torch.manual_seed(1)
    out = trainer.model.generate(
        **encoded, do_sample=True, top_k=0, min_new_tokens=1, max_new_tokens=6,
        output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip
    real = rollout.response_mask == 1
    assert torch.equal(out.sequences[:, 1:][real], rollout.response_ids[real])
    sampler = logprobs_from_logits(torch.stack(out.logits, dim=1), rollout.response_ids)
    torch.testing.assert_close(
        sampler * rollout.response_mask, trainer.response_logprobs(rollout), atol=1e-5, rtol=0
    )
    assert rollout.responses == t5_tokenizer.batch_decode(
        rollout.response_ids, skip_special_tokens=True
    )


def test_scoring_matches_the_processed_distribution_despite_the_generation_config(
        t5_tokenizer, monkeypatch):
    """A temperature or repetition penalty in the model's generation config would make
    generate() sample from another distribution than the one PPO scores: the sampler
    ignores them. Compared here with the processed scores generate() sampled from."""
    trainer = _trainer(t5_tokenizer, min_new_tokens=0)  # min_new_tokens alters the first token
    config = trainer.model.get_base_model().generation_config
    config.temperature, config.repetition_penalty, config.top_k = 0.5, 1.5, 3
    sampled_from = []
    generate = trainer.model.generate

    def spy(**kwargs):
        out = generate(**kwargs, output_scores=True, return_dict_in_generate=True)
        sampled_from.append(torch.stack(out.scores, dim=1))  # after every logits processor
        return out.sequences

    monkeypatch.setattr(trainer.model, "generate", spy)
    rollout = trainer.generate(PROMPTS)
    processed = logprobs_from_logits(sampled_from[0].float(), rollout.response_ids)
    torch.testing.assert_close(
        processed * rollout.response_mask, trainer.response_logprobs(rollout), atol=1e-5, rtol=0
    )
    assert trainer.model.get_base_model().generation_config.temperature == 0.5  # restored


def test_objective_kl_after_updates_is_the_summed_log_ratio_to_the_reference(t5_tokenizer):
    trainer = _trainer(t5_tokenizer, learning_rate=1e-2, ppo_epochs=2, adaptive_kl=False)
    for _ in range(3):
        trainer.step(PROMPTS)
    rollout = trainer.generate(PROMPTS)
    log_ratio = trainer.response_logprobs(rollout) - trainer.response_logprobs(rollout, "reference")
    by_hand = float(log_ratio.sum(dim=1).mean())  # padding is already 0 in both
    assert by_hand > 0.1  # sampled from a policy that moved: clearly above zero
    stats = trainer.optimize(rollout, [0.0] * len(PROMPTS))
    assert stats["objective/kl"] == pytest.approx(by_hand, rel=1e-5)
    assert stats["objective/kl_coef"] == 0.2
    assert stats["ppo/mean_non_score_reward"] == pytest.approx(-0.2 * by_hand, rel=1e-5)
    assert trainer.kl_to_reference(PROMPTS) > 0.01  # from prompts: samples, then measures
    total = stats["ppo/loss/policy"] + 0.1 * stats["ppo/loss/value"]  # vf_coef 0.1
    assert stats["ppo/loss/total"] == pytest.approx(total, rel=1e-5)


def test_step_rewards_by_hand_with_padding_and_an_early_eos(t5_tokenizer, monkeypatch):
    """The KL penalty on every real token, the score on the last one, nothing on padding."""
    trainer = _trainer(t5_tokenizer, learning_rate=1e-2, init_kl_coef=0.5, adaptive_kl=False)
    for _ in range(2):
        trainer.step(PROMPTS)  # move the policy away from the reference
    rollout = _hand_rollout(t5_tokenizer)
    response_mask = rollout.response_mask
    assert response_mask.sum(dim=1).tolist() == [3, 5, 1]
    assert rollout.responses == ["fish cat", "dog fish sun cat dog", ""]
    log_ratio = trainer.response_logprobs(rollout) - trainer.response_logprobs(rollout, "reference")
    assert log_ratio[response_mask == 1].abs().min() > 1e-4  # every real token is penalized
    scores = [1.0, -2.0, 3.0]
    expected = torch.zeros(3, 5)
    for row, length in enumerate([3, 5, 1]):
        for t in range(length):
            expected[row, t] = -0.5 * log_ratio[row, t]
        expected[row, length - 1] += scores[row]

    seen = []
    real_gae = ppo.compute_gae

    def spy(rewards, values, mask, gamma, lam):
        seen.append(rewards.clone())
        return real_gae(rewards, values, mask, gamma, lam)

    monkeypatch.setattr(ppo, "compute_gae", spy)
    stats = trainer.optimize(rollout, scores)
    torch.testing.assert_close(seen[0], expected, atol=1e-6, rtol=0)
    assert stats["objective/kl"] == pytest.approx(float(log_ratio.sum() / 3), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kl_to_reference_is_zero_at_the_start_but_kl_to_base_is_not(t5_tokenizer, dtype):
    # bfloat16: peft would create the copy in float32, which computes a slightly different
    # function; the trainer must match the dtypes for the KL to be exactly 0.
    trainer = _trainer(t5_tokenizer, model=_t5_policy().to(dtype))
    rollout = trainer.generate(PROMPTS)
    assert trainer.kl_to_reference(rollout) == pytest.approx(0.0, abs=1e-6)
    assert trainer.kl_to_base(rollout) > 0.05
    stats = trainer.step(PROMPTS).stats
    assert stats["objective/kl"] == pytest.approx(0.0, abs=1e-6)  # the first step's KL
    # One mini-batch, one epoch: the first update starts exactly at ratio 1, nothing clipped.
    single = _trainer(t5_tokenizer, model=_t5_policy().to(dtype), mini_batch_size=8)
    single = single.step(PROMPTS).stats
    assert single["ppo/policy/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert single["ppo/policy/clipfrac"] == 0.0


def test_reference_adapter_never_changes(t5_tokenizer):
    trainer = _trainer(t5_tokenizer, learning_rate=1e-2, ppo_epochs=2)
    rollout = trainer.generate(PROMPTS)
    reference_before = _reference_state(trainer.model)
    ref_logprobs_before = trainer.response_logprobs(rollout, "reference")
    policy_logprobs_before = trainer.response_logprobs(rollout, "policy")
    for _ in range(3):
        trainer.step(PROMPTS)
    reference_after = _reference_state(trainer.model)
    assert reference_before.keys() == reference_after.keys()
    for name, before in reference_before.items():
        assert torch.equal(before, reference_after[name]), name
    assert torch.equal(ref_logprobs_before, trainer.response_logprobs(rollout, "reference"))
    # ... while the policy did move, and now sits at a positive KL from the reference.
    assert not torch.equal(policy_logprobs_before, trainer.response_logprobs(rollout, "policy"))
    assert trainer.kl_to_reference(rollout) > 1e-4


def test_an_unknown_adapter_name_is_refused_not_taken_for_the_reference(t5_tokenizer):
    trainer = _trainer(t5_tokenizer)
    rollout = trainer.generate(PROMPTS)
    for name in (None, "REFERENCE", "ref"):
        with pytest.raises(ValueError, match="'policy', 'reference' or 'base'"):
            trainer.response_logprobs(rollout, name)


def test_a_model_without_adapter_uses_the_base_as_reference(t5_tokenizer):
    lora = LoraConfig(r=4, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM)
    trainer = PPOTrainer(
        PPOConfig(batch_size=8, mini_batch_size=4, max_new_tokens=4),
        model=_t5_base(),
        tokenizer=t5_tokenizer,
        reward_fn=_target_share,
        lora_config=lora,
    )
    assert isinstance(trainer.model, PeftModel) and trainer.reference_adapter is None
    rollout = trainer.generate(PROMPTS)
    assert trainer.kl_to_reference(rollout) == pytest.approx(0.0, abs=1e-6)
    assert trainer.kl_to_base(rollout) == pytest.approx(0.0, abs=1e-6)


def test_step_reports_the_documented_stats(t5_tokenizer):
    result = _trainer(t5_tokenizer).step(PROMPTS)
    expected = {
        "objective/kl", "objective/kl_coef", "objective/entropy", "ppo/returns/mean",
        "ppo/policy/advantages_mean", "ppo/policy/ratio", "ppo/policy/clipfrac",
        "ppo/loss/policy", "ppo/loss/value", "ppo/val/error", "env/reward_mean",
        "env/reward_std", "time/step_seconds",
    }  # fmt: skip
    assert expected <= result.stats.keys()
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.stats.values())
    assert result.stats["ppo/policy/advantages_mean"] == pytest.approx(0.0, abs=1e-5)
    assert result.stats["env/reward_mean"] == pytest.approx(sum(result.rewards) / len(PROMPTS))
    assert len(result.samples) == len(PROMPTS) and result.samples[0]["query"] == PROMPTS[0]
    assert result.rewards == _target_share(result.responses)


def test_ppo_raises_the_reward_on_a_toy_task(t5_tokenizer):
    """Reward = share of the word "fish" in the response: PPO should find it quickly."""
    trainer = _trainer(
        t5_tokenizer,
        batch_size=16,
        mini_batch_size=8,
        ppo_epochs=2,
        learning_rate=3e-3,
        init_kl_coef=0.01,
        adaptive_kl=False,
    )
    prompts = PROMPTS * 2
    rewards = [trainer.step(prompts).stats["env/reward_mean"] for _ in range(12)]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert last > first + 0.2, rewards


def test_same_seed_gives_identical_stats(t5_tokenizer):
    def run() -> list[dict[str, float]]:
        trainer = _trainer(t5_tokenizer, max_new_tokens_range=(3, 6), ppo_epochs=2)
        stats = [trainer.step(PROMPTS).stats for _ in range(2)]
        return [{k: v for k, v in s.items() if not k.startswith("time/")} for s in stats]

    first, second = run(), run()
    assert first == second
    assert first[0] != first[1]  # the two steps did differ: the comparison is not vacuous


def test_save_and_load_round_trip(t5_tokenizer, tmp_path):
    trainer = _trainer(t5_tokenizer, learning_rate=1e-2)
    trainer.step(PROMPTS)
    rollout = trainer.generate(PROMPTS)
    logprobs, values = trainer.response_logprobs(rollout), trainer.response_values(rollout)
    trainer.save(tmp_path)
    assert {"adapter_model.safetensors", "adapter_config.json", "value_head.safetensors"} <= {
        p.name for p in tmp_path.iterdir()
    }

    restored = _trainer(t5_tokenizer)  # same start, untrained
    assert not torch.allclose(restored.response_logprobs(rollout), logprobs)
    restored.load(tmp_path)
    torch.testing.assert_close(restored.response_logprobs(rollout), logprobs)
    torch.testing.assert_close(restored.response_values(rollout), values)

    # The adapter alone reloads with peft, on a fresh base model, for sampling.
    reloaded = PeftModel.from_pretrained(_t5_base(), tmp_path).eval()
    with torch.no_grad():
        expected = trainer.model(
            input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
            decoder_input_ids=rollout.response_ids,
        ).logits  # fmt: skip
        got = reloaded(
            input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
            decoder_input_ids=rollout.response_ids,
        ).logits  # fmt: skip
    torch.testing.assert_close(got, expected)


def _without_time(stats: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in stats.items() if not k.startswith("time/")}


def test_a_resumed_run_continues_as_the_uninterrupted_one(t5_tokenizer, tmp_path):
    settings = {"learning_rate": 1e-2, "ppo_epochs": 2, "max_new_tokens_range": (3, 6),
                "init_kl_coef": 0.2, "target_kl": 100.0, "horizon": 50}
    trainer = _trainer(t5_tokenizer, **settings)
    for _ in range(2):
        trainer.step(PROMPTS)
    kl_coef = trainer.kl_controller.value
    assert kl_coef == pytest.approx(0.2 * 0.968**2)  # KL far below target: beta shrank twice
    trainer.save(tmp_path)
    uninterrupted = trainer.step(PROMPTS).stats

    resumed = _trainer(t5_tokenizer, **settings)
    resumed.load(tmp_path)
    assert resumed.kl_controller.value == kl_coef and resumed.steps_done == 2
    assert _without_time(resumed.step(PROMPTS).stats) == _without_time(uninterrupted)


def test_load_refuses_an_incomplete_checkpoint(t5_tokenizer, tmp_path):
    trainer = _trainer(t5_tokenizer)
    trainer.save(tmp_path)
    fresh = _trainer(t5_tokenizer)
    adapter_file = tmp_path / "adapter_model.safetensors"
    adapter = load_file(adapter_file)
    dropped = sorted(adapter)[0]
    save_file({k: v for k, v in adapter.items() if k != dropped}, adapter_file)
    with pytest.raises(ValueError, match="lacks adapter weights"):
        fresh.load(tmp_path)

    trainer.save(tmp_path)
    save_file({"weight": trainer.value_head.weight.detach()}, tmp_path / ppo.VALUE_HEAD_FILE)
    with pytest.raises(ValueError, match="value head"):
        fresh.load(tmp_path)

    trainer.save(tmp_path)
    (tmp_path / ppo.TRAINER_STATE_FILE).unlink()
    with pytest.raises(ValueError, match="cannot resume"):
        fresh.load(tmp_path)


def test_non_finite_values_raise_a_clear_error(t5_tokenizer):
    trainer = _trainer(t5_tokenizer)
    rollout = trainer.generate(PROMPTS)
    with pytest.raises(RuntimeError, match="non-finite rewards"):
        trainer.optimize(rollout, [float("nan")] * len(PROMPTS))
    with torch.no_grad():
        trainer.value_head.weight.fill_(float("inf"))
    lora_before = {n: p.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    with pytest.raises(RuntimeError, match="Lower the learning rate"):
        trainer.optimize(rollout, [1.0] * len(PROMPTS))
    for name, parameter in trainer.model.named_parameters():
        if parameter.requires_grad:
            assert torch.equal(parameter, lora_before[name]), "a diverged update was applied"


UPDATE_STATS = ("ppo/loss/policy", "ppo/loss/value", "ppo/loss/total", "ppo/policy/ratio",
                "ppo/policy/clipfrac", "ppo/policy/approxkl", "ppo/val/error",
                "ppo/val/clipfrac", "ppo/grad_norm")


def test_optimize_statistics_by_hand(t5_tokenizer, monkeypatch):
    trainer = _trainer(t5_tokenizer, mini_batch_size=2)
    rollout = _hand_rollout(t5_tokenizer)  # responses of 3, 5 and 1 real tokens
    logprobs, values = trainer.response_logprobs(rollout), trainer.response_values(rollout)
    updates = []  # (rows, statistics) of each mini-batch
    update = trainer._update

    def spy(rollout, rows, *args):
        updates.append((rows.tolist(), update(rollout, rows, *args)))
        return updates[-1][1]

    monkeypatch.setattr(trainer, "_update", spy)
    torch.manual_seed(1234)  # torch's global generator: the shuffling must not use it
    stats = trainer.optimize(rollout, [1, -2, 3])  # integer rewards are numbers too
    # Mini-batches of 2 and 1 rows, in the order of the trainer's generator (config.seed 0).
    order = torch.randperm(3, generator=torch.Generator().manual_seed(0)).tolist()
    assert [rows for rows, _ in updates] == [order[:2], order[2:]]
    for name in UPDATE_STATS:  # each the mean over the two mini-batches
        assert stats[name] == pytest.approx((updates[0][1][name] + updates[1][1][name]) / 2)
    assert stats["ppo/grad_norm"] > 0
    # Summed over each response, then averaged over the 3 responses (padding is 0).
    assert stats["objective/entropy"] == pytest.approx(float(-logprobs.sum() / 3))
    assert stats["ppo/val/mean"] == pytest.approx(float(values.sum() / 9))  # 3 + 5 + 1 tokens
    assert stats["env/reward_mean"] == pytest.approx(2 / 3)
    # Sample std: squared deviations (1/3)^2, (8/3)^2, (7/3)^2, divided by 3 - 1.
    assert stats["env/reward_std"] == pytest.approx(math.sqrt((1 + 64 + 49) / 9 / 2))
    assert stats["tokens/response_length_mean"] == 3.0
    assert 0.0 < stats["time/step_seconds"] < 60.0


def test_reward_std_is_the_sample_std_and_zero_for_a_single_response(t5_tokenizer):
    trainer = _trainer(t5_tokenizer)
    rollout = _hand_rollout(t5_tokenizer)
    two = rollout.select(torch.tensor([0, 1]), left_padded_queries=False)
    assert trainer.optimize(two, [1.0, 3.0])["env/reward_std"] == pytest.approx(math.sqrt(2))
    one = rollout.select(torch.tensor([1]), left_padded_queries=False)
    assert trainer.optimize(one, [5.0])["env/reward_std"] == 0.0  # not NaN


def test_optimize_names_what_is_wrong_before_any_update(t5_tokenizer, monkeypatch):
    trainer = _trainer(t5_tokenizer)
    rollout = _hand_rollout(t5_tokenizer)
    lora_before = {n: p.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    with pytest.raises(ValueError, match=r"^Got 2 rewards for 3 responses\.$"):
        trainer.optimize(rollout, [1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"returned non-finite rewards \(\[1\.0, inf, 0\.0\]\); "
                       r"check it on these responses before training on them\.$"):
        trainer.optimize(rollout, [1.0, float("inf"), 0.0])
    # Every input finite, but rewards so large that the squared error of the values is not.
    with pytest.raises(RuntimeError, match=r"^PPO step 0: the PPO loss contains NaN or inf"):
        trainer.optimize(rollout, [1e30] * 3)
    # A sampled token the policy gives probability 0 (log-prob -inf), or a diverged value
    # head: caught when the rollout is scored, before any loss.
    real_logprobs = ppo.logprobs_from_logits

    def with_an_impossible_token(logits, tokens):
        logprobs = real_logprobs(logits, tokens)
        logprobs[0, 0] = -math.inf
        return logprobs

    scored = r"^PPO step 0: the policy's log-probabilities or values contains NaN or inf"
    monkeypatch.setattr(ppo, "logprobs_from_logits", with_an_impossible_token)
    with pytest.raises(RuntimeError, match=scored):
        trainer.optimize(rollout, [1.0, 0.0, 1.0])
    monkeypatch.undo()
    with torch.no_grad():
        trainer.value_head.bias.fill_(float("nan"))
    with pytest.raises(RuntimeError, match=scored):
        trainer.optimize(rollout, [1.0, 0.0, 1.0])
    for name, parameter in trainer.model.named_parameters():
        if parameter.requires_grad:
            assert torch.equal(parameter, lora_before[name]), name
    assert trainer.steps_done == 0


@pytest.mark.parametrize("architecture", ["seq2seq", "causal"])
def test_cutting_each_forward_pass_s_padding_changes_no_number(t5_tokenizer, architecture):
    """Scoring, the KL measures and the update each cut the prompt and response columns
    their rows do not need: on the right of T5's prompts, on the left of Llama's. With one
    row per pass (the most cut) the numbers are those of one pass over all rows."""
    if architecture == "seq2seq":
        tokenizer, model, side = t5_tokenizer, _t5_policy(), "right"
    else:
        tokenizer, model, side = _tokenizer(append_eos=False), _llama_policy(True), "left"
    trainer = _trainer(tokenizer, model=model, learning_rate=0.0, mini_batch_size=1,
                       forward_batch_size=3)
    rollout = _hand_rollout(tokenizer, UNEVEN_PROMPTS, padding_side=side)
    assert rollout.query_mask.sum(dim=1).tolist()[1] == rollout.query_mask.shape[1]
    whole = trainer.response_logprobs(rollout), trainer.kl_to_base(rollout)
    assert whole[1] > 0.01  # the adapter does change the distribution
    trainer.config.forward_batch_size = 1
    torch.testing.assert_close(trainer.response_logprobs(rollout), whole[0], atol=1e-5, rtol=0)
    assert trainer.kl_to_base(rollout) == pytest.approx(whole[1], rel=1e-4)
    # A zero learning rate: the policy stays where it was, so each one-row mini-batch must
    # recompute exactly the log-probabilities the rollout was scored with.
    stats = trainer.optimize(rollout, [1.0, 0.0, -1.0])
    assert stats["ppo/policy/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert stats["ppo/policy/approxkl"] == pytest.approx(0.0, abs=1e-10)
    assert stats["ppo/policy/clipfrac"] == 0.0


def test_causal_policy_runs_a_step():
    tokenizer = _tokenizer(append_eos=False)
    trainer = _trainer(tokenizer, model=_llama_policy())
    prompts = ["red", "green blue cat dog", "sun moon", "fish bird tree"] * 2
    rollout = trainer.generate(prompts)
    assert isinstance(rollout, Rollout)
    assert (rollout.query_mask[:, -1] == 1).all()  # prompts are left-padded
    # Scoring sees the same distribution as the sampler, despite the left padding.
    torch.manual_seed(3)
    rollout = trainer.generate(prompts)
    encoded = tokenizer(prompts, padding=True, padding_side="left", return_tensors="pt")
    torch.manual_seed(3)
    out = trainer.model.generate(
        **encoded, do_sample=True, top_k=0, min_new_tokens=1, max_new_tokens=6, pad_token_id=0,
        output_logits=True, return_dict_in_generate=True,
    )  # fmt: skip
    sampler = logprobs_from_logits(torch.stack(out.logits, dim=1), rollout.response_ids)
    torch.testing.assert_close(
        sampler * rollout.response_mask, trainer.response_logprobs(rollout), atol=1e-5, rtol=0
    )
    stats = trainer.step(prompts).stats
    assert all(math.isfinite(v) for v in stats.values())
    assert stats["objective/kl"] == pytest.approx(0.0, abs=1e-6)
    # One mini-batch: the update's forward cuts the left-padded prompts as scoring did.
    trainer.config.mini_batch_size = len(prompts)
    single = trainer.step(prompts).stats
    assert single["ppo/policy/ratio"] == pytest.approx(1.0, abs=1e-5)


def test_rollout_select_rounds_lengths_up_within_the_rollout():
    def rollout(query_lengths, response_lengths, width_q=150, width_r=40):
        query_mask = torch.tensor([[1] * n + [0] * (width_q - n) for n in query_lengths])
        response_mask = torch.tensor([[1] * n + [0] * (width_r - n) for n in response_lengths])
        return Rollout(["q"] * len(query_lengths), ["r"] * len(query_lengths),
                       query_mask * 7, query_mask, response_mask * 5, response_mask)

    batch = rollout([70, 30, 150], [9, 3, 40])
    rows = torch.tensor([0, 1])
    exact = batch.select(rows, left_padded_queries=False)
    assert exact.query_ids.shape == (2, 70) and exact.response_ids.shape == (2, 9)
    rounded = batch.select(rows, left_padded_queries=False, multiple=64)
    assert rounded.query_ids.shape == (2, 128) and rounded.response_ids.shape == (2, 40)
    assert rounded.query_mask.sum() == exact.query_mask.sum()  # only masked columns added
    assert rounded.response_mask.sum() == exact.response_mask.sum()
    capped = batch.select(torch.tensor([2]), left_padded_queries=False, multiple=64)
    assert capped.query_ids.shape == (1, 150)  # never wider than the rollout itself


def test_gradient_checkpointing_changes_memory_not_the_numbers(t5_tokenizer):
    def run(checkpointing: bool):
        trainer = _trainer(t5_tokenizer, ppo_epochs=2, gradient_checkpointing=checkpointing)
        saved = []  # every tensor kept for a backward pass (what checkpointing avoids)
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t,
                                                      lambda t: t):
            stats = trainer.step(PROMPTS).stats
        layer = trainer.model.base_model.model.encoder.block[0]
        still_training = any(m.training for m in trainer.model.modules())
        ppo_stats = {k: v for k, v in stats.items() if k.startswith("ppo/")}
        return ppo_stats, sum(saved), still_training or layer.gradient_checkpointing

    plain, plain_saved, _ = run(False)
    recomputed, recomputed_saved, left_on = run(True)
    for key, value in plain.items():  # T5's dropout (0.1) would change these if it ran
        assert recomputed[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    assert recomputed_saved < plain_saved
    assert not left_on  # eval mode and no checkpointing once the update is done
