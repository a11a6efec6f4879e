"""A PPO run's checkpoint: what :meth:`PPOTrainer.save` writes and :meth:`PPOTrainer.load` reads.

A checkpoint folder holds the policy adapter in peft's format (``adapter_model.safetensors``
and ``adapter_config.json``, which reload on their own for sampling), the value head
(``value_head.safetensors``), the PPO settings (``ppo_config.json``) and, in
``trainer_state.pt``, the Adam state, the KL coefficient, the step count and the random
generators, so that a resumed run continues as the uninterrupted one would have.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft.utils import get_peft_model_state_dict, load_peft_weights, set_peft_model_state_dict
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:
    from labs_common.ppo import PPOTrainer

VALUE_HEAD_FILE = "value_head.safetensors"
TRAINER_STATE_FILE = "trainer_state.pt"


def write_checkpoint(trainer: PPOTrainer, directory: Path) -> None:
    """Write the files :meth:`PPOTrainer.save` documents into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    adapter = get_peft_model_state_dict(trainer.model, adapter_name=trainer.policy_adapter)
    save_file(
        {name: tensor.contiguous() for name, tensor in adapter.items()},
        directory / "adapter_model.safetensors",
        metadata={"format": "pt"},
    )
    adapter_config = copy.copy(trainer.model.peft_config[trainer.policy_adapter])
    adapter_config.inference_mode = True
    adapter_config.save_pretrained(str(directory))
    save_file(trainer.value_head.state_dict(), directory / VALUE_HEAD_FILE)
    (directory / "ppo_config.json").write_text(json.dumps(asdict(trainer.config), indent=2))
    state = {
        "optimizer": trainer.optimizer.state_dict(),
        "kl_coef": float(trainer.kl_controller.value),
        "steps_done": trainer.steps_done,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(trainer.device) if trainer.device.type == "cuda"
        else None,
        "shuffle_rng": trainer._shuffle_rng.get_state(),
        "length_rng": trainer._length_rng.getstate(),
    }
    torch.save(state, directory / TRAINER_STATE_FILE)


def read_checkpoint(trainer: PPOTrainer, directory: Path) -> None:
    """Restore what :func:`write_checkpoint` wrote (see :meth:`PPOTrainer.load`)."""
    directory = Path(directory)
    state_path = directory / TRAINER_STATE_FILE
    if not state_path.is_file():
        raise ValueError(
            f"{directory} has no {TRAINER_STATE_FILE}: it was not written by "
            "PPOTrainer.save, and a run cannot resume from it."
        )
    adapter = load_peft_weights(str(directory), device=str(trainer.device))
    expected = get_peft_model_state_dict(trainer.model, adapter_name=trainer.policy_adapter)
    missing = sorted(expected.keys() - adapter.keys())
    if missing:
        raise ValueError(f"{directory} lacks adapter weights of this policy: {missing}")
    result = set_peft_model_state_dict(trainer.model, adapter, adapter_name=trainer.policy_adapter)
    unexpected = [key for key in result.unexpected_keys if "lora_" in key]
    if unexpected:
        raise ValueError(
            f"{directory} holds weights this policy has no place for: {unexpected}"
        )
    head = load_file(directory / VALUE_HEAD_FILE, device=str(trainer.device))
    if head.keys() != trainer.value_head.state_dict().keys():
        raise ValueError(
            f"{directory}'s value head has the weights {sorted(head)}, this trainer's "
            f"has {sorted(trainer.value_head.state_dict())}."
        )
    trainer.value_head.load_state_dict(head)
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.kl_controller.value = state["kl_coef"]
    trainer.steps_done = state["steps_done"]
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], trainer.device)
    trainer._shuffle_rng.set_state(state["shuffle_rng"])
    trainer._length_rng.setstate(state["length_rng"])
