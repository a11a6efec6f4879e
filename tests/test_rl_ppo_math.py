"""Lab 3's PPO math (labs_common.rl.ppo_math) against hand-computed values: masked
statistics, GAE, per-token rewards, the clipped losses and the KL controllers, including
data whose variance is not 1, rows with an early EOS, and the edges of each formula."""

from __future__ import annotations

import math

import pytest
import torch

from labs_common.rl.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    entropy_from_logits,
    kl_from_logits,
    logprobs_from_logits,
    mask_after_eos,
    masked_mean,
    masked_var,
    masked_whiten,
    per_token_rewards,
)


def test_masked_whiten_divides_by_the_standard_deviation():
    values = torch.tensor([[2.0, 4.0, 6.0, 50.0], [8.0, -9.0, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    # Real values 2, 4, 6, 8: mean 5, unbiased variance (9 + 1 + 1 + 9) / 3 = 20 / 3.
    scale = math.sqrt(20 / 3)
    whitened = masked_whiten(values, mask)
    expected = [[-3 / scale, -1 / scale, 1 / scale, 0.0], [3 / scale, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(whitened, torch.tensor(expected))
    assert masked_var(whitened, mask).item() == pytest.approx(1.0, rel=1e-5)
    # shift_mean=False keeps the mean: only the spread is rescaled.
    kept = masked_whiten(values, mask, shift_mean=False)
    torch.testing.assert_close(kept, (whitened + 5.0) * mask)


def test_masked_var_of_a_single_value_has_no_bessel_correction():
    values = torch.tensor([[3.0, 7.0]])
    assert masked_var(values, torch.tensor([[1, 0]])).item() == 0.0
    two = masked_var(values, torch.tensor([[1, 1]]))
    assert two.item() == pytest.approx(8.0)  # ((-2)^2 + 2^2) / (2 - 1)


def test_masked_mean_along_a_dimension_counts_each_row_s_own_tokens():
    values = torch.tensor([[1.0, 3.0, 8.0], [2.0, 4.0, 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert masked_mean(values, mask, dim=1).tolist() == pytest.approx([2.0, 4.0])
    assert masked_mean(values, mask, dim=0).tolist() == pytest.approx([1.5, 3.5, 6.0])


def test_per_token_rewards_by_hand_on_a_row_with_an_early_eos():
    eos, pad = 1, 0
    response_ids = torch.tensor([[5, 1, pad, pad], [5, 6, 7, 8], [1, pad, pad, pad]])
    mask = mask_after_eos(response_ids, [eos])
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    logprobs = torch.tensor([[-1.0, -0.5, -9.0, -9.0], [-2.0, -1.0, -1.0, -0.5],
                             [-0.25, -9.0, -9.0, -9.0]])
    ref_logprobs = torch.tensor([[-2.0, -1.5, -1.0, -1.0], [-1.0, -1.0, -3.0, -1.0],
                                 [-1.25, -1.0, -1.0, -1.0]])
    rewards, kl = per_token_rewards(torch.tensor([4.0, 2.0, -1.0]), logprobs, ref_logprobs,
                                    mask, kl_coef=0.1)
    assert kl.tolist() == [[1.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 2.0, 0.5], [1.0, 0.0, 0.0, 0.0]]
    expected = [
        [-0.1, -0.1 + 4.0, 0.0, 0.0],  # the score on the EOS, the last real token
        [0.1, 0.0, -0.2, -0.05 + 2.0],  # no EOS: the score on the last token
        [-0.1 - 1.0, 0.0, 0.0, 0.0],  # EOS straight away: penalty and score on one token
    ]
    torch.testing.assert_close(rewards, torch.tensor(expected))


def test_mask_after_eos_accepts_several_eos_ids():
    ids = torch.tensor([[4, 2, 9, 9], [4, 4, 1, 2], [4, 4, 4, 4]])
    assert mask_after_eos(ids, [1, 2]).tolist() == [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


def test_logprobs_and_entropy_from_logits_by_hand():
    logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 5.0]]])  # p = (1/4, 3/4), (1/2, 1/2)
    picked = logprobs_from_logits(logits, torch.tensor([[0, 1]]))
    assert picked.tolist()[0] == pytest.approx([math.log(0.25), math.log(0.5)])
    entropy = entropy_from_logits(logits).tolist()[0]
    assert entropy == pytest.approx([-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)),
                                     math.log(2.0)])
    uniform = torch.zeros(1, 2, 2)
    kl = kl_from_logits(logits, uniform)  # one KL per position
    expected = [0.25 * math.log(0.5) + 0.75 * math.log(1.5), 0.0]
    assert kl.shape == (1, 2) and kl.tolist()[0] == pytest.approx(expected, abs=1e-7)


def test_gae_with_discount_and_several_rows():
    rewards = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    values = torch.tensor([[0.5, 0.25], [1.0, 7.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    advantages, returns = compute_gae(rewards, values, mask, gamma=0.5, lam=0.5)
    # row 0, t=1: delta = 1 - 0.25 = 0.75; t=0: delta = 0 + 0.5 * 0.25 - 0.5 = -0.375,
    #   A = -0.375 + 0.25 * 0.75 = -0.1875
    # row 1, t=0: the value 7 sits on padding and must not count: delta = A = 2 - 1 = 1
    torch.testing.assert_close(advantages, torch.tensor([[-0.1875, 0.75], [1.0, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[0.3125, 1.0], [2.0, 0.0]]))


def test_clipped_policy_loss_averages_over_real_tokens():
    logprobs = torch.log(torch.tensor([[1.1, 1.5, 0.5, 9.0]]))
    advantages = torch.tensor([[1.0, 1.0, -1.0, 1.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    out = clipped_policy_loss(logprobs, torch.zeros(1, 4), advantages, mask, 0.2)
    assert out.loss.item() == pytest.approx((-1.1 - 1.2 + 0.8) / 3)
    assert out.ratio.item() == pytest.approx((1.1 + 1.5 + 0.5) / 3)
    assert out.clipfrac.item() == pytest.approx(2 / 3)
    log_ratios = [math.log(1.1), math.log(1.5), math.log(0.5)]
    assert out.approx_kl.item() == pytest.approx(0.5 * sum(x * x for x in log_ratios) / 3)


def test_clipped_value_loss_clips_in_both_directions():
    values = torch.tensor([[-1.0, 0.5, 0.05]])
    old_values = torch.zeros(1, 3)
    returns = torch.tensor([[-1.0, 0.0, 1.0]])
    out = clipped_value_loss(values, old_values, returns, torch.ones(1, 3), 0.2)
    # token 0: clipped to -0.2, error 0.64 (> 0); token 1: clipped to 0.2, error 0.04
    # (< 0.25, the unclipped one counts); token 2: inside the range, error 0.9025
    assert out.loss.item() == pytest.approx(0.5 * (0.64 + 0.25 + 0.9025) / 3)
    assert out.clipfrac.item() == pytest.approx(1 / 3)
    assert out.error.item() == pytest.approx((0.0 + 0.25 + 0.9025) / 3)


def test_adaptive_kl_controller_by_hand():
    controller = AdaptiveKLController(init_kl_coef=0.5, target=4.0, horizon=100)
    controller.update(current_kl=5.0, n_steps=10)  # error 0.25, capped at 0.2
    assert controller.value == pytest.approx(0.5 * (1 + 0.2 * 10 / 100))
    controller = AdaptiveKLController(init_kl_coef=0.5, target=4.0, horizon=100)
    controller.update(current_kl=4.4, n_steps=10)  # error 0.1, inside the cap
    assert controller.value == pytest.approx(0.5 * (1 + 0.1 * 10 / 100))
    controller.update(current_kl=0.0, n_steps=20)  # error -1, capped at -0.2
    assert controller.value == pytest.approx(0.5 * 1.01 * (1 - 0.2 * 20 / 100))


def test_gae_of_single_token_responses():
    # One token per response: nothing follows it, so A = delta = r - V and the return is r.
    rewards, values = torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.5], [0.25]])
    advantages, returns = compute_gae(rewards, values, torch.ones(2, 1), gamma=0.9, lam=0.8)
    assert advantages.tolist() == [[1.5], [-1.25]]
    assert returns.tolist() == [[2.0], [-1.0]]


def test_masked_whiten_without_spread_gives_zeros_not_nan():
    # All real values equal (or a single real token): the variance is 0, and the 1e-8
    # under the square root keeps 0 / 0 from becoming NaN.
    values = torch.tensor([[0.5, 0.5, 7.0], [0.5, 3.0, 3.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert masked_whiten(values, mask).tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    kept = masked_whiten(values, mask, shift_mean=False)
    assert kept.tolist() == [[0.5, 0.5, 0.0], [0.5, 0.0, 0.0]]
    assert masked_whiten(torch.tensor([[4.0]]), torch.ones(1, 1)).tolist() == [[0.0]]


def test_clipped_value_loss_clips_around_the_old_values():
    values = torch.tensor([[1.5, 0.9, -0.5]])
    old_values = torch.tensor([[1.0, 1.0, 0.0]])
    returns = torch.tensor([[2.0, 0.0, -1.0]])
    out = clipped_value_loss(values, old_values, returns, torch.ones(1, 3), 0.2)
    # token 0: moved +0.5 from 1.0, clipped to 1.2: errors 0.25 and 0.64, the larger counts
    # token 1: moved -0.1, inside the range: error 0.81 either way
    # token 2: moved -0.5 from 0.0, clipped to -0.2: errors 0.25 and 0.64
    assert out.loss.item() == pytest.approx(0.5 * (0.64 + 0.81 + 0.64) / 3)
    assert out.clipfrac.item() == pytest.approx(2 / 3)
    assert out.error.item() == pytest.approx((0.25 + 0.81 + 0.25) / 3)


def test_results_keep_the_dtype_of_the_values_whatever_the_mask_s():
    """A mask is 0/1 in any dtype (bool, int, float64): it selects, it does not promote
    float32 statistics to float64, and the shares of clipped tokens are computed in the
    dtype of the values too."""
    values = torch.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 0.0]])
    other = torch.tensor([[0.5, 2.5, 3.0], [3.5, 4.0, 9.0]])
    int_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    for mask in (int_mask, int_mask.bool(), int_mask.double()):
        assert masked_mean(values, mask).dtype == torch.float32
        assert masked_mean(values, mask).item() == pytest.approx(3.0)
        assert masked_whiten(values, mask).dtype == torch.float32
        rewards, kl = per_token_rewards(torch.tensor([1.0, 2.0]), values, other, mask, 0.1)
        assert (rewards.dtype, kl.dtype) == (torch.float32, torch.float32)
        advantages, returns = compute_gae(values, other, mask, gamma=1.0, lam=0.9)
        assert (advantages.dtype, returns.dtype) == (torch.float32, torch.float32)
    doubles, mask = values.double() / 10, int_mask.float()
    policy = clipped_policy_loss(doubles, torch.zeros_like(doubles), doubles, mask, 0.2)
    value = clipped_value_loss(doubles, torch.zeros_like(doubles), doubles, mask, 0.2)
    assert policy.clipfrac.dtype == value.clipfrac.dtype == torch.float64


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
