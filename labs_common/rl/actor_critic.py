"""What PPO trains and reads: a LoRA policy, its frozen reference and a value head (Lab 3).

An *actor-critic* is two estimators that learn together. The actor is the policy: given a
prompt, it chooses the response, token by token. The critic estimates, at each token, how
much reward the rest of the response will earn; PPO compares the reward actually received
with that estimate (the advantage) to decide which tokens to make more or less likely.
Here the actor is the LoRA adapter on the language model and the critic is a value head,
``nn.Linear(hidden_size, 1)`` on the decoder's last hidden state; both train, the base model
does not.

:class:`ActorCritic` holds them, with the reference PPO pays its KL penalty to (a frozen
copy of the starting adapter, :mod:`labs_common.rl.policy`), and does everything PPO needs
short of the update itself: it samples responses (:meth:`~ActorCritic.generate`), reads
the log-probabilities and values of a rollout (:meth:`~ActorCritic.policy_outputs`, with
gradients, for an update; :meth:`~ActorCritic.response_logprobs` and
:meth:`~ActorCritic.response_values`, without) and measures how far the policy has moved
(:meth:`~ActorCritic.kl_to_reference`, :meth:`~ActorCritic.kl_to_base`). The model stays in
eval mode, so the log-probabilities PPO compares are not noise.
:class:`~labs_common.rl.ppo.PPOTrainer` is an ``ActorCritic`` that also learns.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel
from torch import Tensor, nn

from labs_common.device import padding_multiple
from labs_common.rl.policy import (
    Which,
    end_of_sequence_ids,
    prepare_policy,
    require_pad_token,
    using_adapter,
)
from labs_common.rl.ppo_config import PPOConfig
from labs_common.rl.ppo_math import kl_from_logits, logprobs_from_logits
from labs_common.rl.rollout import Rollout, forward_logits, sample_rollout


class ActorCritic:
    """A LoRA policy with its frozen reference and a value head, sampled and read as PPO does.

    ``model`` is a ``PeftModel`` whose active adapter is the policy, or a plain model that
    ``lora_config`` gives a new adapter (:func:`~labs_common.rl.policy.prepare_policy`);
    ``device``: where to move it first (None: where it is). Sampling and reading follow
    ``config`` (:class:`~labs_common.rl.ppo_config.PPOConfig`). The value head's starting
    weights are drawn from torch's generator: seed it first for a reproducible start, as the
    trainer does.
    """

    def __init__(
        self,
        config: PPOConfig,
        model: PeftModel | nn.Module,
        tokenizer,
        lora_config: LoraConfig | None = None,
        device: torch.device | str | None = None,
    ):
        self.config = config
        self.tokenizer = tokenizer
        self._length_rng = random.Random(config.seed)  # the draws of max_new_tokens
        require_pad_token(tokenizer)

        # A frozen copy of the starting adapter is the reference (no second base model); a
        # plain model gets a new adapter, and the base model is its reference.
        model, self.policy_adapter, self.reference_adapter = prepare_policy(model, lora_config)
        if device is not None:
            model.to(device)
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
        # What an update's forward passes run through: the model and the head themselves,
        # unless a trainer on several processes replaces them by its prepared wrappers.
        self._trained_model, self._trained_value_head = model, self.value_head

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
        :meth:`~labs_common.rl.ppo.PPOTrainer.optimize` should come without them: they
        would be drawn from another distribution than the one PPO computes
        log-probabilities of.
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

    # ------------------------------------------------------------ reading the policy on a rollout

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
