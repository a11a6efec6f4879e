"""A training run that is killed (SIGKILL, as a lost Colab session) right after it has written
its k-th checkpoint: the tests of resuming start it in a process of its own.

    python resume_child.py {ppo,trainer} FOLDER KILL_AFTER_STEP [while-writing]

With ``while-writing`` the kill comes while checkpoint k is being written instead (its files
are there, the rename that makes it a checkpoint has not happened).

Not a test module. ``run(kind, folder)`` is also what the tests call in-process to finish the
run, or to run it uninterrupted, so all three runs are the same code.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

from labs_common import checkpoints, detox, training
from labs_common.rl.ppo_config import PPOConfig

from tiny_policies import PROMPTS, WORDS, t5_base, t5_policy, target_share, word_level_tokenizer

PPO_STEPS, TRAINER_STEPS = 6, 12


def run(kind: str, folder: str, log=print):
    """The run, to the end: its final weights (name -> tensor) and what it logged."""
    torch.set_num_threads(1)
    tokenizer = word_level_tokenizer(append_eos=True)
    if kind == "ppo":
        config = PPOConfig(batch_size=4, mini_batch_size=2, max_new_tokens=5, min_new_tokens=1,
                           learning_rate=1e-2, seed=0)
        result = detox.run_ppo(t5_policy(), tokenizer, target_share, PROMPTS, config, PPO_STEPS,
                               progress=False, prompt=str, checkpoint_dir=folder, save_every=2,
                               log=log)
        weights = {n: p.detach().clone() for n, p in result.trainer.model.named_parameters()
                   if ".default." in n}
        weights["value_head"] = result.trainer.value_head.weight.detach().clone()
        history = [{k: v for k, v in h.items() if not k.startswith("time/")}
                   for h in result.history]
        return weights, history
    torch.manual_seed(0)
    model = t5_base()
    rows = [{"dialogue": " ".join(WORDS[i:i + 4]), "summary": " ".join(WORDS[i:i + 2])}
            for i in range(8)]
    result = training.train_seq2seq(
        model, tokenizer, training.summary_pairs(rows, prompt=str), max_steps=TRAINER_STEPS,
        learning_rate=1e-2, batch_size=2, logging_steps=1, seed=0, checkpoint_dir=folder,
        save_steps=4, log=log)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    return weights, result.losses


if __name__ == "__main__":
    kind, folder, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    while_writing = sys.argv[4:] == ["while-writing"]
    seal = checkpoints.seal

    def seal_then_die(path, step, **extra):
        seal(path, step, **extra)
        half = Path(path).name.startswith(".")  # a folder checkpoints.write renames later
        if step == kill_after and half == while_writing:
            os.kill(os.getpid(), signal.SIGKILL)

    def write_then_die(root, step, writer, **options):
        written = write(root, step, writer, **options)
        if step == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return written

    write = checkpoints.write
    checkpoints.seal = seal_then_die
    if not while_writing:
        checkpoints.write = write_then_die
    run(kind, folder)
    sys.exit("the run was not killed")
