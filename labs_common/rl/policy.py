"""The policy PPO and DPO train, and the reference they measure it against (Labs 3 and 4).

Both trainers take a peft model whose active adapter is the policy (Lab 2's LoRA adapter,
for FLAN-T5) and keep the policy as it was when training started as their reference, to
pay a KL penalty to it (PPO) or to compare log-probabilities with it (DPO). The reference
is not a second model: :func:`add_adapter_copy` copies the starting adapter into a second,
frozen adapter named :data:`REFERENCE_ADAPTER` inside the same peft model, so the base
weights exist once. A model given without an adapter gets a new one, and its reference is
then the base model itself (the adapter disabled).

* :func:`prepare_policy`: the policy, its adapter's name and its reference adapter's name;
* :func:`using_adapter`: run a block with the policy, the reference or the base model;
* :func:`require_pad_token` and :func:`end_of_sequence_ids`: what batches of responses need
  from the tokenizer and the model;
* :func:`adapter_weights` and :func:`load_adapter_weights`: the policy adapter's weights,
  out and back in (a PPO checkpoint holds them);
* :func:`recomputing_activations`: gradient checkpointing for a model kept in eval mode.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from peft import PeftConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from torch import Tensor

REFERENCE_ADAPTER = "reference"
Which = Literal["policy", "reference", "base"]  # which model a forward pass runs through


def add_adapter_copy(model: PeftModel, source: str, name: str) -> None:
    """Add an adapter ``name`` holding the same weights, in the same dtypes, as ``source``."""
    model.add_adapter(name, inference_config(model, source))
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


def require_pad_token(tokenizer) -> None:
    """Refuse a tokenizer without a pad token: prompts and responses go in padded batches."""
    if tokenizer.pad_token_id is None:
        raise ValueError(
            "The tokenizer has no pad token; set one first, e.g. "
            "tokenizer.pad_token = tokenizer.eos_token."
        )


def end_of_sequence_ids(model, tokenizer) -> list[int]:
    """The ids that end a response: the model's generation config's, else the tokenizer's."""
    eos = model.generation_config.eos_token_id
    eos = tokenizer.eos_token_id if eos is None else eos
    return [eos] if isinstance(eos, int) else list(eos)


# ---------------------------------------------------------------------- adapter weights


def inference_config(model: PeftModel, adapter: str) -> PeftConfig:
    """A copy of ``adapter``'s peft configuration, marked for inference (frozen)."""
    config = copy.copy(model.peft_config[adapter])
    config.inference_mode = True
    return config


def adapter_weights(model: PeftModel, adapter: str) -> dict[str, Tensor]:
    """``adapter``'s weights, named as peft saves them (``adapter_model.safetensors``)."""
    return get_peft_model_state_dict(model, adapter_name=adapter)


def load_adapter_weights(model: PeftModel, adapter: str, weights: dict[str, Tensor]) -> None:
    """Put ``weights`` (as :func:`adapter_weights` names them) into ``adapter``.

    Weights that lack some of the adapter's raise ``ValueError`` before anything changes;
    LoRA weights the adapter has no place for raise it after the others were loaded.
    """
    missing = sorted(adapter_weights(model, adapter).keys() - weights.keys())
    if missing:
        raise ValueError(f"The saved state lacks adapter weights of this policy: {missing}")
    result = set_peft_model_state_dict(model, weights, adapter_name=adapter)
    unexpected = [key for key in result.unexpected_keys if "lora_" in key]
    if unexpected:
        raise ValueError(
            f"The saved state holds weights this policy has no place for: {unexpected}"
        )


# ---------------------------------------------------------------------- memory


@contextmanager
def recomputing_activations(model: PeftModel, enabled: bool = True) -> Iterator[None]:
    """With ``enabled``: the model's layers recompute their activations in the backward pass.

    transformers checkpoints a layer only while that layer is in training mode, so
    the layers alone are switched to it; everything inside them (dropout included)
    stays in eval mode. The numbers are those of eval mode: only the memory (less)
    and the time (more) change.
    """
    if not enabled:
        yield
        return
    from transformers.modeling_layers import GradientCheckpointingLayer

    options = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
        disable = model.activation_checkpointing_disable
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)
        disable = model.gradient_checkpointing_disable
    model.eval()
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    for layer in layers:
        layer.training = True  # the layer itself only; its submodules stay in eval mode
    try:
        yield
    finally:
        for layer in layers:
            layer.training = False
        disable()
