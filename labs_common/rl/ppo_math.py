"""The arithmetic of PPO as small pure functions on masked tensors (Lab 3).

Lab 3 fine-tunes a summarizer with PPO. Each sampled summary is a row of tokens; rows
have different lengths, so every per-token tensor here has shape ``(B, T)`` (B
responses, T the longest response) and comes with a ``mask`` of the same shape:
1 for a real response token (up to and including its end-of-sequence token), 0 for
the padding after it. Responses are right-padded: in every row the 1s come first.

The functions, in the order a PPO step uses them:

* :func:`mask_after_eos`: which generated tokens belong to the response;
* :func:`logprobs_from_logits`, :func:`entropy_from_logits`, :func:`kl_from_logits`;
* :func:`masked_mean`, :func:`masked_var`, :func:`masked_whiten`: statistics over real tokens;
* :func:`per_token_rewards`: the KL penalty on every token plus the score on the last one;
* :func:`compute_gae`: advantages and returns (generalized advantage estimation);
* :func:`clipped_policy_loss`, :func:`clipped_value_loss`: PPO's two clipped objectives;
* :class:`AdaptiveKLController`, :class:`FixedKLController`: the KL coefficient beta.

:mod:`labs_common.rl.ppo` puts them together into a trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor


def mask_after_eos(response_ids: Tensor, eos_token_ids: Sequence[int]) -> Tensor:
    """1 for each token up to and including the first EOS of its row, 0 after it.

    ``generate`` pads finished rows, and a causal model's pad token is often its EOS
    token, so the padding cannot be told from the tokens: only the position of the
    first EOS can. A row without EOS (cut at ``max_new_tokens``) is all 1s.
    """
    eos = torch.tensor(list(eos_token_ids), device=response_ids.device)
    is_eos = torch.isin(response_ids, eos).long()  # (B, T)
    eos_seen_before = (is_eos.cumsum(dim=1) - is_eos) > 0  # (B, T)
    return (~eos_seen_before).long()


def logprobs_from_logits(logits: Tensor, tokens: Tensor) -> Tensor:
    """log p(token) for each position: logits (B, T, V) and tokens (B, T) give (B, T)."""
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of the next-token distribution at each position: (B, T, V) -> (B, T)."""
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(-1)


def kl_from_logits(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """KL(p || q) between two next-token distributions at each position, summed over
    the vocabulary: (B, T, V) twice -> (B, T). Exact, hence never negative."""
    log_p = torch.log_softmax(logits_p, dim=-1)
    log_q = torch.log_softmax(logits_q, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``values`` over the positions where ``mask`` is 1 (over all, or along ``dim``)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum()
    return (values * mask).sum(dim) / mask.sum(dim)


def masked_var(values: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of ``values`` over the masked-in positions (with Bessel's correction
    when ``unbiased`` and there are at least two of them)."""
    centered = values - masked_mean(values, mask)
    variance = masked_mean(centered**2, mask)
    count = mask.sum()
    if unbiased and count > 1:
        variance = variance * count / (count - 1)
    return variance


def masked_whiten(values: Tensor, mask: Tensor, shift_mean: bool = True) -> Tensor:
    """Rescale the masked-in values to variance 1 (and mean 0 if ``shift_mean``).

    Padding positions come out as 0. PPO whitens its advantages this way, so after
    whitening their mean is 0 by construction: "maximizing the advantages" means
    nothing; the policy moves toward the tokens whose advantage is above average.
    """
    mean = masked_mean(values, mask)
    whitened = (values - mean) * torch.rsqrt(masked_var(values, mask) + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(values.dtype)


def per_token_rewards(
    scores: Tensor, logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor, kl_coef: float
) -> tuple[Tensor, Tensor]:
    """The reward PPO maximizes, token by token, and the KL estimate it penalizes.

    Every response token pays ``kl_coef * (log p_policy - log p_reference)`` of the token
    it sampled; the last real token also receives the reward model's ``score`` (B,).
    Summed over a response, the penalty estimates ``kl_coef * KL(policy || reference)``.
    Returns ``(rewards, kl)``, both (B, T) and 0 on padding.
    """
    mask = mask.to(logprobs.dtype)
    kl = (logprobs - ref_logprobs) * mask  # (B, T)
    rewards = -kl_coef * kl
    last = mask.sum(dim=1).long() - 1  # (B,) index of each row's last real token
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last] += scores.to(rewards.dtype)
    return rewards, kl


def compute_gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation over right-padded responses.

    With ``delta_t = r_t + gamma * V_{t+1} - V_t`` (and V = 0 after the last token),
    the advantage is ``A_t = delta_t + gamma * lam * A_{t+1}`` and the return, the value
    head's target, is ``A_t + V_t``. The loop runs over time, batched over responses.
    Returns ``(advantages, returns)``, both (B, T) and 0 on padding.
    """
    mask = mask.to(values.dtype)
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    next_advantage = torch.zeros_like(values[:, 0])  # (B,)
    next_value = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    advantages = advantages * mask
    returns = (advantages + values) * mask
    return advantages, returns


class PolicyLoss(NamedTuple):
    loss: Tensor  # the clipped surrogate loss to minimize (scalar)
    ratio: Tensor  # mean of pi_new / pi_old over real tokens
    clipfrac: Tensor  # share of real tokens where clipping took effect
    approx_kl: Tensor  # 0.5 * mean (log pi_new - log pi_old)^2, a drift gauge


def clipped_policy_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, cliprange: float
) -> PolicyLoss:
    """PPO's clipped surrogate: ``max(-A * ratio, -A * clip(ratio, 1-eps, 1+eps))``, averaged.

    Once the ratio has moved past ``1 + eps`` for a positive advantage (or below
    ``1 - eps`` for a negative one), the loss is flat in the ratio: no gradient pushes
    the policy further from the policy that sampled the batch.
    """
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    return PolicyLoss(
        loss=masked_mean(torch.maximum(unclipped, clipped), mask),
        ratio=masked_mean(ratio, mask),
        clipfrac=masked_mean((clipped > unclipped).to(ratio.dtype), mask),
        approx_kl=0.5 * masked_mean(log_ratio**2, mask),
    )


class ValueLoss(NamedTuple):
    loss: Tensor  # 0.5 * the clipped squared error (scalar)
    clipfrac: Tensor  # share of real tokens where the clipped error was the larger one
    error: Tensor  # mean squared error of the new values against the returns


def clipped_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, cliprange_value: float
) -> ValueLoss:
    """The value head's loss: squared error to the returns, with the new value kept
    within ``cliprange_value`` of the old one (the larger of the two errors counts)."""
    values_clipped = old_values + torch.clamp(
        values - old_values, -cliprange_value, cliprange_value
    )
    error = (values - returns) ** 2
    error_clipped = (values_clipped - returns) ** 2
    return ValueLoss(
        loss=0.5 * masked_mean(torch.maximum(error, error_clipped), mask),
        clipfrac=masked_mean((error_clipped > error).to(values.dtype), mask),
        error=masked_mean(error, mask),
    )


class FixedKLController:
    """A constant KL coefficient beta."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> None:
        """Nothing to adapt."""


class AdaptiveKLController:
    """Beta that steers the measured KL toward a target (Ziegler et al., 2019, section 2.2).

    After each batch, ``error = clip(KL / target - 1, -0.2, 0.2)`` and beta is multiplied by
    ``1 + error * n_steps / horizon``: too much KL raises beta, too little lowers it, by
    at most 20 % per ``horizon`` episodes.
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int):
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """Adapt beta after a batch of ``n_steps`` episodes whose mean KL was ``current_kl``."""
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
