"""Direct preference optimization (DPO) for a LoRA policy, seq2seq or causal (Lab 4).

PPO learns from a reward model online: it samples, scores and updates, step after step.
DPO (Rafailov et al., 2023) learns offline from pairs of responses to the same prompt, one
preferred ("chosen") and one not ("rejected"). Its loss needs no reward model and no value
head, only the log-probabilities of both responses under the policy and under a frozen
reference:

    loss = -log sigmoid(beta * [(log pi(chosen) - log ref(chosen))
                                - (log pi(rejected) - log ref(rejected))])

At the start the policy is the reference, every log-ratio is 0 and the loss is log 2.
``beta * (log pi - log ref)`` is the "implicit reward" of a response; the loss falls as the
chosen response's implicit reward rises above the rejected one's. ``beta`` plays the part
of PPO's KL coefficient: the smaller it is, the further the policy may move.

* **The loss**: :func:`dpo_loss` on sequence log-probabilities, which
  :func:`sequence_logprobs` sums over the response tokens that :func:`response_mask` keeps
  (up to and including the first end-of-sequence token, no padding).
* **The trainer**: :class:`DPOTrainer` runs DPO on a peft model. As in
  :class:`~labs_common.rl.ppo.PPOTrainer`, the reference is a frozen copy of the starting
  adapter named ``"reference"`` (:mod:`labs_common.rl.policy`), the model stays in eval
  mode (dropout off), and the log-probabilities of a response come from the same
  :func:`~labs_common.rl.rollout.forward_logits`, for a seq2seq and a causal model alike
  (the tests check that they equal PPO's).

The pairs come from :mod:`labs_common.rl.preferences`; trl's ``DPOTrainer`` on the same
pairs is :mod:`labs_common.rl.trl_runs`. This module's ``DPOConfig`` and ``DPOTrainer`` are
not trl's classes of the same names, which are reached as ``trl.DPOConfig`` and
``trl.DPOTrainer``. The logged statistics keep trl's names (``rewards/margins``,
``logps/chosen``, ...), so the two runs read alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import pandas as pd
import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel
from torch import Tensor, nn
from tqdm.auto import tqdm

from labs_common.device import padding_multiple
from labs_common.rl.policy import (
    Which,
    end_of_sequence_ids,
    prepare_policy,
    require_pad_token,
    using_adapter,
)
from labs_common.rl.ppo_math import logprobs_from_logits, mask_after_eos
from labs_common.rl.preferences import PairRows, PreferencePairs, as_continuation
from labs_common.rl.rollout import Rollout, forward_logits

# ---------------------------------------------------------------- the loss


class DPOLoss(NamedTuple):
    """The DPO loss of a batch of pairs and its per-pair parts (all but ``loss``: (B,))."""

    loss: Tensor  # () the mean of losses: what is minimized
    losses: Tensor  # (B,) -log sigmoid(margin) of each pair
    chosen_rewards: Tensor  # (B,) beta * (log pi - log ref) of the chosen response (detached)
    rejected_rewards: Tensor  # (B,) the same for the rejected response (detached)
    margins: Tensor  # (B,) chosen_rewards - rejected_rewards
    accuracies: Tensor  # (B,) 1.0 where the chosen reward is above the rejected one, else 0.0


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
) -> DPOLoss:
    """The sigmoid DPO loss on sequence log-probabilities (each (B,), summed over tokens).

    ``-log sigmoid(beta * [(pi_c - ref_c) - (pi_r - ref_r)])`` per pair, averaged. It is
    log 2 when the policy equals the reference (or ``beta`` is 0), falls when the chosen
    response gains probability relative to the rejected one, and rises otherwise. A larger
    ``beta`` makes the same log-ratio margin count for more. Reward accuracy is strict, as
    in trl: a tie (at the start, all of them) counts as wrong.
    """
    if beta < 0:
        raise ValueError(f"beta must be at least 0, not {beta}.")
    chosen_logratios = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected_logratios = policy_rejected_logps - ref_rejected_logps  # (B,)
    losses = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))  # (B,)
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return DPOLoss(
        loss=losses.mean(),
        losses=losses,
        chosen_rewards=chosen_rewards,
        rejected_rewards=rejected_rewards,
        margins=chosen_rewards - rejected_rewards,
        accuracies=(chosen_rewards > rejected_rewards).float(),
    )


def response_mask(response_ids: Tensor, attention_mask: Tensor, eos_token_ids: Sequence[int]
                  ) -> Tensor:
    """1 for each response token that counts: not padding, and up to the first EOS included.

    A causal model's pad token is often its EOS token, so the padding mask alone is not
    enough, nor is the EOS position alone: tokens after an early EOS do not count either.
    """
    return attention_mask.long() * mask_after_eos(response_ids, eos_token_ids)


def sequence_logprobs(token_logprobs: Tensor, mask: Tensor) -> Tensor:
    """log p of each whole response: the sum of its token log-probs where ``mask`` is 1.

    (B, R) and (B, R) give (B,).
    """
    return (token_logprobs * mask.to(token_logprobs.dtype)).sum(dim=-1)


# ---------------------------------------------------------------- the trainer


@dataclass
class DPOConfig:
    """Every knob of Lab 4's DPO (not trl's ``DPOConfig``); defaults follow trl where it has one."""

    beta: float = 0.1  # how strongly the policy is held to the reference (trl's default 0.1)
    learning_rate: float = 5e-5  # AdamW step size for the adapter (constant: no schedule)
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (trl's default 0)
    batch_size: int = 8  # pairs per gradient step
    epochs: int = 1  # passes over the pairs, reshuffled each time
    max_grad_norm: float | None = 1.0  # clip the gradient norm to this; None: no clipping
    precompute_reference: bool = False  # compute the reference's log-probs once, before
    #   training, rather than in every step: saves a forward pass per step after the first
    #   epoch, at the price of last-bit differences (other padding), as trl's option of the
    #   same name (precompute_ref_log_probs) does
    forward_batch_size: int | None = None  # rows per no-gradient forward; None: batch_size
    max_prompt_length: int | None = 512  # prompts are truncated to this many tokens
    max_response_length: int | None = None  # responses (with their EOS) are cut to this
    pad_to_multiple_of: int | None | Literal["auto"] = "auto"  # as in PPOConfig: round the
    #   prompt and response widths of a batch up to a multiple of this; "auto": 64 on a GPU
    seed: int = 0  # seeds torch when the trainer is built, and the shuffling


@dataclass
class DPORun:
    """A finished DPO run: the trainer (holding the trained policy) and what each step logged."""

    trainer: DPOTrainer
    history: list[dict[str, float]]  # one dict of statistics per gradient step, in order
    seconds: float  # wall-clock time of the run, reference pass included (print, never record)
    pairs: int  # how many pairs it trained on

    def table(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The history as a DataFrame, one row per step (numbered from 1)."""
        frame = pd.DataFrame(self.history, index=pd.RangeIndex(1, len(self.history) + 1))
        frame.index.name = "step"
        return frame if columns is None else frame[list(columns)]


class DPOTrainer:
    """DPO on a peft LoRA policy, seq2seq or causal (Lab 4).

    >>> trainer = DPOTrainer(DPOConfig(beta=0.1), model=peft_model, tokenizer=tok)
    >>> run = trainer.train(pairs)           # PreferencePairs, or rows of prompt/chosen/rejected
    >>> run.table(["loss", "rewards/accuracies", "rewards/margins"])

    ``model`` is a ``PeftModel``: its active adapter is trained and a frozen copy of it,
    the adapter ``"reference"``, is the reference, exactly as in
    :class:`~labs_common.rl.ppo.PPOTrainer`. A plain transformers model is wrapped with
    ``lora_config`` instead, and its base weights (the new adapter disabled) are the
    reference. ``reference="base"`` makes the base the reference for a ``PeftModel`` too,
    without a copy: right for an adapter that started at zero, e.g. to measure how far a
    trl run moved from its start with :meth:`kl_to_reference`. The trainer seeds torch with
    ``config.seed``, puts the model in eval mode (dropout off, so the loss is exactly log 2
    before the first update) and owns the AdamW optimizer, which only sees the trained
    adapter.
    """

    def __init__(self, config: DPOConfig, model: PeftModel | nn.Module, tokenizer,
                 lora_config: LoraConfig | None = None,
                 reference: Literal["copy", "base"] = "copy"):
        self.config = config
        self.tokenizer = tokenizer
        torch.manual_seed(config.seed)
        self._shuffle_rng = torch.Generator().manual_seed(config.seed)
        require_pad_token(tokenizer)
        model, self.policy_adapter, self.reference_adapter = prepare_policy(
            model, lora_config, reference)
        self.model = model
        self.is_encoder_decoder = bool(model.config.is_encoder_decoder)
        self.decoder_start_token_id = getattr(model.config, "decoder_start_token_id", None)
        self.device = next(model.parameters()).device
        multiple = config.pad_to_multiple_of
        self.pad_multiple = padding_multiple(self.device) if multiple == "auto" else multiple
        self.eos_token_ids = end_of_sequence_ids(model, tokenizer)
        self.trainable_parameters = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.trainable_parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.steps_done = 0

    # ------------------------------------------------------------------ training

    def train(
        self,
        pairs: PreferencePairs | PairRows,
        *,
        epochs: int | None = None,
        progress: bool = False,
        on_step: Callable[[int, dict[str, float]], None] | None = None,
    ) -> DPORun:
        """``epochs`` (default ``config.epochs``) passes of DPO over shuffled mini-batches of pairs.

        The statistics of a step describe the policy *before* its update, as trl logs them:

        * ``loss``: the mean DPO loss; log 2 ≈ 0.693 at step 1 (exactly, unless
          ``precompute_reference``), then falling;
        * ``rewards/chosen``, ``rewards/rejected``: the implicit rewards
          ``beta * (log pi - log ref)`` of each side, averaged; 0 at step 1;
        * ``rewards/margins``: their difference, averaged; it should rise;
        * ``rewards/accuracies``: share of pairs whose chosen reward is the higher one;
          0 at step 1 (all ties), then toward 1;
        * ``logps/chosen``, ``logps/rejected``: the policy's summed log-probs of each side;
          both often fall: DPO only needs the rejected one to fall faster;
        * ``grad_norm`` (before clipping), ``epoch``, ``time/step_seconds``.
        """
        start = time.perf_counter()
        config = self.config
        encoded = self.encode(pairs)
        count = len(encoded) // 2
        reference = None  # the frozen reference's log-probs: computed in each step, or once here
        if config.precompute_reference:
            reference = self.pair_logprobs(encoded, "reference")
        history: list[dict[str, float]] = []
        epochs = config.epochs if epochs is None else epochs
        steps_per_epoch = math.ceil(count / config.batch_size)
        bar = tqdm(total=epochs * steps_per_epoch, desc="DPO", disable=not progress, unit="step")
        for epoch in range(epochs):
            # Shuffle the pairs, then one AdamW step per mini-batch.
            order = torch.randperm(count, generator=self._shuffle_rng).to(self.device)
            for index, rows in enumerate(order.split(config.batch_size)):
                ref = None if reference is None else (reference[0][rows], reference[1][rows])
                stats = self._step(encoded, rows, ref)
                stats["epoch"] = epoch + (index + 1) / steps_per_epoch
                history.append(stats)
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3f}",
                                acc=f"{stats['rewards/accuracies']:.2f}")
                if on_step is not None:
                    on_step(len(history), stats)
        bar.close()
        return DPORun(self, history, time.perf_counter() - start, count)

    def evaluate(self, pairs: PreferencePairs | PairRows) -> dict[str, float]:
        """The statistics of :meth:`train` on ``pairs`` for the current policy, without updating."""
        encoded = self.encode(pairs)
        ref_chosen, ref_rejected = self.pair_logprobs(encoded, "reference")
        chosen, rejected = self.pair_logprobs(encoded, "policy")
        result = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, self.config.beta)
        return self._stats(result, chosen, rejected)

    def _step(self, encoded: Rollout, rows: Tensor, reference: tuple[Tensor, Tensor] | None
              ) -> dict[str, float]:
        """One gradient step on the pairs ``rows``: DPO loss, backward, clip, AdamW.

        ``reference`` holds the precomputed reference log-probs of these pairs; without it
        they are computed here, on the same batch as the policy's, so that at step 1 the
        two agree to the last bit (the loss exactly log 2, every margin exactly 0).
        """
        start = time.perf_counter()
        count = len(encoded) // 2
        self.model.eval()  # dropout off for the update as for the reference
        # Chosen and rejected responses in one forward pass: rows, then rows + count.
        batch = encoded.select(torch.cat([rows, rows + count]),
                               left_padded_queries=not self.is_encoder_decoder,
                               multiple=self.pad_multiple)
        if reference is None:
            with torch.no_grad(), self.using("reference"):
                ref_logprobs = logprobs_from_logits(self._logits(batch), batch.response_ids)
            reference = sequence_logprobs(ref_logprobs, batch.response_mask).chunk(2)
        ref_chosen, ref_rejected = reference
        token_logprobs = logprobs_from_logits(self._logits(batch), batch.response_ids)
        chosen, rejected = sequence_logprobs(token_logprobs, batch.response_mask).chunk(2)
        result = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, self.config.beta)
        self._check_finite("the DPO loss", result.loss)
        self.optimizer.zero_grad()
        result.loss.backward()
        max_norm = self.config.max_grad_norm
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.trainable_parameters, max_norm if max_norm is not None else float("inf")
        )
        self._check_finite("the gradient norm", grad_norm)
        self.optimizer.step()
        self.steps_done += 1
        stats = self._stats(result, chosen.detach(), rejected.detach())
        stats["grad_norm"] = float(grad_norm)
        stats["time/step_seconds"] = time.perf_counter() - start
        return stats

    @staticmethod
    def _stats(result: DPOLoss, chosen: Tensor, rejected: Tensor) -> dict[str, float]:
        return {
            "loss": float(result.loss.detach()),
            "rewards/chosen": float(result.chosen_rewards.mean()),
            "rewards/rejected": float(result.rejected_rewards.mean()),
            "rewards/margins": float(result.margins.mean()),
            "rewards/accuracies": float(result.accuracies.mean()),
            "logps/chosen": float(chosen.mean()),
            "logps/rejected": float(rejected.mean()),
        }

    # ------------------------------------------------------------------ log-probabilities

    def encode(self, pairs: PreferencePairs | PairRows) -> Rollout:
        """The pairs as tokens: a :class:`~labs_common.rl.rollout.Rollout` of 2 N rows.

        Rows 0..N-1 hold each prompt with its chosen response, rows N..2N-1 the same prompts
        with their rejected responses. Prompts are padded as the model generates from them
        (right for seq2seq, left for causal) and truncated to ``max_prompt_length``.
        Responses end with the EOS token, as a finished sample does, and are right-padded;
        their mask (:func:`response_mask`) covers them up to that EOS.
        """
        rows = list(pairs)
        if not rows:
            raise ValueError("No preference pairs to train on.")
        prompts = [str(row["prompt"]) for row in rows] * 2
        responses = [str(row["chosen"]) for row in rows] + [str(row["rejected"]) for row in rows]
        config = self.config
        queries = self.tokenizer(
            prompts,
            padding=True,
            truncation=config.max_prompt_length is not None,
            max_length=config.max_prompt_length,
            padding_side="right" if self.is_encoder_decoder else "left",
            return_tensors="pt",
        )
        if not self.is_encoder_decoder:  # the response continues the prompt's text
            responses = [as_continuation(p, r) for p, r in zip(prompts, responses, strict=True)]
        eos = self.eos_token_ids[0]
        ids = []
        for text in responses:
            tokens = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            if not tokens or tokens[-1] not in self.eos_token_ids:
                tokens = [*tokens, eos]
            ids.append(tokens[: config.max_response_length])
        width = max(len(tokens) for tokens in ids)
        pad = self.tokenizer.pad_token_id
        response_ids = torch.tensor([t + [pad] * (width - len(t)) for t in ids])
        attention = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t in ids])
        mask = response_mask(response_ids, attention, self.eos_token_ids)
        return Rollout(
            queries=prompts,
            responses=responses,
            query_ids=queries["input_ids"].to(self.device),
            query_mask=queries["attention_mask"].to(self.device),
            response_ids=response_ids.to(self.device),
            response_mask=mask.to(self.device),
        )

    def pair_logprobs(self, encoded: Rollout, which: Which = "policy") -> tuple[Tensor, Tensor]:
        """Summed log-probs of the chosen and of the rejected responses, each (N,), no gradient."""
        logprobs = self.response_logprobs(encoded, which)
        return sequence_logprobs(logprobs, encoded.response_mask).chunk(2)

    def kl_to_reference(self, prompts: Sequence[str], responses: Sequence[str],
                        reference: Which = "reference") -> float:
        """Mean over ``responses`` of log π(response) − log π_ref(response), summed over tokens.

        With responses sampled from the policy this estimates KL(policy ‖ reference) per
        response, the number PPO logs as ``objective/kl``, so the methods can be compared.
        ``reference="base"`` compares with the model without any adapter instead: the start
        of a LoRA run whose adapter began at zero (as trl's GRPO and DPO runs do).
        """
        rows = [{"prompt": p, "chosen": r, "rejected": r}
                for p, r in zip(prompts, responses, strict=True)]
        encoded = self.encode(rows)
        policy, _ = self.pair_logprobs(encoded, "policy")
        start, _ = self.pair_logprobs(encoded, reference)
        return float((policy - start).mean())

    def response_logprobs(self, rollout: Rollout, which: Which = "policy") -> Tensor:
        """log p of each response token under the policy, the reference or the base: (B, R).

        0 where the response mask is 0. The same numbers as
        :meth:`labs_common.rl.ppo.PPOTrainer.response_logprobs` on the same rollout.
        """
        out = torch.zeros(rollout.response_ids.shape, device=self.device)
        chunk = self.config.forward_batch_size or self.config.batch_size
        self.model.eval()
        with torch.no_grad(), self.using(which):
            for rows in torch.arange(len(rollout), device=self.device).split(chunk):
                batch = rollout.select(rows, left_padded_queries=not self.is_encoder_decoder,
                                       multiple=self.pad_multiple)
                length = batch.response_ids.shape[1]
                out[rows, :length] = logprobs_from_logits(self._logits(batch), batch.response_ids)
        return out * rollout.response_mask

    def using(self, which: Which):
        """Run the block with the policy adapter, the frozen reference or no adapter.

        E.g. ``with trainer.using("reference"): ...`` generates "before" summaries from
        the policy DPO started from, in the same model.
        """
        return using_adapter(self.model, which, self.policy_adapter, self.reference_adapter)

    def _logits(self, batch: Rollout) -> Tensor:
        """Logits predicting each response token, (B, R, V) in float32, as PPO computes them.

        Position t sees the prompt and the response tokens before t
        (:func:`~labs_common.rl.rollout.forward_logits`).
        """
        logits, _ = forward_logits(
            self.model, batch, is_encoder_decoder=self.is_encoder_decoder,
            decoder_start_token_id=self.decoder_start_token_id, with_hidden=False,
        )
        return logits.float()  # (B, R, V)

    def _check_finite(self, what: str, tensor: Tensor) -> None:
        """Stop with advice instead of training on NaN or infinity."""
        if bool(torch.isfinite(tensor).all()):
            return
        raise RuntimeError(
            f"DPO step {self.steps_done}: {what} is NaN or infinite, so the update was not "
            f"applied. Lower the learning rate (learning_rate={self.config.learning_rate}) "
            f"and keep gradient clipping on (max_grad_norm={self.config.max_grad_norm}); then "
            "restart from the starting adapter."
        )
