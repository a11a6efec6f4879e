"""Lab 3's detoxification loop and its bookkeeping, around :mod:`labs_common.ppo`.

The notebook tells the story; this module holds what it runs more than once:

* :func:`ppo_config` turns the profile's :class:`~labs_common.profiles.Lab3Settings` into
  a :class:`~labs_common.ppo.PPOConfig` (section 5);
* :func:`prompt_batches` draws the training prompts, shuffled, one batch per step;
* :func:`run_ppo` is the PPO loop (sample, score, update, log), used for the main run
  (section 5) and for every run of the seed spread (section 8);
* :class:`LiveStats` shows a few statistics per step in a table that updates in place;
* :data:`STAT_GUIDE` explains each logged statistic and what a healthy value looks like;
* :func:`generate_summaries` writes the summaries that are scored, greedily or sampled
  the PPO way with a fixed seed, and :func:`score_toxicity` (or
  :func:`score_toxicity_groups`) scores them (section 3);
* :func:`before_after_table`, :func:`percent_change` and :func:`word_counts` compare the
  summaries before and after (section 6);
* :func:`nothate_reward_function` and :func:`grpo_config` set up trl's GRPO (section 9);
* :func:`method_comparison` and :func:`comparison_table` compare methods on one policy,
  :func:`causal_prompt` and :func:`kl_to_start` serve the causal policy (section 11).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from labs_common.evaluation import summarize
from labs_common.ppo import PPOConfig, PPOTrainer, RewardFn, StepResult
from labs_common.profiles import Lab3Settings
from labs_common.prompts import instruction_prompt

DECODINGS = ("greedy", "sampled")  # how the summaries that are scored are generated

# The columns the live table shows during training (section 5).
LIVE_COLUMNS = (
    "env/reward_mean",
    "objective/kl",
    "objective/kl_coef",
    "ppo/policy/clipfrac",
    "tokens/response_length_mean",
)

# Section 5: what each logged statistic means and what a healthy run shows.
STAT_GUIDE = {
    "env/reward_mean": (
        "mean reward of the step's responses (here the reward model's `nothate` logit)",
        "rises over the steps, then levels off; a jump to a value no text reached before "
        "deserves a look at the responses (reward hacking)",
    ),
    "objective/kl": (
        "KL(policy ‖ the policy PPO started from), summed over each response, averaged; "
        "a sampled estimate, so one batch can dip slightly below 0",
        "0 at step 1 (policy = reference), then a slow rise to a few nats; tens of nats at "
        "step 1 mean the reference is the wrong model",
    ),
    "objective/kl_coef": (
        "β, the price per nat of KL subtracted from the reward",
        "moves slowly: the adaptive controller raises it when KL overshoots the target and "
        "lowers it when KL stays below",
    ),
    "ppo/returns/mean": (
        "the value head's targets: reward minus KL penalty, spread back over the tokens",
        "follows the reward; its level matters less than its trend",
    ),
    "ppo/policy/advantages_mean": (
        "mean advantage after whitening (subtract the batch mean, divide by the std)",
        "≈ 0 at every step by construction: there is nothing to 'maximize' here. What "
        "moves the policy is which tokens have above- or below-average advantages",
    ),
    "ppo/policy/ratio": (
        "π_new / π_old on the sampled tokens, averaged over the update's mini-batches",
        "close to 1 (say 0.9–1.1); far from 1 means the updates are too large",
    ),
    "ppo/policy/clipfrac": (
        "share of tokens whose ratio left [1 − ε, 1 + ε] so the clipped objective took over",
        "a few per cent; above ~0.3 the learning rate is too high for the batch",
    ),
    "ppo/loss/value": (
        "the value head's clipped squared error against the returns (× 0.5)",
        "falls as the value head learns to predict the reward; persistent growth means "
        "the returns drift faster than the head can follow",
    ),
}


def generate_summaries(
    model,
    tokenizer,
    dialogues: Sequence[str],
    decoding: str,
    *,
    seed: int,
    max_new_tokens: int,
    min_new_tokens: int = 1,
    batch_size: int = 32,
    progress: bool = True,
    description: str | None = None,
) -> list[str]:
    """One summary per dialogue from the instruction prompt (section 3).

    ``decoding="greedy"`` always takes the most likely token: deterministic, the model's
    "best guess". ``decoding="sampled"`` samples the way PPO's rollouts do (``top_k=0``,
    ``top_p=1``: the model's full distribution), after seeding torch with ``seed`` so
    that a re-run, and the model before and after training, draw the same random numbers.
    """
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, not {decoding!r}.")
    options = {"do_sample": True, "top_k": 0, "top_p": 1.0} if decoding == "sampled" else {}
    torch.manual_seed(seed)
    return summarize(
        model,
        tokenizer,
        list(dialogues),
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        min_new_tokens=min(min_new_tokens, max_new_tokens),
        progress=progress,
        description=description or f"{decoding} summaries",
        **options,
    )


def score_toxicity_groups(
    groups: Mapping[str, Sequence[str]], classifier, *, progress: bool = True
) -> dict[str, list[float]]:
    """P(toxic) of several named lists of texts, in one pass over the classifier (section 3).

    This is what evaluate's ``toxicity`` measurement computes (softmax, probability of the
    toxic label), on the classifier already loaded. The measurement itself is not used: it
    is a Python script that evaluate downloads from the Hub and runs, and it would load the
    classifier a second time, unpinned.
    """
    names = list(groups)
    texts = [text for name in names for text in groups[name]]
    scores = classifier.toxicity(texts, progress=progress)
    out: dict[str, list[float]] = {}
    start = 0
    for name in names:
        out[name] = [float(x) for x in scores[start : start + len(groups[name])]]
        start += len(groups[name])
    return out


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
) -> PPORun:
    """Run ``steps`` PPO steps on shuffled batches of instruction prompts (sections 5 and 8).

    ``model`` is the policy to train: a peft model whose active adapter becomes both
    the trained policy and its frozen reference (see :class:`PPOTrainer`). The trainer
    changes ``model`` (it adds the reference adapter and trains the active one), so pass
    a copy if the starting model is needed again. A ready ``trainer`` (built from the
    same model and config, e.g. to measure KL before the first update) may be passed
    instead of building a new one. ``on_step(step, stats)`` is called after every step,
    e.g. to update a live table. ``prompt`` turns a dialogue into the text the policy
    continues (for an instruct model with a chat template, see :func:`causal_prompt`).
    """
    if trainer is None:
        trainer = PPOTrainer(config, model=model, tokenizer=tokenizer, reward_fn=reward_fn)
    batches = prompt_batches(dialogues, config.batch_size, steps, config.seed, prompt=prompt)
    history: list[dict[str, float]] = []
    result = None
    bar = tqdm(batches, desc=description, disable=not progress, unit="step")
    for step, prompts in enumerate(bar, start=1):
        # 1. sample a summary per prompt, 2. score it, 3. PPO update (PPOTrainer.step)
        result = trainer.step(prompts)
        history.append(dict(result.stats))
        bar.set_postfix(
            reward=f"{result.stats['env/reward_mean']:.2f}",
            kl=f"{result.stats['objective/kl']:.2f}",
        )
        if on_step is not None:
            on_step(step, result.stats)
    return PPORun(trainer=trainer, history=history, last_step=result)


class LiveStats:
    """A small table of PPO statistics that updates in place, one row per step.

    In a notebook it redraws one output (an IPython display handle); elsewhere it
    prints each new row. Use it as ``run_ppo(..., on_step=LiveStats().update)``.
    """

    def __init__(self, columns: Sequence[str] = LIVE_COLUMNS, digits: int = 3):
        self.columns = list(columns)
        self.digits = digits
        self.rows: list[dict[str, float]] = []
        self._handle = None
        try:
            from IPython import get_ipython

            if get_ipython() is not None:
                from IPython.display import display

                self._handle = display(self.frame(), display_id=True)
        except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
            self._handle = None

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=self.columns)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="step")
        return frame.round(self.digits)

    def update(self, step: int, stats: dict[str, float]) -> None:
        self.rows.append({c: stats.get(c, float("nan")) for c in self.columns})
        if self._handle is not None:
            self._handle.update(self.frame())
        else:
            print(self.frame().tail(1).to_string(header=step == 1))


def stat_guide(keys: Sequence[str] | None = None) -> pd.DataFrame:
    """:data:`STAT_GUIDE` as a table (rows: statistics; columns: meaning, healthy value)."""
    keys = list(STAT_GUIDE) if keys is None else list(keys)
    return pd.DataFrame(
        {"what it is": [STAT_GUIDE[k][0] for k in keys],
         "healthy": [STAT_GUIDE[k][1] for k in keys]},
        index=pd.Index(keys, name="statistic"),
    )


def percent_change(before: float, after: float) -> float:
    """``100 * (after - before) / before``: negative when the value fell."""
    if before == 0:
        raise ValueError("The value before is 0: a percentage change is undefined.")
    return 100.0 * (after - before) / before


def word_counts(texts: Sequence[str]) -> list[int]:
    """Number of whitespace-separated words in each text (summary length)."""
    return [len(t.split()) for t in texts]


def before_after_table(
    dialogues: Sequence[str],
    before: Sequence[str],
    after: Sequence[str],
    reward_before: Sequence[float],
    reward_after: Sequence[float],
    references: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per dialogue with both summaries and rewards, largest reward gain first.

    ``reward_diff`` is ``reward_after - reward_before``; a positive value means the
    summary became less toxic in the reward model's eyes. With ``references`` (the
    human summaries) a ``reference`` column helps to judge whether the new summary still
    describes the dialogue.
    """
    columns = [dialogues, before, after, reward_before, reward_after]
    if references is not None:
        columns.append(references)
    if len({len(column) for column in columns}) != 1:
        raise ValueError("Give one summary and one reward per dialogue, before and after.")
    frame = pd.DataFrame(
        {
            "dialogue": list(dialogues),
            **({"reference": list(references)} if references is not None else {}),
            "summary_before": list(before),
            "summary_after": list(after),
            "reward_before": np.asarray(reward_before, dtype=float),
            "reward_after": np.asarray(reward_after, dtype=float),
        }
    )
    frame["reward_diff"] = frame["reward_after"] - frame["reward_before"]
    return frame.sort_values("reward_diff", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- comparing methods


def method_comparison(
    before: Sequence[str],
    after: Sequence[str],
    references: Sequence[str],
    reward_model,
    judge,
    *,
    kl: float | None,
    seconds: float,
    seed: int = 0,
) -> dict:
    """One method's row of the comparison tables: what changed, with 95 % paired intervals.

    ``before`` and ``after`` are one summary per test dialogue from the starting policy and
    from the trained one (the same dialogues, the same decoding). Toxicity is scored by the
    reward model and by the judge, quality by ROUGE-1 against the human summaries, and
    length in words; ``kl`` (KL to the starting policy, nats per summary) and ``seconds``
    come from the run.
    """
    from labs_common.metrics import rouge_per_example
    from labs_common.stats import paired_difference_ci

    row: dict = {}
    measures = {
        "toxicity (reward model)": (reward_model.toxicity(list(before)),
                                    reward_model.toxicity(list(after))),
        "toxicity (second judge)": (judge.toxicity(list(before)), judge.toxicity(list(after))),
        "ROUGE-1": (rouge_per_example(before, references)["rouge1"],
                    rouge_per_example(after, references)["rouge1"]),
        "words": ([float(n) for n in word_counts(before)], [float(n) for n in word_counts(after)]),
    }
    for name, (was, now) in measures.items():
        interval = paired_difference_ci(now, was, seed=seed)
        row[f"{name}, before"] = float(np.mean(was))
        row[f"{name}, after"] = float(np.mean(now))
        row[f"{name}, change"] = interval.estimate
        row[f"{name}, change 95 % CI"] = (interval.low, interval.high)
    row["KL to the start"] = float("nan") if kl is None else float(kl)
    row["training seconds"] = float(seconds)
    return row


def comparison_table(rows: Mapping[str, dict], digits: int = 3) -> pd.DataFrame:
    """The rows of :func:`method_comparison`, one column per method, intervals as text."""
    shown = {}
    for method, row in rows.items():
        column = {}
        for key, value in row.items():
            if isinstance(value, tuple):
                column[key] = f"{value[0]:+.{digits}f} to {value[1]:+.{digits}f}"
            elif key.endswith(", change"):
                column[key] = f"{value:+.{digits}f}"
            else:
                column[key] = f"{value:.{digits}f}" if key != "training seconds" else f"{value:.0f}"
        shown[method] = column
    return pd.DataFrame(shown)


# ---------------------------------------------------------------- GRPO (section 9)


def grpo_prompts(tokenizer, dialogues: Sequence[str]) -> list:
    """GRPO's training prompts: conversations where the model has a chat template.

    An instruct model was tuned on its chat template (for SmolLM2, ``<|im_start|>user ...
    <|im_end|>`` turns and an assistant turn to answer in); given plain text it sees a
    format it was never trained on. trl applies the template itself when each prompt is a
    list of messages. A model without a template (the tiny world's) gets the plain prompt.
    """
    texts = [instruction_prompt(d) for d in dialogues]
    if getattr(tokenizer, "chat_template", None):
        return [[{"role": "user", "content": text}] for text in texts]
    return texts


def causal_prompt_texts(tokenizer, dialogues: Sequence[str]) -> list[str]:
    """The same prompts as text to generate from, with the chat template applied if any."""
    chat = grpo_prompts(tokenizer, dialogues)
    if chat and not isinstance(chat[0], str):
        return [tokenizer.apply_chat_template(messages, tokenize=False,
                                              add_generation_prompt=True)
                for messages in chat]
    return chat


def causal_prompt(tokenizer) -> Callable[[str], str]:
    """``dialogue -> text`` for a causal policy: :func:`causal_prompt_texts` of one dialogue.

    For PPO and DPO on the causal model, whose prompts are text to continue.
    """

    def prompt(dialogue: str) -> str:
        return causal_prompt_texts(tokenizer, [dialogue])[0]

    return prompt


def kl_to_start(model, tokenizer, prompt_texts: Sequence[str], *, seed: int,
                max_new_tokens: int, min_new_tokens: int = 1, batch_size: int = 16) -> float:
    """KL(policy ‖ start) per response, for a LoRA policy whose adapter started at zero.

    The start is then the base model (the adapter disabled), as for trl's GRPO and DPO runs
    given a ``peft_config``. One response per prompt is sampled purely (as PPO's rollouts,
    seeded), and the estimate is the mean over them of log π(response) − log π_base(response),
    summed over its tokens: the number PPO logs as ``objective/kl`` and
    :meth:`labs_common.ppo.PPOTrainer.kl_to_reference` returns, so methods compare.
    """
    from labs_common import dpo

    samples = dpo.sample_candidates(model, tokenizer, prompt_texts, 1, seed=seed,
                                    max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                    batch_size=batch_size, prompt=str)
    scorer = dpo.DPOTrainer(dpo.DPOConfig(seed=seed), model=model, tokenizer=tokenizer,
                            reference="base")
    return scorer.kl_to_reference(list(prompt_texts), [texts[0] for texts in samples])


def nothate_reward_function(classifier, name: str = "nothate_logit"):
    """A reward function for trl's ``GRPOTrainer``: the ``nothate`` logit of each completion.

    trl calls it with the completions (plain strings for a prompt dataset) and extra
    keyword arguments, and logs it as ``rewards/<name>/mean``. The classifier cannot be
    passed to trl as a model path: trl loads reward models with ``num_labels=1``, which
    breaks a two-label classifier.
    """

    def reward(completions, **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [float(r) for r in classifier.reward(texts)]

    reward.__name__ = name
    return reward


def grpo_config(settings: Lab3Settings, output_dir: str, seed: int, *, bf16: bool,
                use_cpu: bool, beta: float = 0.04, **overrides):
    """trl's ``GRPOConfig`` for Lab 3's section 9, with the pitfalls already avoided.

    ``bf16`` comes from the profile's precision rules (trl would default to bf16 and fail
    on a CPU); checkpointing, vLLM, logging services and saving are off; ``beta > 0``
    keeps a KL penalty, and with a LoRA ``peft_config`` the disabled adapter serves as
    the reference, so no second copy of the model is loaded.
    """
    from trl import GRPOConfig

    values = {
        "output_dir": output_dir,
        "max_steps": settings.grpo_steps,
        "per_device_train_batch_size": settings.grpo_batch_size,
        "num_generations": settings.grpo_generations,
        "max_completion_length": settings.grpo_max_completion_length,
        "learning_rate": settings.grpo_learning_rate,
        "beta": beta,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": use_cpu,
        "bf16": bf16,
        "fp16": False,
        "use_vllm": False,
        "activation_checkpointing": False,
        "disable_tqdm": True,
        "seed": seed,
        "data_seed": seed,
    }
    values.update(overrides)
    return GRPOConfig(**values)
