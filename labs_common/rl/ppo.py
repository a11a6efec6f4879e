"""A compact PPO trainer for a LoRA policy, seq2seq or causal (Lab 3).

trl 0.4 to 0.11 ran PPO on encoder-decoder models such as FLAN-T5, through
``AutoModelForSeq2SeqLMWithValueHead`` (the 2023 course did). The PPO trainer that
replaced it in later releases supports causal models only, and trl 1.13 removed PPO
altogether, so Lab 3 uses this one: the arithmetic of :mod:`labs_common.rl.ppo_math` applied
to the policy, reference and value head of :mod:`labs_common.rl.actor_critic`, which also
samples the responses, reads their log-probabilities and values and measures the KL
(:meth:`~labs_common.rl.actor_critic.ActorCritic.kl_to_reference` is exactly 0 at step 0,
:meth:`~labs_common.rl.actor_critic.ActorCritic.kl_to_base` is not: the 2023 course measured
KL to the base model by accident, which is why its KL was about 29 at the first step, before
any update). The settings are :class:`~labs_common.rl.ppo_config.PPOConfig`.

:meth:`PPOTrainer.step` samples a response per prompt, scores the responses with a reward
function (``list[str] -> list[float]``) and runs PPO epochs on them, one gradient step per
mini-batch: :meth:`~PPOTrainer.optimize` and ``_update``, which follow ``step`` below in the
order they run. Only the adapter and the value head train; the model stays in eval mode, so
the first mini-batch's ratio is 1. :meth:`~PPOTrainer.generate` and
:meth:`~PPOTrainer.optimize` are public, so that a lab can run a step by hand.

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

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel
from torch import Tensor, nn

from labs_common.rl import checkpoint
from labs_common.rl.actor_critic import ActorCritic
from labs_common.rl.policy import (
    adapter_weights,
    inference_config,
    load_adapter_weights,
    recomputing_activations,
)
from labs_common.rl.ppo_config import PPOConfig, StepResult
from labs_common.rl.ppo_math import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    compute_gae,
    per_token_rewards,
)
from labs_common.rl.processes import Processes
from labs_common.rl.rollout import RewardFn, Rollout


class PPOTrainer(ActorCritic):
    """PPO on a peft LoRA policy with a value head (Lab 3).

    >>> trainer = PPOTrainer(PPOConfig(), model=peft_model, tokenizer=tok, reward_fn=fn)
    >>> result = trainer.step(prompts)          # sample, score, optimize
    >>> result.stats["objective/kl"], result.samples[0]

    ``model`` is a ``PeftModel`` whose active adapter is trained, or a plain model that
    ``lora_config`` gives a new adapter (:func:`~labs_common.rl.policy.prepare_policy`).
    The trainer seeds torch with ``config.seed``, builds the policy, its reference and the
    value head (:class:`~labs_common.rl.actor_critic.ActorCritic`, whose sampling, reading
    and measuring it inherits) and owns the optimizer. With an ``accelerator``,
    ``batch_size`` and ``mini_batch_size`` count prompts over all processes (multiples of
    the process count), ``step`` takes the whole batch and :meth:`optimize` this process's
    part of a rollout; ``generate`` and the KL measurements work on each process by itself.
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
        self.reward_fn = reward_fn
        self.processes = Processes(accelerator)
        self.processes.check_divides("batch_size", config.batch_size)
        self.processes.check_divides("mini_batch_size", config.mini_batch_size)
        torch.manual_seed(config.seed)  # first: the new adapter and the value head draw from it
        self._shuffle_rng = torch.Generator().manual_seed(config.seed)
        device = accelerator.device if accelerator is not None else None
        super().__init__(config, model, tokenizer, lora_config, device)

        adapter_parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.trainable_parameters = adapter_parameters + list(self.value_head.parameters())
        self.optimizer = torch.optim.Adam(self.trainable_parameters, lr=config.learning_rate)
        # What the update's forward passes run through: the model and the head themselves
        # on one process; their prepared wrappers, which average gradients, on several.
        if accelerator is not None:
            self._trained_model, self._trained_value_head, self.optimizer = accelerator.prepare(
                self.model, self.value_head, self.optimizer
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
