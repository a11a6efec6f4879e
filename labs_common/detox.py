"""Lab 3's PPO detoxification run: its settings, its prompts and the loop (sections 5 and 8).

The notebook tells the story; this module holds the run it repeats (the main run, the
seed spread, the runs that game the reward model, the causal policy's run):

* :func:`ppo_config` turns the profile's :class:`~labs_common.profiles.Lab3Settings` into
  a :class:`~labs_common.rl.ppo_config.PPOConfig`;
* :func:`targeted_dialogues` keeps the training dialogues whose summaries by the starting
  policy the reward model finds most toxic: PPO trains where there is something to fix;
  :func:`choose_ppo_dialogues` writes and scores those summaries and applies it;
* :func:`prompt_batches` draws the training prompts, shuffled, one batch per step;
* :func:`run_ppo` is the PPO loop (sample, score, update, log) around
  :class:`~labs_common.rl.ppo.PPOTrainer`, and :class:`PPORun` what it returns.

Watching the run (a live table, what each statistic means) is :mod:`labs_common.ppo_stats`;
scoring the summaries before and after is :mod:`labs_common.detox_evaluation`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from labs_common import checkpoints
from labs_common.detox_evaluation import generate_summaries
from labs_common.profiles import Lab3Settings
from labs_common.prompts import instruction_prompt
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig, StepResult
from labs_common.rl.rollout import RewardFn


def ppo_config(settings: Lab3Settings, seed: int, **overrides) -> PPOConfig:
    """The PPO settings of a profile's Lab 3 as a :class:`PPOConfig` (section 5).

    Sampling is pure (``top_k=0``, ``top_p=1``), as in the course; ``overrides`` replace
    any field, e.g. ``learning_rate=...`` in a "try it yourself" cell.
    """
    values = {
        "learning_rate": settings.ppo_learning_rate,
        "batch_size": settings.ppo_batch_size,
        "mini_batch_size": settings.ppo_mini_batch_size,
        "ppo_epochs": settings.ppo_epochs,
        "init_kl_coef": settings.init_kl_coef,
        "target_kl": settings.target_kl,
        "min_new_tokens": settings.min_new_tokens,
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": True,
        "top_k": 0,
        "top_p": 1.0,
        "seed": seed,
        "gradient_checkpointing": settings.ppo_gradient_checkpointing,
    }
    values.update(overrides)
    return PPOConfig(**values)


def prompt_batches(
    dialogues: Sequence[str],
    batch_size: int,
    steps: int,
    seed: int,
    prompt: Callable[[str], str] = instruction_prompt,
) -> list[list[str]]:
    """``steps`` batches of ``prompt(dialogue)``, shuffled, each dialogue once per pass.

    The dialogues are shuffled with ``seed``; when a pass over them ends, the next one is
    reshuffled. A batch never holds the same dialogue twice (unless there are fewer
    dialogues than ``batch_size``).
    """
    if not dialogues:
        raise ValueError("No dialogues to draw PPO prompts from.")
    if batch_size < 1 or steps < 0:
        raise ValueError("batch_size must be at least 1 and steps at least 0.")
    rng = random.Random(seed)
    order: list[int] = []
    batches = []
    for _ in range(steps):
        batch: list[int] = []
        while len(batch) < batch_size:
            if not order:
                order = list(range(len(dialogues)))
                rng.shuffle(order)
            batch.append(order.pop())
        batches.append([prompt(dialogues[i]) for i in batch])
    return batches


def targeted_dialogues(dialogues: Sequence[str], toxicity: Sequence[float],
                       share: float) -> list[str]:
    """The ``share`` of ``dialogues`` whose summaries scored the highest ``toxicity``.

    ``toxicity[i]`` is the reward model's P(hate) of the starting policy's summary of
    ``dialogues[i]``. The kept dialogues stay in their original order (``prompt_batches``
    shuffles them); ties at the cut are broken by position. At least one dialogue is kept.

    Why: on a dialogue whose summary is already clean, the reward is flat and PPO's only
    signal is noise plus the KL penalty; most of DialogSum is such dialogues. Training on the
    prompts that provoke the unwanted behaviour is what trl's detoxification example did too
    (it kept the prompts of a toxicity dataset rated most toxic).
    """
    if len(dialogues) != len(toxicity):
        raise ValueError(f"{len(dialogues)} dialogues but {len(toxicity)} toxicity scores.")
    if not dialogues:
        raise ValueError("No dialogues to choose PPO prompts from.")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], not {share}.")
    keep = max(1, round(share * len(dialogues)))
    ranked = sorted(range(len(dialogues)), key=lambda i: (-float(toxicity[i]), i))[:keep]
    return [dialogues[i] for i in sorted(ranked)]


def choose_ppo_dialogues(policy, tokenizer, reward_model, dialogues: Sequence[str],
                         settings: Lab3Settings, *, seed: int, progress: bool = True
                         ) -> tuple[list[str], list[float]]:
    """PPO's training dialogues, as Lab 3 chooses them: of the first
    ``settings.ppo_scan_dialogues``, the ``settings.ppo_prompt_share`` whose greedy summary
    by ``policy`` the reward model finds most toxic (:func:`targeted_dialogues`).

    Returns the chosen dialogues and the P(hate) of every scanned dialogue's summary.
    """
    scan = list(dialogues)[: settings.ppo_scan_dialogues]
    summaries = generate_summaries(
        policy, tokenizer, scan, "greedy", seed=seed, max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens, batch_size=settings.generation_batch_size,
        description="training dialogues", progress=progress)
    toxicity = [float(t) for t in reward_model.toxicity(summaries)]
    return targeted_dialogues(scan, toxicity, settings.ppo_prompt_share), toxicity


@dataclass
class PPORun:
    """A finished PPO run: the trainer (holding the trained policy) and what each step logged."""

    trainer: PPOTrainer
    history: list[dict[str, float]]  # one dict of statistics per step, in order
    last_step: StepResult | None = field(default=None, repr=False)  # the final step's episodes

    @property
    def seconds(self) -> float:
        """Wall-clock time of all steps (differs from run to run: print it, never record it)."""
        return float(sum(h.get("time/step_seconds", 0.0) for h in self.history))

    def table(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The history as a DataFrame, one row per step (numbered from 1)."""
        frame = pd.DataFrame(self.history, index=pd.RangeIndex(1, len(self.history) + 1))
        frame.index.name = "step"
        return frame if columns is None else frame[list(columns)]


def run_ppo(
    model,
    tokenizer,
    reward_fn: RewardFn,
    dialogues: Sequence[str],
    config: PPOConfig,
    steps: int,
    *,
    progress: bool = True,
    description: str = "PPO",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    trainer: PPOTrainer | None = None,
    prompt: Callable[[str], str] = instruction_prompt,
    checkpoint_dir: str | Path | None = None,
    save_every: int | None = None,
    log: Callable[[str], None] = print,
) -> PPORun:
    """Run ``steps`` PPO steps on shuffled batches of instruction prompts (sections 5 and 8).

    ``model`` is the policy to train: a peft model whose active adapter becomes both
    the trained policy and its frozen reference (see :class:`PPOTrainer`). The trainer
    changes ``model`` (it adds the reference adapter and trains the active one), so pass
    a copy if the starting model is needed again. A ready ``trainer`` (built from the
    same model and config, e.g. to measure KL before the first update) may be passed
    instead of building a new one. ``on_step(step, stats)`` is called after every step,
    e.g. to update a live table. ``prompt`` turns a dialogue into the text the policy
    continues (for an instruct model with a chat template, see
    :func:`labs_common.causal_prompts.causal_prompt`).

    With ``checkpoint_dir`` the run survives a disconnect: every ``save_every`` steps (and
    after the last) it writes a checkpoint there (:mod:`labs_common.checkpoints`), and a
    call with the same folder, settings and dialogues continues from the newest good one,
    as the uninterrupted run would have; a run that finished is loaded, not retrained.
    Other settings or dialogues than the folder's start the run over.
    """
    if trainer is None:
        trainer = PPOTrainer(config, model=model, tokenizer=tokenizer, reward_fn=reward_fn)
    batches = prompt_batches(dialogues, config.batch_size, steps, config.seed, prompt=prompt)
    history: list[dict[str, float]] = []
    result = None
    start = 0
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        save_every = save_every or max(1, steps // 4)
        prompts_digest = hashlib.sha256(json.dumps(batches).encode()).hexdigest()
        fingerprint = {"config": asdict(config), "steps": steps, "prompts": prompts_digest,
                       "start": checkpoints.weights_signature(
                           p for p in trainer.model.parameters() if p.requires_grad)}
        found = checkpoints.resume_from(checkpoint_dir, fingerprint, steps, description, log)
        if found is not None:
            trainer.load(found)
            start = checkpoints.step_of(found)
            history = list(checkpoints.record(found)["history"])
    bar = tqdm(batches[start:], desc=description, disable=not progress, unit="step",
               initial=start, total=steps)
    for step, prompts in enumerate(bar, start=start + 1):
        # 1. sample a summary per prompt, 2. score it, 3. PPO update (PPOTrainer.step)
        result = trainer.step(prompts)
        history.append(dict(result.stats))
        bar.set_postfix(
            reward=f"{result.stats['env/reward_mean']:.2f}",
            kl=f"{result.stats['objective/kl']:.2f}",
        )
        if on_step is not None:
            on_step(step, result.stats)
        if checkpoint_dir is not None and (step % save_every == 0 or step == steps):
            checkpoints.write(checkpoint_dir, step, trainer.save, history=history)
    return PPORun(trainer=trainer, history=history, last_step=result)
