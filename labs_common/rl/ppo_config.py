"""The settings of Lab 3's PPO (:class:`PPOConfig`) and what one step returns (:class:`StepResult`).

:class:`~labs_common.rl.ppo.PPOTrainer` takes a :class:`PPOConfig` and returns a
:class:`StepResult` from each :meth:`~labs_common.rl.ppo.PPOTrainer.step`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class PPOConfig:
    """Every knob of Lab 3's PPO; the defaults follow the 2023 course where it set one."""

    # --- optimization
    learning_rate: float = 1.41e-5  # Adam step size for the adapter and the value head
    batch_size: int = 16  # prompts per PPO step (the size the lab's loop draws)
    mini_batch_size: int = 4  # responses per gradient step within an epoch
    ppo_epochs: int = 1  # passes over each batch (the course used 1)
    max_grad_norm: float | None = 1.0  # clip the gradient norm to this; None: no clipping
    forward_batch_size: int | None = None  # rows per no-gradient forward; None: mini_batch_size
    # --- KL penalty: reward -= kl_coef * (log p_policy - log p_reference), per token
    init_kl_coef: float = 0.2  # starting KL coefficient (beta)
    adaptive_kl: bool = True  # adapt beta toward target_kl (False: beta stays init_kl_coef)
    target_kl: float = 6.0  # the per-response KL the adaptive controller aims for
    horizon: int = 10_000  # episodes over which beta may change by about 20 %
    # --- advantages (GAE)
    gamma: float = 1.0  # discount per token (1: the end score counts fully at every token)
    lam: float = 0.95  # GAE lambda: 1 = Monte Carlo returns, 0 = one-step TD
    # --- losses
    cliprange: float = 0.2  # policy ratio is clipped to [1 - cliprange, 1 + cliprange]
    cliprange_value: float = 0.2  # new values stay within this of the old ones
    vf_coef: float = 0.1  # weight of the value loss in the total loss
    # --- sampling the responses
    do_sample: bool = True  # sample (True) rather than decode greedily
    top_k: int = 0  # 0: no top-k filtering (pure sampling, as in the course)
    top_p: float = 1.0  # 1.0: no nucleus filtering
    min_new_tokens: int = 1  # shortest response, in tokens
    max_new_tokens: int = 64  # longest response, in tokens (unless the range below is set)
    max_new_tokens_range: tuple[int, int] | None = None  # draw max_new_tokens per batch from
    #   low..high inclusive (the course drew from 100..400); None: always max_new_tokens
    max_prompt_length: int | None = 512  # prompts are truncated to this many tokens
    # --- speed and memory
    gradient_checkpointing: bool = False  # keep no layer activations for the backward pass of
    #   the update and recompute them instead: much less GPU memory, a slower update
    pad_to_multiple_of: int | None | Literal["auto"] = "auto"  # round each mini-batch's prompt
    #   and response lengths up to a multiple of this (masked padding: the losses and stats
    #   do not change); "auto": 64 on a GPU, where every new shape costs time, None on a CPU
    # --- reproducibility
    seed: int = 0  # seeds torch when the trainer is built, the length draws and the shuffling


@dataclass
class StepResult:
    """What one PPO step did: its statistics and the episodes it learned from."""

    stats: dict[str, float]
    queries: list[str]
    responses: list[str]
    rewards: list[float]
    samples: list[dict] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One dict per episode, ready for pandas.DataFrame.
        self.samples = [
            {"query": q, "response": r, "reward": s}
            for q, r, s in zip(self.queries, self.responses, self.rewards, strict=True)
        ]
