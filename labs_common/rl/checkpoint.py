"""A PPO run's checkpoint on disk: what ``PPOTrainer.save`` writes and ``PPOTrainer.load`` reads.

The trainer gives its state as a dict (:meth:`~labs_common.rl.ppo.PPOTrainer.state_dict`)
and takes it back (:meth:`~labs_common.rl.ppo.PPOTrainer.load_state_dict`); this module
only turns that dict into files and back. A checkpoint folder holds:

* the policy adapter in peft's format (``adapter_model.safetensors`` and
  ``adapter_config.json``), which reloads on its own for sampling with
  ``PeftModel.from_pretrained(base, folder)``;
* the value head (:data:`VALUE_HEAD_FILE`);
* the PPO settings (``ppo_config.json``), for a reader: loading does not use them;
* :data:`TRAINER_STATE_FILE`: the Adam state, the KL coefficient, the step count and the
  random generators, so that a resumed run continues as the uninterrupted one would have.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft.utils import load_peft_weights
from safetensors.torch import load_file, save_file

ADAPTER_FILE = "adapter_model.safetensors"
VALUE_HEAD_FILE = "value_head.safetensors"
CONFIG_FILE = "ppo_config.json"
TRAINER_STATE_FILE = "trainer_state.pt"


def write_checkpoint(state: dict, directory: Path) -> None:
    """Write a trainer's ``state`` (as ``state_dict()`` returns it) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    save_file(
        {name: tensor.contiguous() for name, tensor in state["adapter"].items()},
        directory / ADAPTER_FILE,
        metadata={"format": "pt"},
    )
    state["adapter_config"].save_pretrained(str(directory))
    save_file(state["value_head"], directory / VALUE_HEAD_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(state["config"], indent=2))
    torch.save(state["trainer"], directory / TRAINER_STATE_FILE)


def read_checkpoint(directory: Path, device: torch.device) -> dict:
    """The state :func:`write_checkpoint` wrote, for ``load_state_dict``: the adapter and the
    value head on ``device``, the trainer's state on the CPU (the optimizer moves it). The
    adapter's configuration and the PPO settings are the trainer's own, and not read.

    A folder without :data:`TRAINER_STATE_FILE` was not written by ``PPOTrainer.save``,
    and raises ``ValueError``: a run cannot resume from it.
    """
    directory = Path(directory)
    state_path = directory / TRAINER_STATE_FILE
    if not state_path.is_file():
        raise ValueError(
            f"{directory} has no {TRAINER_STATE_FILE}: it was not written by "
            "PPOTrainer.save, and a run cannot resume from it."
        )
    return {
        "adapter": load_peft_weights(str(directory), device=str(device)),
        "value_head": load_file(directory / VALUE_HEAD_FILE, device=str(device)),
        "trainer": torch.load(state_path, map_location="cpu", weights_only=True),
    }
