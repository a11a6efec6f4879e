"""Sampling a rollout and reading a policy's logits on it: what PPO (and DPO) learn from.

A rollout is a batch of prompts with one sampled response each, kept as text (for the
reward function and for reading) and as tokens (for the log-probabilities). This module
holds what happens before any update:

* :class:`Rollout`, and :meth:`Rollout.select` to cut a mini-batch out of it;
* :func:`sample_rollout`: one response per prompt, in one batched ``generate`` call,
  from the distribution the log-probabilities are computed for (:func:`pure_generation_config`);
* :func:`forward_logits`: the logits that predict each response token, and the decoder's
  last hidden state for a value head, for seq2seq and causal models alike;
* the adapters inside one peft model: :func:`add_adapter_copy` makes the frozen
  reference, :func:`using_adapter` switches between the trained policy, that reference and
  the base model without adapter.

:mod:`labs_common.ppo` turns rollouts and their rewards into updates;
:mod:`labs_common.dpo` reuses the same batch type and adapters.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from peft import PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from torch import Tensor, nn
from transformers import GenerationConfig

from labs_common.ppo_math import mask_after_eos

# The only settings of a model's generation_config that sampling for PPO keeps.
SPECIAL_TOKEN_SETTINGS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")
RewardFn = Callable[[list[str]], Sequence[float]]
Which = Literal["policy", "reference", "base"]
REFERENCE_ADAPTER = "reference"


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


# ---------------------------------------------------------------------- adapters


def add_adapter_copy(model: PeftModel, source: str, name: str) -> None:
    """Add an adapter ``name`` holding the same weights, in the same dtypes, as ``source``."""
    config = copy.copy(model.peft_config[source])
    config.inference_mode = True
    model.add_adapter(name, config)
    weights = get_peft_model_state_dict(model, adapter_name=source)
    set_peft_model_state_dict(model, weights, adapter_name=name)
    # peft may create the new adapter in float32 next to a bfloat16 source: match the source,
    # so that both compute exactly the same function.
    parameters = dict(model.named_parameters())
    for key, parameter in parameters.items():
        if f".{name}." in key:
            twin = parameters[key.replace(f".{name}.", f".{source}.")]
            parameter.data = parameter.data.to(twin.dtype)


def prepare_policy(model, lora_config=None, reference: str = "copy"
                   ) -> tuple[PeftModel, str, str | None]:
    """The policy PPO or DPO trains, its adapter's name and its reference adapter's name.

    A ``PeftModel`` keeps its active adapter as the policy, and a frozen copy of it, named
    ``REFERENCE_ADAPTER``, becomes the reference (``reference="copy"``); with
    ``reference="base"`` the base model (the adapter disabled) is the reference, right for
    an adapter that started at zero. A plain model gets a new adapter from ``lora_config``
    and the base as its reference. The policy adapter is left active and the only trainable
    one, and the model in eval mode.
    """
    if reference not in ("copy", "base"):
        raise ValueError(f"reference must be 'copy' or 'base', not {reference!r}.")
    if isinstance(model, PeftModel):
        policy_adapter = model.active_adapter
        reference_adapter = None
        if reference == "copy":
            if REFERENCE_ADAPTER in model.peft_config:
                raise ValueError(
                    f"The model already has an adapter named {REFERENCE_ADAPTER!r} (did PPO or "
                    "DPO already run on it?); pass a fresh copy of the starting model."
                )
            add_adapter_copy(model, source=policy_adapter, name=REFERENCE_ADAPTER)
            reference_adapter = REFERENCE_ADAPTER
    else:
        if lora_config is None:
            raise TypeError("A model without a peft adapter needs a lora_config to train.")
        model = get_peft_model(model, lora_config)
        policy_adapter, reference_adapter = model.active_adapter, None
    model.set_adapter(policy_adapter)  # trainable; every other adapter frozen
    model.eval()
    return model, policy_adapter, reference_adapter


@contextmanager
def using_adapter(model: PeftModel, which: Which, policy_adapter: str,
                  reference_adapter: str | None) -> Iterator[None]:
    """Run the block with the policy adapter, the frozen reference or no adapter.

    ``reference_adapter=None`` means the reference is the base model (a policy whose
    adapter was new when training started). The policy adapter is active, and the only
    trainable one, again when the block ends. Any other name is refused: a misspelt
    ``"Reference"`` must not silently score with some adapter.
    """
    if which not in ("policy", "reference", "base"):
        raise ValueError(f"which must be 'policy', 'reference' or 'base', not {which!r}.")
    if which == "policy":
        yield
    elif which == "base" or reference_adapter is None:
        with model.disable_adapter():
            yield
    else:
        model.set_adapter(reference_adapter, inference_mode=True)
        try:
            yield
        finally:
            model.set_adapter(policy_adapter)  # trainable again, reference frozen


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
