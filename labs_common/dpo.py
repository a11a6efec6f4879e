"""Direct preference optimization (DPO) for a LoRA policy, seq2seq or causal (Lab 3, part two).

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

The module follows the lab:

* **Preference pairs** from the lab's own world: :func:`sample_candidates` samples several
  summaries per training dialogue from Lab 2's policy (pure sampling, as PPO's rollouts),
  :func:`score_candidates` scores them with the reward model, and :func:`build_pairs`
  keeps, per dialogue, the best and the worst summary when their scores differ by at
  least a threshold (:class:`PreferencePairs`).
* **The loss**: :func:`dpo_loss` on sequence log-probabilities, which
  :func:`sequence_logprobs` sums over the response tokens that :func:`response_mask` keeps
  (up to and including the first end-of-sequence token, no padding).
* **The trainer**: :class:`DPOTrainer` runs DPO on a peft model. As in
  :class:`~labs_common.ppo.PPOTrainer`, the reference is a frozen copy of the starting
  adapter named ``"reference"``, the model stays in eval mode (dropout off), and the
  log-probabilities of a response are computed the same way for a seq2seq and a causal
  model (the tests check that they equal PPO's).
* **trl**: trl's ``DPOTrainer`` supported encoder-decoder models up to trl 0.28 and no
  longer does from 0.29 on (see :func:`trl_dpo_config`), so FLAN-T5 is trained by
  :class:`DPOTrainer` here, and trl's trainer runs on the small causal model of the GRPO
  section, on the same pairs (:func:`trl_preference_dataset`, :func:`trl_dpo_config`).

This module's ``DPOConfig`` and ``DPOTrainer`` are not trl's classes of the same names;
trl's are reached as ``trl.DPOConfig`` and ``trl.DPOTrainer``. The logged statistics keep
trl's names (``rewards/margins``, ``logps/chosen``, ...), so the two runs read alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import pandas as pd
import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel
from torch import Tensor, nn
from tqdm.auto import tqdm

from labs_common.device import padding_multiple
from labs_common.generation import generate_batched
from labs_common.ppo_math import logprobs_from_logits, mask_after_eos
from labs_common.prompts import instruction_prompt
from labs_common.rollout import (
    RewardFn,
    Rollout,
    Which,
    prepare_policy,
    pure_generation_config,
    using_adapter,
)

PairRows = Iterable[Mapping[str, object]]  # rows with prompt, chosen and rejected texts

# ---------------------------------------------------------------- preference pairs


def sample_candidates(
    policy,
    tokenizer,
    dialogues: Sequence[str],
    n_samples: int,
    *,
    seed: int,
    max_new_tokens: int,
    min_new_tokens: int = 1,
    batch_size: int = 16,
    prompt: Callable[[str], str] = instruction_prompt,
    progress: bool = False,
) -> list[list[str]]:
    """``n_samples`` summaries per dialogue, sampled from ``policy``.

    Pure sampling, as PPO's rollouts: the model's full next-token distribution
    (``top_k=0``, ``top_p=1``), none of its ``generation_config``'s sampling settings,
    dropout off, torch seeded with ``seed`` first so that a re-run draws the same
    summaries. ``batch_size`` dialogues go into each ``generate`` call, each repeated
    ``n_samples`` times. Returns one list of ``n_samples`` texts per dialogue, in order.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, not {n_samples}.")
    prompts = [prompt(dialogue) for dialogue in dialogues]
    torch.manual_seed(seed)
    with pure_generation_config(policy):
        texts = generate_batched(
            policy,
            tokenizer,
            prompts,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(min_new_tokens, max_new_tokens),
            do_sample=True,
            top_k=0,
            top_p=1.0,
            num_return_sequences=n_samples,
            progress=progress,
            description="sampling candidates",
        )
    # generate repeats each prompt n_samples times in a row: the samples of a dialogue are adjacent.
    return [texts[i * n_samples : (i + 1) * n_samples] for i in range(len(prompts))]


def score_candidates(candidates: Sequence[Sequence[str]], reward_fn: RewardFn) -> list[list[float]]:
    """The reward of every candidate, in one call of ``reward_fn``, shaped like ``candidates``."""
    flat = [text for texts in candidates for text in texts]
    rewards = [float(r) for r in reward_fn(flat)]
    if len(rewards) != len(flat):
        raise ValueError(f"The reward function gave {len(rewards)} scores for {len(flat)} texts.")
    out, start = [], 0
    for texts in candidates:
        out.append(rewards[start : start + len(texts)])
        start += len(texts)
    return out


@dataclass
class PreferencePairs:
    """The pairs :func:`build_pairs` kept, and how many dialogues it considered and dropped.

    ``rows`` are dicts with ``prompt``, ``chosen``, ``rejected``, ``margin`` (the chosen
    score minus the rejected one), ``chosen_score``, ``rejected_score`` and
    ``dialogue_index`` (the dialogue's position in the list given to :func:`build_pairs`).
    """

    rows: list[dict]
    total: int  # dialogues considered
    min_margin: float  # the threshold a pair's margin had to reach
    dropped_identical: int  # dialogues whose samples were all the same text
    dropped_margin: int  # dialogues whose best and worst samples scored too close

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]

    @property
    def kept(self) -> int:
        return len(self.rows)

    @property
    def margins(self) -> list[float]:
        return [row["margin"] for row in self.rows]

    def summary(self) -> str:
        """One line to print: how many pairs survived the threshold, and why the others did not."""
        return (
            f"{self.kept} of {self.total} dialogues gave a preference pair (best minus worst "
            f"score ≥ {self.min_margin:g}); dropped: {self.dropped_identical} with identical "
            f"samples only, {self.dropped_margin} with a smaller margin."
        )

    def to_dataset(self):
        """The pairs as a ``datasets.Dataset`` (columns as in ``rows``)."""
        from datasets import Dataset

        columns = ("prompt", "chosen", "rejected", "margin", "chosen_score", "rejected_score",
                   "dialogue_index")
        return Dataset.from_dict({c: [row[c] for row in self.rows] for c in columns})

    def frame(self) -> pd.DataFrame:
        """The pairs as a DataFrame, one row per pair, for a look at what DPO learns from."""
        return pd.DataFrame(self.rows)


def build_pairs(
    dialogues: Sequence[str],
    candidates: Sequence[Sequence[str]],
    scores: Sequence[Sequence[float]],
    min_margin: float,
    *,
    prompt: Callable[[str], str] = instruction_prompt,
) -> PreferencePairs:
    """At most one chosen/rejected pair per dialogue: its best and its worst distinct sample.

    Scores are rewards: higher is better (for Lab 3 the ``nothate`` logit). Repeated
    texts count once (their first score is kept). Ties are broken by sampling order: the
    chosen summary is the first sample with the highest score, the rejected one the first
    with the lowest. A pair is kept when its margin (chosen score minus rejected score) is
    above 0 and at least ``min_margin``; a dialogue whose samples are all the same text
    gives none. The prompt is ``prompt(dialogue)``, the one the samples were drawn from.
    """
    if not len(dialogues) == len(candidates) == len(scores):
        raise ValueError(
            f"Got {len(dialogues)} dialogues, {len(candidates)} candidate lists and "
            f"{len(scores)} score lists; give one of each per dialogue."
        )
    rows, identical, too_close = [], 0, 0
    triples = zip(dialogues, candidates, scores, strict=True)
    for index, (dialogue, texts, values) in enumerate(triples):
        if len(texts) != len(values):
            raise ValueError(f"Dialogue {index}: {len(texts)} candidates but {len(values)} scores.")
        distinct: dict[str, float] = {}
        for text, value in zip(texts, values, strict=True):
            if not math.isfinite(float(value)):
                raise ValueError(f"Dialogue {index}: the score {value} is not finite.")
            distinct.setdefault(text, float(value))
        if len(distinct) < 2:
            identical += 1
            continue
        items = list(distinct.items())  # in sampling order
        chosen, best = max(items, key=lambda item: item[1])  # max and min return the first
        rejected, worst = min(items, key=lambda item: item[1])
        margin = best - worst
        if margin <= 0 or margin < min_margin:
            too_close += 1
            continue
        rows.append({
            "prompt": prompt(dialogue),
            "chosen": chosen,
            "rejected": rejected,
            "margin": margin,
            "chosen_score": best,
            "rejected_score": worst,
            "dialogue_index": index,
        })  # fmt: skip
    return PreferencePairs(rows, len(dialogues), float(min_margin), identical, too_close)


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
    """Every knob of Lab 3's DPO (not trl's ``DPOConfig``); defaults follow trl where it has one."""

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
    """DPO on a peft LoRA policy, seq2seq or causal (Lab 3, part two).

    >>> trainer = DPOTrainer(DPOConfig(beta=0.1), model=peft_model, tokenizer=tok)
    >>> run = trainer.train(pairs)           # PreferencePairs, or rows of prompt/chosen/rejected
    >>> run.table(["loss", "rewards/accuracies", "rewards/margins"])

    ``model`` is a ``PeftModel``: its active adapter is trained and a frozen copy of it,
    the adapter ``"reference"``, is the reference, exactly as in
    :class:`~labs_common.ppo.PPOTrainer`. A plain transformers model is wrapped with
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
        if tokenizer.pad_token_id is None:
            raise ValueError(
                "The tokenizer has no pad token; set one first, e.g. "
                "tokenizer.pad_token = tokenizer.eos_token."
            )
        model, self.policy_adapter, self.reference_adapter = prepare_policy(
            model, lora_config, reference)
        self.model = model
        self.is_encoder_decoder = bool(model.config.is_encoder_decoder)
        self.device = next(model.parameters()).device
        multiple = config.pad_to_multiple_of
        self.pad_multiple = padding_multiple(self.device) if multiple == "auto" else multiple
        eos = model.generation_config.eos_token_id
        eos = tokenizer.eos_token_id if eos is None else eos
        self.eos_token_ids = [eos] if isinstance(eos, int) else list(eos)
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
        """The pairs as tokens: a :class:`~labs_common.ppo.Rollout` of 2 N rows.

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
            responses = [_continuation(p, r) for p, r in zip(prompts, responses, strict=True)]
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
        :meth:`labs_common.ppo.PPOTrainer.response_logprobs` on the same rollout.
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

        Position t sees the prompt and the response tokens before t.
        """
        if self.is_encoder_decoder:
            start = self.model.config.decoder_start_token_id
            decoder_input_ids = torch.cat(
                [torch.full_like(batch.response_ids[:, :1], start), batch.response_ids[:, :-1]],
                dim=1,
            )  # (B, R): the start token, then the response shifted right
            output = self.model(
                input_ids=batch.query_ids,
                attention_mask=batch.query_mask,
                decoder_input_ids=decoder_input_ids,
                use_cache=False,
            )
            return output.logits.float()  # (B, R, V)
        input_ids = torch.cat([batch.query_ids, batch.response_ids], dim=1)  # (B, Q + R)
        attention_mask = torch.cat([batch.query_mask, torch.ones_like(batch.response_mask)], dim=1)
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)  # left padding not counted
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
        )
        # The last prompt token predicts the first response token, and so on.
        window = slice(batch.query_ids.shape[1] - 1, input_ids.shape[1] - 1)
        return output.logits[:, window].float()  # (B, R, V)

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


def _continuation(prompt: str, response: str) -> str:
    """A causal model's response as it follows the prompt: after a space, unless there is one.

    Summaries are stored stripped; a causal model continues "...Summary:" with " The...",
    and its tokenizer tells "The" from " The". trl joins the texts the same way, so both
    trainers see the same tokens.
    """
    if not response or response[0].isspace() or not prompt or prompt[-1].isspace():
        return response
    return " " + response


# ---------------------------------------------------------------- trl's DPOTrainer


def trl_preference_dataset(pairs: PreferencePairs | PairRows, tokenizer):
    """The pairs as trl's ``DPOTrainer`` expects them: a ``Dataset`` of prompt/chosen/rejected.

    A model with a chat template gets conversations (a user turn, an assistant turn), which
    trl renders with the template, as :func:`labs_common.detox.grpo_prompts` does for GRPO.
    Otherwise the texts stay plain, each response after a space (trl concatenates the
    prompt and response strings as they are, and appends the EOS token itself).
    """
    from datasets import Dataset

    rows = list(pairs)
    prompts = [str(row["prompt"]) for row in rows]
    if getattr(tokenizer, "chat_template", None):
        return Dataset.from_dict({
            "prompt": [[{"role": "user", "content": p}] for p in prompts],
            "chosen": [[{"role": "assistant", "content": str(r["chosen"])}] for r in rows],
            "rejected": [[{"role": "assistant", "content": str(r["rejected"])}] for r in rows],
        })  # fmt: skip
    return Dataset.from_dict({
        "prompt": prompts,
        "chosen": [_continuation(p, str(r["chosen"])) for p, r in zip(prompts, rows, strict=True)],
        "rejected": [_continuation(p, str(r["rejected"])) for p, r in zip(prompts, rows,
                                                                           strict=True)],
    })  # fmt: skip


def trl_dpo_config(
    output_dir: str,
    *,
    seed: int,
    bf16: bool,
    use_cpu: bool,
    beta: float = 0.1,
    learning_rate: float = 5e-5,
    per_device_train_batch_size: int = 8,
    num_train_epochs: float = 1.0,
    **overrides,
):
    """trl's ``DPOConfig`` for the causal model of Lab 3, with the pitfalls already avoided.

    What trl 1.16's sources show (``trl/trainer/dpo_trainer.py``): the trainer is built
    for decoder-only models. ``tokenize_fn`` in ``_prepare_dataset`` tokenizes
    ``prompt + chosen`` as one text (line 1099); ``DataCollatorForPreference.torch_call``
    concatenates ``prompt_ids + chosen_ids`` into one ``input_ids`` (line 147); ``_compute_loss``
    calls ``model(**model_kwargs, labels=labels, fused_lm_head=True)`` with those ids and
    no decoder inputs (line 1299), and the fused head it patches in
    (``trl/trainer/utils.py``, ``add_fused_lm_head``) scores next tokens with
    ``last_hidden_state[:, :-1]`` (line 1618). ``is_encoder_decoder`` appears nowhere in
    the file. With a T5 policy the trainer builds, then its first step fails in T5's
    decoder: ``ValueError: You must specify exactly one of input_ids or inputs_embeds``.
    trl 0.28 still had a seq2seq branch (``if self.is_encoder_decoder:`` running the
    encoder on the prompt, the decoder on the completion); 0.29.0 dropped it.

    Settings: ``bf16`` comes from the profile's precision rules (trl defaults to bf16 and
    fails on a CPU without it); activation checkpointing, logging services and saving are
    off; a step is logged every step. ``disable_dropout`` stays on (trl's default), as
    dropout is off in :class:`DPOTrainer`. trl's learning rate decays linearly to 0 (its
    default ``lr_scheduler_type``), while :class:`DPOTrainer`'s stays constant; pass
    ``lr_scheduler_type="constant"`` to match. With a LoRA ``peft_config`` and a plain
    model, the reference is the base model (adapter disabled); given a ``PeftModel``
    instead, trl copies its adapter ``"default"`` into a frozen adapter ``"ref"``.
    """
    from trl import DPOConfig as TrlDPOConfig

    values = {
        "output_dir": output_dir,
        "beta": beta,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": per_device_train_batch_size,
        "num_train_epochs": num_train_epochs,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": use_cpu,
        "bf16": bf16,
        "fp16": False,
        "activation_checkpointing": False,
        "disable_tqdm": True,
        "seed": seed,
        "data_seed": seed,
    }
    values.update(overrides)
    return TrlDPOConfig(**values)


@dataclass
class TrlDPORun:
    """trl's finished DPO run: its trainer and what each step logged."""

    trainer: object  # trl.DPOTrainer; trainer.model is the trained PeftModel
    history: list[dict[str, float]]  # trl's log_history, one dict per logged step
    seconds: float  # wall-clock time of train() (print it, never record it)

    def table(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The history as a DataFrame indexed by trl's step number."""
        frame = pd.DataFrame(self.history).set_index("step")
        return frame if columns is None else frame[list(columns)]


def run_trl_dpo(model, tokenizer, pairs: PreferencePairs | PairRows, args, *,
                peft_config: LoraConfig | None = None) -> TrlDPORun:
    """Train ``model`` with trl's ``DPOTrainer`` on ``pairs`` (see :func:`trl_dpo_config`).

    ``model`` is a causal model (or its path) and ``peft_config`` the LoRA adapter to add;
    the pairs become trl's dataset through :func:`trl_preference_dataset`. The history
    keeps the per-step logs only, not trl's closing summary (``train_runtime``, ...).
    """
    from datasets.utils.logging import (
        disable_progress_bar,
        enable_progress_bar,
        is_progress_bar_enabled,
    )
    from transformers import PrinterCallback
    from trl import DPOTrainer as TrlDPOTrainer

    bars = is_progress_bar_enabled()
    disable_progress_bar()  # trl's three passes over a few hundred pairs take a moment
    try:
        trainer = TrlDPOTrainer(
            model=model,
            args=args,
            train_dataset=trl_preference_dataset(pairs, tokenizer),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    finally:
        if bars:
            enable_progress_bar()
    trainer.remove_callback(PrinterCallback)  # the history holds every step's log
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    history = [dict(h) for h in trainer.state.log_history if "loss" in h]
    return TrlDPORun(trainer, history, seconds)
