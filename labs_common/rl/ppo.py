"""A compact PPO trainer for a LoRA policy, seq2seq or causal (Lab 3).

trl 0.4 to 0.11 ran PPO on encoder-decoder models such as FLAN-T5, through
``AutoModelForSeq2SeqLMWithValueHead`` (the 2023 course did). The PPO trainer that
replaced it in later releases supports causal models only, and trl 1.13 removed PPO
altogether, so Lab 3 uses this one: the arithmetic of :mod:`labs_common.rl.ppo_math`, the
sampling and logits of :mod:`labs_common.rl.rollout`, the policy and reference of
:mod:`labs_common.rl.policy`, plus a value head (``nn.Linear(hidden_size, 1)`` on the
decoder's last hidden state). Only the adapter and the value head train; the model stays in
eval mode, so the log-probabilities PPO compares are not noise and the first mini-batch's
ratio is 1. :meth:`PPOTrainer.kl_to_reference` is exactly 0 at step 0, and
:meth:`PPOTrainer.kl_to_base` is not: the 2023 course measured KL to the base model by
accident, which is why its KL was about 29 at the first step, before any update.

:meth:`PPOTrainer.step` samples a response per prompt, scores the responses with a reward
function (``list[str] -> list[float]``) and runs PPO epochs on them, one gradient step per
mini-batch: :meth:`~PPOTrainer.optimize` and ``_update``, which follow ``step`` below in the
order they run. :meth:`~PPOTrainer.generate` and :meth:`~PPOTrainer.optimize` are public,
so that a lab can run a step by hand.

**Several processes** (``accelerate launch``): given an ``Accelerator``, the trainer lets it
prepare the model, the value head and the optimizer. Each process samples and scores its
share of a step's prompts; advantages are whitened, the KL controller is updated and the
statistics are computed over all processes, and each gradient step weighs the processes by
their tokens, as one process would on the whole batch. Each of these is a call on
``processes`` (:mod:`labs_common.rl.processes`), inline where it happens; on one process
it returns its input, so a one-process reader may skip them.

The statistics keep the names of trl's former PPO trainer (``objective/kl``,
``ppo/policy/ratio``, ...), so plots and intuitions carry over.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel
from torch import Tensor, nn

from labs_common.device import padding_multiple
from labs_common.rl import checkpoint
from labs_common.rl.policy import (
    Which,
    adapter_weights,
    end_of_sequence_ids,
    inference_config,
    load_adapter_weights,
    prepare_policy,
    recomputing_activations,
    require_pad_token,
    using_adapter,
)
from labs_common.rl.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    kl_from_logits,
    logprobs_from_logits,
    per_token_rewards,
)
from labs_common.rl.processes import Processes
from labs_common.rl.rollout import RewardFn, Rollout, forward_logits, sample_rollout


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


class PPOTrainer:
    """PPO on a peft LoRA policy with a value head (Lab 3).

    >>> trainer = PPOTrainer(PPOConfig(), model=peft_model, tokenizer=tok, reward_fn=fn)
    >>> result = trainer.step(prompts)          # sample, score, optimize
    >>> result.stats["objective/kl"], result.samples[0]

    ``model`` is a ``PeftModel`` whose active adapter is trained, or a plain model that
    ``lora_config`` gives a new adapter (:func:`~labs_common.rl.policy.prepare_policy`).
    The trainer builds the value head, seeds torch with ``config.seed``, puts the model in
    eval mode and owns the optimizer. With an ``accelerator``, ``batch_size`` and
    ``mini_batch_size`` count prompts over all processes (multiples of the process count),
    ``step`` takes the whole batch and :meth:`optimize` this process's part of a rollout;
    ``generate`` and the KL measurements work on each process by itself.
    """

    def __init__(
        self,
        config: PPOConfig,
        model: PeftModel | nn.Module,
        tokenizer,
        reward_fn: RewardFn,
        lora_config: LoraConfig | None = None,
        accelerator=None,
    ):
        self.config = config
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.processes = Processes(accelerator)
        self.processes.check_divides("batch_size", config.batch_size)
        self.processes.check_divides("mini_batch_size", config.mini_batch_size)
        torch.manual_seed(config.seed)
        self._length_rng = random.Random(config.seed)
        self._shuffle_rng = torch.Generator().manual_seed(config.seed)
        require_pad_token(tokenizer)

        # A frozen copy of the starting adapter is the reference (no second base model); a
        # plain model gets a new adapter, and the base model is its reference.
        model, self.policy_adapter, self.reference_adapter = prepare_policy(model, lora_config)
        if accelerator is not None:
            model.to(accelerator.device)
        self.model = model  # the model itself: sampling, adapters, saving
        self.is_encoder_decoder = bool(model.config.is_encoder_decoder)
        self.decoder_start_token_id = getattr(model.config, "decoder_start_token_id", None)
        self.device = next(model.parameters()).device
        multiple = config.pad_to_multiple_of
        self.pad_multiple = padding_multiple(self.device) if multiple == "auto" else multiple
        self.eos_token_ids = end_of_sequence_ids(model, tokenizer)

        hidden_size = model.config.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden_size, 1).to(self.device)
        nn.init.normal_(self.value_head.weight, std=0.01)  # small: values start near 0
        nn.init.zeros_(self.value_head.bias)

        adapter_parameters = [p for p in model.parameters() if p.requires_grad]
        self.trainable_parameters = adapter_parameters + list(self.value_head.parameters())
        self.optimizer = torch.optim.Adam(self.trainable_parameters, lr=config.learning_rate)
        # What the update's forward passes run through: the model and the head themselves
        # on one process; their prepared wrappers, which average gradients, on several.
        self._trained_model, self._trained_value_head = model, self.value_head
        if accelerator is not None:
            self._trained_model, self._trained_value_head, self.optimizer = accelerator.prepare(
                model, self.value_head, self.optimizer
            )
        if self.processes.many:  # the same start everywhere, then each process its own samples
            torch.manual_seed(config.seed + self.processes.index)
        if config.adaptive_kl:
            self.kl_controller = AdaptiveKLController(
                config.init_kl_coef, config.target_kl, config.horizon
            )
        else:
            self.kl_controller = FixedKLController(config.init_kl_coef)
        self.steps_done = 0

    # ------------------------------------------------------------------ the PPO step

    def step(self, prompts: Sequence[str]) -> StepResult:
        """One PPO step: sample a response per prompt, score them, optimize on them.

        On several processes each one samples and scores its share of ``prompts``; the
        result holds the episodes of all of them, in the order of ``prompts``.
        """
        start = time.perf_counter()
        # 1. Roll out: sample one response per prompt (this process's share) from the policy.
        rollout = self.generate(self.processes.share(prompts))
        # 2. Score: one reward per response from the reward function.
        rewards = [float(r) for r in self.reward_fn(rollout.responses)]
        # 3.-7. Optimize on them (see optimize).
        stats = self.optimize(rollout, rewards)
        stats["time/step_seconds"] = time.perf_counter() - start
        gather = self.processes.gather_objects
        return StepResult(stats, gather(rollout.queries), gather(rollout.responses),
                          gather(rewards))

    def optimize(self, rollout: Rollout, rewards: Sequence[float] | Tensor) -> dict[str, float]:
        """PPO epochs on a rollout and one reward per response; returns the step's stats.

        The main statistics, and what healthy values look like:

        * ``objective/kl``: log p_policy - log p_reference, summed over each sampled
          response and averaged; 0 at the first step, then growing as the policy moves.
          It is a sampled estimate, so one batch can come out slightly negative.
        * ``objective/kl_coef``: beta used this step (the adaptive controller moves it).
        * ``objective/entropy``: -log p of the sampled tokens, summed per response; a
          collapse toward 0 means the policy keeps repeating the same response.
        * ``ppo/policy/ratio`` (near 1) and ``ppo/policy/clipfrac`` (a few per cent):
          how far each update moved; far from 1 or a high clipfrac means the learning
          rate is too high.
        * ``ppo/policy/advantages_mean``: about 0 by construction (advantages are whitened).
        * ``ppo/returns/mean``, ``ppo/val/error``: the value head's targets and its error.
        * ``env/reward_mean``, ``env/reward_std``: the reward function's scores.

        On several processes ``rollout`` and ``rewards`` are this process's part of the
        batch, and every statistic is computed over the parts of all processes.
        """
        start = time.perf_counter()
        config = self.config
        processes = self.processes
        scores = torch.as_tensor(rewards, dtype=torch.float32, device=self.device).reshape(-1)
        if scores.numel() != len(rollout):
            raise ValueError(f"Got {scores.numel()} rewards for {len(rollout)} responses.")
        if processes.any(not torch.isfinite(scores).all()):
            raise RuntimeError(
                f"The reward function returned non-finite rewards ({scores.tolist()}); "
                "check it on these responses before training on them."
            )
        self.model.eval()
        mask = rollout.response_mask.float()  # (B, R)

        # 3. Log-probs and values of the policy that sampled, log-probs of the reference.
        with torch.no_grad():
            old_logprobs, old_values = self._score(rollout, "policy", with_values=True)
            ref_logprobs, _ = self._score(rollout, "reference", with_values=False)
        self._check_finite("the policy's log-probabilities or values", old_logprobs, old_values)

        # 4. Per-token rewards: the KL penalty on each token, the score on the last one.
        kl_coef = self.kl_controller.value
        token_rewards, kl = per_token_rewards(scores, old_logprobs, ref_logprobs, mask, kl_coef)

        # 5. Advantages and returns by GAE; advantages whitened over the batch (all processes).
        advantages, returns = compute_gae(token_rewards, old_values, mask, config.gamma, config.lam)
        advantages = processes.masked_whiten(advantages, mask)

        # 6. PPO epochs over shuffled mini-batches: clipped policy + value loss, one Adam step
        #    each. On several processes each contributes its share of every mini-batch.
        records: dict[str, list[float]] = {}
        rows_per_update = config.mini_batch_size // processes.count
        with self._recomputing_activations():
            for _ in range(config.ppo_epochs):
                order = torch.randperm(len(rollout), generator=self._shuffle_rng).to(self.device)
                for rows in order.split(rows_per_update):
                    batch_stats = self._update(
                        rollout, rows, mask, old_logprobs, old_values, advantages, returns
                    )
                    for name, number in batch_stats.items():
                        records.setdefault(name, []).append(number)

        # 7. Adapt the KL coefficient to the KL of this batch (all processes), and report.
        gather = processes.gather  # per response: every process's rows, one after the other
        kl_per_response = gather(kl.sum(dim=1))  # (B,) summed log-ratio of each response
        scores = gather(scores)
        self.kl_controller.update(float(kl_per_response.mean()), len(kl_per_response))
        self.steps_done += 1
        stats = {
            "objective/kl": float(kl_per_response.mean()),
            "objective/kl_coef": kl_coef,
            "objective/entropy": float(gather((-old_logprobs * mask).sum(dim=1)).mean()),
            "ppo/mean_non_score_reward": float(gather((-kl_coef * kl).sum(dim=1)).mean()),
            "ppo/returns/mean": float(processes.masked_mean(returns, mask)),
            "ppo/policy/advantages_mean": float(processes.masked_mean(advantages, mask)),
            "ppo/val/mean": float(processes.masked_mean(old_values, mask)),
            **{name: sum(numbers) / len(numbers) for name, numbers in records.items()},
            "env/reward_mean": float(scores.mean()),
            "env/reward_std": float(scores.std(correction=1 if len(scores) > 1 else 0)),
            "tokens/response_length_mean": float(gather(mask.sum(dim=1)).mean()),
            "time/step_seconds": time.perf_counter() - start,
        }
        return stats

    def _update(
        self,
        rollout: Rollout,
        rows: Tensor,
        mask: Tensor,
        old_logprobs: Tensor,
        old_values: Tensor,
        advantages: Tensor,
        returns: Tensor,
    ) -> dict[str, float]:
        """One gradient step on the mini-batch ``rows``: clipped policy + value loss, Adam."""
        config = self.config
        logprobs, values = self.policy_outputs(rollout, rows)
        length = logprobs.shape[1]
        batch_mask = mask[rows, :length]
        policy = clipped_policy_loss(
            logprobs, old_logprobs[rows, :length], advantages[rows, :length], batch_mask,
            config.cliprange,
        )
        value = clipped_value_loss(
            values, old_values[rows, :length], returns[rows, :length], batch_mask,
            config.cliprange_value,
        )
        loss = policy.loss + config.vf_coef * value.loss
        self._check_finite("the PPO loss", loss)
        self.optimizer.zero_grad()
        # Both losses are means over this process's tokens: on several processes each is
        # weighed by its share of the mini-batch's tokens (as one process on all of them).
        self.processes.backward_token_mean(loss, batch_mask.sum())
        grad_norm = self._clip_gradients()
        self.optimizer.step()
        numbers = {
            "ppo/loss/policy": policy.loss,
            "ppo/loss/value": value.loss,
            "ppo/loss/total": loss,
            "ppo/policy/ratio": policy.ratio,
            "ppo/policy/clipfrac": policy.clipfrac,
            "ppo/policy/approxkl": policy.approx_kl,
            "ppo/val/error": value.error,
            "ppo/val/clipfrac": value.clipfrac,
        }
        # Means over the mini-batch's tokens of all processes; the gradient norm is that of
        # the averaged gradient, the same on every process.
        numbers = self.processes.weighted_means(numbers, batch_mask.sum())
        numbers["ppo/grad_norm"] = grad_norm
        return {name: float(number.detach()) for name, number in numbers.items()}

    def policy_outputs(self, rollout: Rollout, rows: Tensor | None = None
                       ) -> tuple[Tensor, Tensor]:
        """Log-probs of the sampled tokens and the value head's values, **with gradients**:
        what an update differentiates. ``rows``: a mini-batch of the rollout (all rows by
        default). Both are (rows, L), L the longest response among those rows; for all
        rows L is the rollout's width, so they line up with its response mask.
        """
        if rows is None:
            rows = torch.arange(len(rollout), device=self.device)
        batch = rollout.select(rows, left_padded_queries=not self.is_encoder_decoder,
                               multiple=self.pad_multiple)
        logits, values = self._forward(batch, with_values=True, trained=True)
        logprobs = logprobs_from_logits(logits, batch.response_ids)
        width = rollout.response_ids.shape[1]
        if len(rows) == len(rollout) and logprobs.shape[1] < width:  # trimmed: pad back
            pad = (0, width - logprobs.shape[1])
            logprobs, values = F.pad(logprobs, pad), F.pad(values, pad)
        return logprobs, values

    # ------------------------------------------------------------ reading the policy on a rollout

    def _score(self, rollout: Rollout, which: Which, with_values: bool) -> tuple[Tensor, Tensor]:
        """Log-probs (and values) of a whole rollout, forward pass by forward pass: (B, R)."""
        logprobs = torch.zeros(rollout.response_ids.shape, device=self.device)
        values = torch.zeros(rollout.response_ids.shape, device=self.device)
        with self._using(which):
            for rows in self._forward_chunks(len(rollout)):
                batch = rollout.select(rows, left_padded_queries=not self.is_encoder_decoder,
                                       multiple=self.pad_multiple)
                length = batch.response_ids.shape[1]
                logits, chunk_values = self._forward(batch, with_values=with_values)
                logprobs[rows, :length] = logprobs_from_logits(logits, batch.response_ids)
                if with_values:
                    values[rows, :length] = chunk_values
        mask = rollout.response_mask.float()
        return logprobs * mask, values * mask

    def _forward(self, batch: Rollout, with_values: bool, trained: bool = False
                 ) -> tuple[Tensor, Tensor | None]:
        """Logits predicting each response token (B, R, V) and, if asked, values (B, R).

        ``trained``: through the prepared model and value head, whose gradients the
        processes average (the update); otherwise through the model itself (no gradient).
        """
        model, value_head = self.model, self.value_head
        if trained:
            model, value_head = self._trained_model, self._trained_value_head
        logits, hidden = forward_logits(
            model, batch, is_encoder_decoder=self.is_encoder_decoder,
            decoder_start_token_id=self.decoder_start_token_id, with_hidden=with_values,
        )
        values = None
        if with_values:
            values = value_head(hidden.to(self.value_head.weight.dtype)).squeeze(-1)
        return logits.float(), values

    def _forward_chunks(self, size: int) -> list[Tensor]:
        chunk = self.config.forward_batch_size or self.config.mini_batch_size
        return list(torch.arange(size, device=self.device).split(chunk))

    def _using(self, which: Which):
        """Run the block with the policy adapter, the frozen reference or no adapter."""
        return using_adapter(self.model, which, self.policy_adapter, self.reference_adapter)

    # ------------------------------------------------------------------ the update's safeguards

    def _recomputing_activations(self):
        """Gradient checkpointing for the update, with ``config.gradient_checkpointing``."""
        return recomputing_activations(self.model, self.config.gradient_checkpointing)

    def _clip_gradients(self) -> Tensor:
        max_norm = self.config.max_grad_norm
        norm = torch.nn.utils.clip_grad_norm_(
            self.trainable_parameters, max_norm if max_norm is not None else float("inf")
        )
        self._check_finite("the gradient norm", norm)
        return norm

    def _check_finite(self, what: str, *tensors: Tensor) -> None:
        """Stop with advice instead of training on NaN or infinity (on every process)."""
        if not self.processes.any(not all(bool(torch.isfinite(t).all()) for t in tensors)):
            return
        raise RuntimeError(
            f"PPO step {self.steps_done}: {what} contains NaN or infinity, so the update "
            f"was not applied. The policy or value head has diverged. Lower the learning "
            f"rate (learning_rate={self.config.learning_rate}), keep gradient clipping on "
            f"(max_grad_norm={self.config.max_grad_norm}), and check that the rewards are "
            f"of a sensible size; then restart from the saved starting adapter."
        )

    # ------------------------------------------------------------------ sampling

    def generate(
        self,
        prompts: Sequence[str],
        *,
        use_reference: bool = False,
        use_base: bool = False,
        max_new_tokens: int | None = None,
        **generation_kwargs,
    ) -> Rollout:
        """Sample one response per prompt, in one batched ``generate`` call, dropout off.

        ``use_reference=True`` samples from the policy PPO started from (for "before"
        samples), ``use_base=True`` from the base model without adapter. ``max_new_tokens``
        overrides the config (and its range); ``generation_kwargs`` override the sampling
        settings, e.g. ``do_sample=False`` for greedy summaries. Responses meant for
        :meth:`optimize` should come without them: they would be drawn from another
        distribution than the one PPO computes log-probabilities of.
        """
        which: Which = "base" if use_base else "reference" if use_reference else "policy"
        if max_new_tokens is None:
            max_new_tokens = self._draw_max_new_tokens()
        settings = {
            "do_sample": self.config.do_sample,
            "top_k": self.config.top_k,
            "top_p": self.config.top_p,
            "min_new_tokens": min(self.config.min_new_tokens, max_new_tokens),
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            **generation_kwargs,
        }
        if not settings["do_sample"]:  # greedy: the sampling filters would only warn
            del settings["top_k"], settings["top_p"]
        with self._using(which):
            return sample_rollout(
                self.model, self.tokenizer, prompts, settings, eos_token_ids=self.eos_token_ids,
                max_prompt_length=self.config.max_prompt_length, device=self.device,
            )

    def _draw_max_new_tokens(self) -> int:
        if self.config.max_new_tokens_range is None:
            return self.config.max_new_tokens
        low, high = self.config.max_new_tokens_range
        return self._length_rng.randint(low, high)

    # ------------------------------------------------------------------ measuring

    def response_logprobs(self, rollout: Rollout, which: Which = "policy") -> Tensor:
        """log p of each response token under the policy, the reference or the base: (B, R)."""
        with torch.no_grad():
            logprobs, _ = self._score(rollout, which, with_values=False)
        return logprobs * rollout.response_mask

    def response_values(self, rollout: Rollout) -> Tensor:
        """The value head's estimate at each response token of the policy: (B, R)."""
        with torch.no_grad():
            _, values = self._score(rollout, "policy", with_values=True)
        return values

    def kl_to_reference(self, prompts_or_rollout: Sequence[str] | Rollout) -> float:
        """KL(policy || the policy PPO started from), per response, averaged.

        Responses are sampled from the policy (or taken from the given rollout). At each
        of their tokens the KL between the two next-token distributions is computed
        exactly over the vocabulary, then summed along the response: an estimate of the
        sequence-level KL that, unlike the per-sample log-ratio, is never negative.
        """
        return self._kl_to("reference", prompts_or_rollout)

    def kl_to_base(self, prompts_or_rollout: Sequence[str] | Rollout) -> float:
        """KL(policy || the base model without adapter), measured as in :meth:`kl_to_reference`."""
        return self._kl_to("base", prompts_or_rollout)

    def _kl_to(self, which: Which, prompts_or_rollout: Sequence[str] | Rollout) -> float:
        rollout = prompts_or_rollout
        if not isinstance(rollout, Rollout):
            rollout = self.generate(rollout)
        self.model.eval()
        totals = []
        with torch.no_grad():
            for rows in self._forward_chunks(len(rollout)):
                batch = rollout.select(rows, left_padded_queries=not self.is_encoder_decoder,
                                       multiple=self.pad_multiple)
                policy_logits, _ = self._forward(batch, with_values=False)
                with self._using(which):
                    other_logits, _ = self._forward(batch, with_values=False)
                kl = kl_from_logits(policy_logits, other_logits) * batch.response_mask
                totals.append(kl.sum(dim=1))
        return float(torch.cat(totals).mean())

    # ------------------------------------------------------------------ saving and resuming

    def state_dict(self) -> dict:
        """What a resumed run needs (:meth:`save` writes it): ``adapter`` (the policy adapter's
        weights) and ``adapter_config``, ``value_head``, ``config`` (the PPO settings) and
        ``trainer``: the Adam state, the KL coefficient, the step count and the random
        generators (torch's, CUDA's on a GPU, the shuffling's and the length draws'). As in
        torch, the tensors are the trainer's own: copy them to keep them past the next step."""
        cuda = self.device.type == "cuda"
        return {
            "adapter": adapter_weights(self.model, self.policy_adapter),
            "adapter_config": inference_config(self.model, self.policy_adapter),
            "value_head": self.value_head.state_dict(),
            "config": asdict(self.config),
            "trainer": {
                "optimizer": self.optimizer.state_dict(),
                "kl_coef": float(self.kl_controller.value),
                "steps_done": self.steps_done,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
                "shuffle_rng": self._shuffle_rng.get_state(),
                "length_rng": self._length_rng.getstate(),
            },
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` gave (its ``adapter``, ``value_head`` and ``trainer``).

        Weights that lack some of this policy's or value head's, or that it has no place for,
        raise ``ValueError``. The reference adapter stays as it is: the policy PPO started
        from in this trainer.
        """
        load_adapter_weights(self.model, self.policy_adapter, state["adapter"])
        head = state["value_head"]
        if head.keys() != self.value_head.state_dict().keys():
            raise ValueError(
                f"The saved state's value head has the weights {sorted(head)}, this trainer's "
                f"has {sorted(self.value_head.state_dict())}."
            )
        self.value_head.load_state_dict(head)
        trainer = state["trainer"]
        self.optimizer.load_state_dict(trainer["optimizer"])
        self.kl_controller.value = trainer["kl_coef"]
        self.steps_done = trainer["steps_done"]
        torch.set_rng_state(trainer["torch_rng"])
        if trainer["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(trainer["cuda_rng"], self.device)
        self._shuffle_rng.set_state(trainer["shuffle_rng"])
        self._length_rng.setstate(trainer["length_rng"])

    def save(self, directory: str | Path) -> Path:
        """Write :meth:`state_dict` into ``directory`` (:mod:`labs_common.rl.checkpoint`).

        The adapter (peft format) reloads on its own with
        ``PeftModel.from_pretrained(base, directory)`` for sampling; :meth:`load` resumes the
        run, which then continues as the uninterrupted one would have. On several processes
        the main one writes, after the others have come to the same point; the random
        generators saved are its own.
        """
        directory = Path(directory)
        self.processes.wait()
        if self.processes.is_main:  # on several processes, the main one writes
            checkpoint.write_checkpoint(self.state_dict(), directory)
        self.processes.wait()
        return directory

    def load(self, directory: str | Path) -> None:
        """Resume from a checkpoint written by :meth:`save` (see :meth:`load_state_dict`).

        The KL coefficient goes on from where it was (not from ``init_kl_coef``), and the
        random generators too (torch's included, which sampling draws from). A checkpoint
        that lacks any part, or holds weights this policy has no place for, raises
        ``ValueError``.
        """
        directory = Path(directory)
        state = checkpoint.read_checkpoint(directory, self.device)
        try:
            self.load_state_dict(state)
        except ValueError as error:
            raise ValueError(f"{directory}: {error}") from None
