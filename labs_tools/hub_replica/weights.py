"""Random weights in the real checkpoints' classes, dtypes and file formats.

Each model is built from its replica ``config.json`` with ``torch.manual_seed`` set, and
its state dict is written as the real repository stores it: ``model.safetensors`` where
the real one has it, otherwise only ``pytorch_model.bin`` (``torch.save`` of the state
dict), so that a lab's refusal of pickle checkpoints meets a real case.

FLAN-T5 keeps separate input and output embeddings (``tie_word_embeddings: false``).
transformers 5 builds every T5 with ``lm_head`` tied to ``shared``, so the replica draws
``lm_head.weight`` on its own and stores both; loading then unties them, as it does for
the real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

_MODEL_CLASSES = {
    "t5": "T5ForConditionalGeneration",
    "roberta": "RobertaForSequenceClassification",
    "xlm-roberta": "XLMRobertaForSequenceClassification",
    "llama": "LlamaForCausalLM",
}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def config_object(config: dict):
    """The transformers config class for a config.json dict (no weights allocated)."""
    from transformers import CONFIG_MAPPING

    return CONFIG_MAPPING[config["model_type"]].from_dict(dict(config))


# The output embedding of each generating model: rows past the replica's (small) tokenizer
# are zeroed, so that generation picks tokens the tokenizer can decode, as a real model's
# does; with all 32,128 rows random, 97 % of the sampled ids would decode to nothing.
_OUTPUT_EMBEDDINGS = {"t5": "lm_head.weight", "llama": "model.embed_tokens.weight"}


def random_state_dict(kind: str, config: dict, seed: int,
                      tokenizer_size: int | None = None) -> dict[str, torch.Tensor]:
    """Seeded random weights of the real class, without tied duplicates."""
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, _MODEL_CLASSES[kind])(config_object(config)).eval()
    tied = model.get_expanded_tied_weights_keys(all_submodels=True)
    state = {name: tensor.detach().clone().contiguous()
             for name, tensor in model.state_dict().items() if name not in tied}
    if kind == "t5" and config.get("tie_word_embeddings") is False:
        generator = torch.Generator().manual_seed(seed + 1)
        factor = float(config.get("initializer_factor", 1.0))
        state["lm_head.weight"] = torch.randn(state["shared.weight"].shape,
                                              generator=generator) * factor
    output = _OUTPUT_EMBEDDINGS.get(kind)
    if tokenizer_size is not None and output in state:
        state[output][tokenizer_size:] = 0.0
    dtype = _DTYPES.get(str(config.get("torch_dtype", "float32")), torch.float32)
    return {name: state[name].to(dtype) for name in sorted(state)}


def write_weights(out: Path, state: dict[str, torch.Tensor], safetensors: bool) -> str:
    """Write ``model.safetensors`` or ``pytorch_model.bin``; return the file name."""
    if safetensors:
        from safetensors.torch import save_file

        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        return "model.safetensors"
    torch.save(state, out / "pytorch_model.bin")
    return "pytorch_model.bin"


def count_parameters(state: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() for t in state.values())
