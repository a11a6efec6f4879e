"""Lab 3's PPO trainer (labs_common.rl.ppo) on tiny random models: rewards and KL by hand,
the first step at KL 0 and ratio 1, the reference never moves, the update's statistics by
hand, determinism, refusals, causal policies and gradient checkpointing. Sampling and reading
the policy: test_rl_actor_critic.py."""

from __future__ import annotations

import math

import pytest
import torch

from labs_common.rl import actor_critic, ppo

from tiny_policies import (
    PROMPTS,
    UNEVEN_PROMPTS,
    hand_rollout,
    llama_policy,
    ppo_trainer,
    reference_state,
    t5_policy,
    target_share,
    word_level_tokenizer,
)


def test_objective_kl_after_updates_is_the_summed_log_ratio_to_the_reference(t5_tokenizer):
    trainer = ppo_trainer(t5_tokenizer, learning_rate=1e-2, ppo_epochs=2, adaptive_kl=False)
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
    trainer = ppo_trainer(t5_tokenizer, learning_rate=1e-2, init_kl_coef=0.5, adaptive_kl=False)
    for _ in range(2):
        trainer.step(PROMPTS)  # move the policy away from the reference
    rollout = hand_rollout(t5_tokenizer)
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
def test_the_first_step_s_kl_is_zero_and_its_first_update_starts_at_ratio_1(t5_tokenizer, dtype):
    stats = ppo_trainer(t5_tokenizer, model=t5_policy().to(dtype)).step(PROMPTS).stats
    assert stats["objective/kl"] == pytest.approx(0.0, abs=1e-6)  # the first step's KL
    # One mini-batch, one epoch: the first update starts exactly at ratio 1, nothing clipped.
    single = ppo_trainer(t5_tokenizer, model=t5_policy().to(dtype), mini_batch_size=8)
    single = single.step(PROMPTS).stats
    assert single["ppo/policy/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert single["ppo/policy/clipfrac"] == 0.0


def test_reference_adapter_never_changes(t5_tokenizer):
    trainer = ppo_trainer(t5_tokenizer, learning_rate=1e-2, ppo_epochs=2)
    rollout = trainer.generate(PROMPTS)
    reference_before = reference_state(trainer.model)
    ref_logprobs_before = trainer.response_logprobs(rollout, "reference")
    policy_logprobs_before = trainer.response_logprobs(rollout, "policy")
    for _ in range(3):
        trainer.step(PROMPTS)
    reference_after = reference_state(trainer.model)
    assert reference_before.keys() == reference_after.keys()
    for name, before in reference_before.items():
        assert torch.equal(before, reference_after[name]), name
    assert torch.equal(ref_logprobs_before, trainer.response_logprobs(rollout, "reference"))
    # ... while the policy did move, and now sits at a positive KL from the reference.
    assert not torch.equal(policy_logprobs_before, trainer.response_logprobs(rollout, "policy"))
    assert trainer.kl_to_reference(rollout) > 1e-4


def test_step_reports_the_documented_stats(t5_tokenizer):
    result = ppo_trainer(t5_tokenizer).step(PROMPTS)
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
    assert result.rewards == target_share(result.responses)


def test_ppo_raises_the_reward_on_a_toy_task(t5_tokenizer):
    """Reward = share of the word "fish" in the response: PPO should find it quickly."""
    trainer = ppo_trainer(
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
        trainer = ppo_trainer(t5_tokenizer, max_new_tokens_range=(3, 6), ppo_epochs=2)
        stats = [trainer.step(PROMPTS).stats for _ in range(2)]
        return [{k: v for k, v in s.items() if not k.startswith("time/")} for s in stats]

    first, second = run(), run()
    assert first == second
    assert first[0] != first[1]  # the two steps did differ: the comparison is not vacuous


def test_non_finite_values_raise_a_clear_error(t5_tokenizer):
    trainer = ppo_trainer(t5_tokenizer)
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
    trainer = ppo_trainer(t5_tokenizer, mini_batch_size=2)
    rollout = hand_rollout(t5_tokenizer)  # responses of 3, 5 and 1 real tokens
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
    trainer = ppo_trainer(t5_tokenizer)
    rollout = hand_rollout(t5_tokenizer)
    two = rollout.select(torch.tensor([0, 1]), left_padded_queries=False)
    assert trainer.optimize(two, [1.0, 3.0])["env/reward_std"] == pytest.approx(math.sqrt(2))
    one = rollout.select(torch.tensor([1]), left_padded_queries=False)
    assert trainer.optimize(one, [5.0])["env/reward_std"] == 0.0  # not NaN


def test_optimize_names_what_is_wrong_before_any_update(t5_tokenizer, monkeypatch):
    trainer = ppo_trainer(t5_tokenizer)
    rollout = hand_rollout(t5_tokenizer)
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
    real_logprobs = actor_critic.logprobs_from_logits

    def with_an_impossible_token(logits, tokens):
        logprobs = real_logprobs(logits, tokens)
        logprobs[0, 0] = -math.inf
        return logprobs

    scored = r"^PPO step 0: the policy's log-probabilities or values contains NaN or inf"
    monkeypatch.setattr(actor_critic, "logprobs_from_logits", with_an_impossible_token)
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
        tokenizer, model, side = t5_tokenizer, t5_policy(), "right"
    else:
        tokenizer, model, side = word_level_tokenizer(append_eos=False), llama_policy(True), "left"
    trainer = ppo_trainer(tokenizer, model=model, learning_rate=0.0, mini_batch_size=1,
                       forward_batch_size=3)
    rollout = hand_rollout(tokenizer, UNEVEN_PROMPTS, padding_side=side)
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
    tokenizer = word_level_tokenizer(append_eos=False)
    trainer = ppo_trainer(tokenizer, model=llama_policy())
    prompts = ["red", "green blue cat dog", "sun moon", "fish bird tree"] * 2
    stats = trainer.step(prompts).stats
    assert all(math.isfinite(v) for v in stats.values())
    assert stats["objective/kl"] == pytest.approx(0.0, abs=1e-6)
    # One mini-batch: the update's forward cuts the left-padded prompts as scoring did.
    trainer.config.mini_batch_size = len(prompts)
    single = trainer.step(prompts).stats
    assert single["ppo/policy/ratio"] == pytest.approx(1.0, abs=1e-5)


def test_gradient_checkpointing_changes_memory_not_the_numbers(t5_tokenizer):
    def run(checkpointing: bool):
        trainer = ppo_trainer(t5_tokenizer, ppo_epochs=2, gradient_checkpointing=checkpointing)
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


def test_one_update_by_hand_from_the_public_pieces_is_the_trainers(t5_tokenizer):
    """Lab 3 runs one PPO step by hand with ppo_math and policy_outputs; from the same state,
    the trainer's optimize (one epoch, one mini-batch) must give the same losses and weights."""
    from labs_common.rl import ppo_math
    from labs_common.rl.policy import adapter_weights

    settings = {"batch_size": 3, "mini_batch_size": 3, "ppo_epochs": 1, "adaptive_kl": False,
                "init_kl_coef": 0.3}
    hand, twin = ppo_trainer(t5_tokenizer, **settings), ppo_trainer(t5_tokenizer, **settings)
    twin.load_state_dict(hand.state_dict())
    rollout, scores = hand_rollout(t5_tokenizer), torch.tensor([1.0, -2.0, 3.0])
    config, mask = hand.config, rollout.response_mask.float()
    with torch.no_grad():
        old_logprobs = hand.response_logprobs(rollout)
        ref_logprobs = hand.response_logprobs(rollout, "reference")
        old_values = hand.response_values(rollout) * mask
    token_rewards, kl = ppo_math.per_token_rewards(scores, old_logprobs, ref_logprobs, mask,
                                                   config.init_kl_coef)
    advantages, returns = ppo_math.compute_gae(token_rewards, old_values, mask, config.gamma,
                                               config.lam)
    advantages = ppo_math.masked_whiten(advantages, mask)
    logprobs, values = hand.policy_outputs(rollout)
    policy = ppo_math.clipped_policy_loss(logprobs, old_logprobs, advantages, mask,
                                          config.cliprange)
    value = ppo_math.clipped_value_loss(values, old_values, returns, mask, config.cliprange_value)
    hand.optimizer.zero_grad()
    (policy.loss + config.vf_coef * value.loss).backward()
    torch.nn.utils.clip_grad_norm_(hand.trainable_parameters, config.max_grad_norm)
    hand.optimizer.step()

    stats = twin.optimize(rollout, scores)
    assert stats["ppo/loss/policy"] == pytest.approx(float(policy.loss.detach()), abs=1e-6)
    assert stats["ppo/loss/value"] == pytest.approx(float(value.loss.detach()), abs=1e-6)
    assert stats["objective/kl"] == pytest.approx(float(kl.sum(dim=1).mean()), abs=1e-6)
    for name, weight in adapter_weights(hand.model, hand.policy_adapter).items():
        torch.testing.assert_close(weight, adapter_weights(twin.model, twin.policy_adapter)[name],
                                   atol=1e-6, rtol=0)
    torch.testing.assert_close(hand.value_head.weight, twin.value_head.weight, atol=1e-6, rtol=0)
    assert not torch.equal(hand.value_head.weight, ppo_trainer(t5_tokenizer).value_head.weight)
