"""Sampling a rollout and reading a policy's logits on it: what PPO (and DPO) learn from.

A rollout is a batch of prompts with one sampled response each, kept as text (for the
reward function and for reading) and as tokens (for the log-probabilities). This module
holds what happens before any update:

* :class:`Rollout`, and :meth:`Rollout.select` to cut a mini-batch out of it;
* :func:`sample_rollout`: one response per prompt, in one batched ``generate`` call,
  from the distribution the log-probabilities are computed for (:func:`pure_generation_config`:
  none of the sampling settings a model's ``generation_config`` may carry). Only
  ``min_new_tokens`` changes it: it forbids the end-of-sequence token for the first
  tokens, which the log-probabilities ignore;
* :func:`forward_logits`: the logits that predict each response token, and the decoder's
  last hidden state for a value head, for seq2seq and causal models alike. PPO and DPO
  both read a policy's log-probabilities through it, so the two compute the same numbers.

:mod:`labs_common.rl.ppo` turns rollouts and their rewards into updates;
:mod:`labs_common.rl.dpo` encodes its preference pairs as the same batch type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from peft import PeftModel
from torch import Tensor, nn
from transformers import GenerationConfig

from labs_common.rl.ppo_math import mask_after_eos

# The only settings of a model's generation_config that sampling for PPO keeps.
SPECIAL_TOKEN_SETTINGS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
RewardFn = Callable[[list[str]], Sequence[float]]  # responses -> one reward each


@dataclass
class Rollout:
    """A batch of prompts and the responses sampled for them, as text and as tokens."""

    queries: list[str]
    responses: list[str]
    query_ids: Tensor  # (B, Q) prompt tokens: right-padded (seq2seq) or left-padded (causal)
    query_mask: Tensor  # (B, Q) 1 for real prompt tokens
    response_ids: Tensor  # (B, R) sampled tokens; whatever follows the first EOS is padding
    response_mask: Tensor  # (B, R) 1 up to and including the first EOS

    def __len__(self) -> int:
        return len(self.queries)

    def select(self, rows: Tensor, left_padded_queries: bool, multiple: int | None = None
               ) -> Rollout:
        """The given rows, with padding columns that none of them needs cut off.

        With ``multiple``, the kept prompt and response lengths are rounded up to a
        multiple of it (at most the rollout's own width), so that mini-batches share a
        few tensor shapes instead of each having its own.
        """
        query_ids, query_mask = self.query_ids[rows], self.query_mask[rows]
        query_length = _round_up(int(query_mask.sum(1).max()), multiple, query_ids.shape[1])
        if left_padded_queries:
            query_ids, query_mask = query_ids[:, -query_length:], query_mask[:, -query_length:]
        else:
            query_ids, query_mask = query_ids[:, :query_length], query_mask[:, :query_length]
        response_length = _round_up(int(self.response_mask[rows].sum(1).max()), multiple,
                                    self.response_ids.shape[1])
        index = rows.tolist()
        return Rollout(
            queries=[self.queries[i] for i in index],
            responses=[self.responses[i] for i in index],
            query_ids=query_ids,
            query_mask=query_mask,
            response_ids=self.response_ids[rows, :response_length],
            response_mask=self.response_mask[rows, :response_length],
        )


def _round_up(length: int, multiple: int | None, limit: int) -> int:
    """``length`` rounded up to a multiple of ``multiple`` (if given), at most ``limit``."""
    if not multiple:
        return length
    return min(limit, -(-length // multiple) * multiple)


# ---------------------------------------------------------------------- sampling


@contextmanager
def pure_generation_config(model) -> Iterator[None]:
    """Run the block with a generation config that holds the special token ids only.

    ``generate`` fills every setting not passed to it from the model's
    ``generation_config`` (a Hub model's may set a temperature, top-k, a repetition
    penalty, ...), so that config is swapped for one that sets nothing else, and samples
    come from the distribution whose log-probs PPO (and DPO's pairs) are computed with.
    """
    base = model.get_base_model() if isinstance(model, PeftModel) else model
    saved = base.generation_config
    base.generation_config = GenerationConfig(
        **{name: getattr(saved, name, None) for name in SPECIAL_TOKEN_SETTINGS}
    )
    try:
        yield
    finally:
        base.generation_config = saved


def sample_rollout(
    model,
    tokenizer,
    prompts: Sequence[str],
    settings: dict,
    *,
    eos_token_ids: Sequence[int],
    max_prompt_length: int | None,
    device: torch.device,
) -> Rollout:
    """One response per prompt from ``model`` as it is (adapter already chosen), dropout off.

    ``settings`` are ``generate``'s sampling keywords (``do_sample``, ``top_k``,
    ``max_new_tokens``, ...). Prompts are right-padded for a seq2seq model, left-padded
    for a causal one; whatever follows a response's first end-of-sequence token becomes
    padding, and the response mask covers the tokens up to and including it.
    """
    prompts = list(prompts)
    is_encoder_decoder = bool(model.config.is_encoder_decoder)
    encoded = tokenizer(
        prompts,
        padding=True,
        truncation=max_prompt_length is not None,
        max_length=max_prompt_length,
        padding_side="right" if is_encoder_decoder else "left",
        return_tensors="pt",
    ).to(device)
    model.eval()
    with torch.no_grad(), pure_generation_config(model):
        sequences = model.generate(
            input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"], **settings
        )
    if is_encoder_decoder:
        response_ids = sequences[:, 1:]  # drop the decoder start token
    else:
        response_ids = sequences[:, encoded["input_ids"].shape[1] :]
    response_mask = mask_after_eos(response_ids, eos_token_ids)
    response_ids = response_ids.masked_fill(response_mask == 0, tokenizer.pad_token_id)
    return Rollout(
        queries=prompts,
        responses=tokenizer.batch_decode(response_ids, skip_special_tokens=True),
        query_ids=encoded["input_ids"],
        query_mask=encoded["attention_mask"],
        response_ids=response_ids,
        response_mask=response_mask,
    )


# ---------------------------------------------------------------------- reading logits


def forward_logits(
    model: nn.Module,
    batch: Rollout,
    *,
    is_encoder_decoder: bool,
    decoder_start_token_id: int | None,
    with_hidden: bool,
) -> tuple[Tensor, Tensor | None]:
    """Logits predicting each response token (B, R, V) and, if asked, hidden states (B, R, H).

    Position t sees the prompt and the response tokens before t: its logits give
    log p(response token t) and its last hidden state the value of that state. ``model``
    may be the peft model or a wrapper of it that only forwards the call (such as
    DistributedDataParallel), so its settings come as arguments.
    """
    if is_encoder_decoder:
        decoder_input_ids = torch.cat(
            [torch.full_like(batch.response_ids[:, :1], decoder_start_token_id),
             batch.response_ids[:, :-1]],
            dim=1,
        )  # (B, R): the start token, then the response shifted right
        output = model(
            input_ids=batch.query_ids,
            attention_mask=batch.query_mask,
            decoder_input_ids=decoder_input_ids,
            output_hidden_states=with_hidden,
            use_cache=False,
        )
        logits = output.logits  # (B, R, V)
        hidden = output.decoder_hidden_states[-1] if with_hidden else None  # (B, R, H)
    else:
        input_ids = torch.cat([batch.query_ids, batch.response_ids], dim=1)  # (B, Q + R)
        attention_mask = torch.cat(
            [batch.query_mask, torch.ones_like(batch.response_mask)], dim=1
        )
        # Positions as generate() numbers them: left padding does not count.
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        output = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_hidden_states=with_hidden,
            use_cache=False,
        )
        # The last prompt token predicts the first response token, and so on.
        window = slice(batch.query_ids.shape[1] - 1, input_ids.shape[1] - 1)
        logits = output.logits[:, window]  # (B, R, V)
        hidden = output.hidden_states[-1][:, window] if with_hidden else None
    assert logits.shape[1] == batch.response_ids.shape[1]
    return logits, hidden
