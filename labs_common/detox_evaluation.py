"""Lab 3's judging of a detoxified policy: its summaries, their toxicity, the tables.

* :func:`generate_summaries` writes the summaries that are scored, greedily or sampled the
  PPO way with a fixed seed, and :func:`score_toxicity_groups` scores named groups of them
  in one pass over a classifier (section 3);
* :func:`before_after_table`, :func:`percent_change` and :func:`word_counts` compare the
  summaries before and after training (section 6);
* :func:`kl_to_start` and :func:`kl_between` measure how far a trained policy moved from
  where it started, and :func:`runs_summary` gathers several seeds' runs.

Comparing several methods on the same judges is :mod:`labs_common.comparison` (Lab 4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from labs_common.evaluation import summarize
from labs_common.rl.dpo import DPOConfig, DPOTrainer
from labs_common.rl.preferences import sample_candidates
from labs_common.rl.rollout import pure_generation_config

DECODINGS = ("greedy", "sampled")  # how the summaries that are scored are generated


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
    The model's own ``generation_config`` adds nothing but its special token ids, as in
    :func:`~labs_common.rl.preferences.sample_candidates`.
    """
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, not {decoding!r}.")
    options = {"do_sample": True, "top_k": 0, "top_p": 1.0} if decoding == "sampled" else {}
    torch.manual_seed(seed)
    with pure_generation_config(model):  # a Hub config's temperature or beams do not apply
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


def middle_share(toxicity: Sequence[float], low: float = 0.1, high: float = 0.9) -> float:
    """The share of texts scored between ``low`` and ``high``: neither clean nor hateful.

    A reward model that only says 0 or 1 gives PPO nothing to climb between the two; one
    that grades text puts a good share of it in the middle.
    """
    values = np.asarray(toxicity, dtype=float)
    if values.size == 0:
        raise ValueError("No toxicity scores.")
    return float(np.mean((values >= low) & (values <= high)))


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


def kl_to_start(model, tokenizer, prompt_texts: Sequence[str], *, seed: int,
                max_new_tokens: int, min_new_tokens: int = 1, batch_size: int = 16) -> float:
    """KL(policy ‖ start) per response, for a LoRA policy whose adapter started at zero.

    The start is then the base model (the adapter disabled), as for trl's GRPO and DPO runs
    given a ``peft_config``. One response per prompt is sampled purely (as PPO's rollouts,
    seeded), and the estimate is the mean over them of log π(response) − log π_base(response),
    summed over its tokens: the number PPO logs as ``objective/kl`` and
    :meth:`labs_common.rl.ppo.PPOTrainer.kl_to_reference` returns, so methods compare.
    """
    responses = _own_samples(model, tokenizer, prompt_texts, seed=seed, batch_size=batch_size,
                             max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens)
    scorer = DPOTrainer(DPOConfig(seed=seed), model=model, tokenizer=tokenizer,
                        reference="base")
    return scorer.kl_to_reference(list(prompt_texts), responses)


def _own_samples(model, tokenizer, prompt_texts: Sequence[str], **sampling) -> list[str]:
    """One pure, seeded sample per prompt text: the responses a KL estimate is taken on."""
    samples = sample_candidates(model, tokenizer, prompt_texts, 1, prompt=str, **sampling)
    return [texts[0] for texts in samples]


def kl_between(policy, start, tokenizer, prompt_texts: Sequence[str], *, seed: int,
               max_new_tokens: int, min_new_tokens: int = 1, batch_size: int = 16) -> float:
    """KL(policy ‖ start) per response, for two separate models (e.g. Lab 3's PPO policy and
    Lab 2's, loaded from their adapters), estimated as :func:`kl_to_start` does: responses
    sampled purely from ``policy``, and the mean of log π(response) − log π_start(response).
    Neither model is changed (each is scored through a copy)."""
    import copy

    responses = _own_samples(policy, tokenizer, prompt_texts, seed=seed, batch_size=batch_size,
                             max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens)
    rows = [{"prompt": p, "chosen": r, "rejected": r}
            for p, r in zip(prompt_texts, responses, strict=True)]
    totals = []
    for model in (policy, start):
        scorer = DPOTrainer(DPOConfig(seed=seed, batch_size=batch_size),
                            model=copy.deepcopy(model), tokenizer=tokenizer)
        chosen, _ = scorer.pair_logprobs(scorer.encode(rows))
        totals.append(chosen)
    return float((totals[0] - totals[1]).mean())


def runs_summary(before: Mapping[str, Sequence[float]], runs: Mapping[int, Mapping],
                 *, seed: int = 0) -> dict:
    """PPO's effect over several runs from one start, per run and on the mean over runs.

    ``before`` holds per-example scores of the starting policy's summaries of the test
    dialogues: ``"toxicity"`` (the reward model's P(hate)) and ``"judge"`` (the second
    judge's), and any quality scores such as ``"rouge1"`` (or ``"rouge1_clean"``, on the
    dialogues whose human summary is clean). ``runs`` maps each run's seed to the same lists
    for its trained policy, on the same dialogues in the same order.

    One PPO run is one draw: its size (and, on a small world, even which lesson it shows
    best) depends on the seed and on the machine's arithmetic. What a lab may state as a
    fact is what holds on the mean over runs, with an interval. Returns a dict with

    * ``"runs"``: per seed, the toxicity cut (share of the mean removed), the drops seen by
      the reward model and by the judge, their difference (``hack_gap``: positive when
      the reward model saw more improvement than the judge) and each quality score's
      change (``"rouge1_change"``, ...);
    * ``"mean"``: the same figures averaged over the runs, and ``"count"`` the runs;
    * ``"ci"``: paired 95 % intervals over the test dialogues of the mean-over-runs change
      (each dialogue's after-score averaged over the runs, minus its before-score), for
      every score and for ``hack_gap``.
    """
    from labs_common.stats import paired_difference_ci

    if not runs:
        raise ValueError("No runs to summarize.")
    if not {"toxicity", "judge"} <= set(before):
        raise ValueError("before needs 'toxicity' and 'judge' scores.")
    keys = list(before)
    quality = [k for k in keys if k not in ("toxicity", "judge")]
    start = {k: np.asarray(before[k], dtype=float) for k in keys}
    ends = {}
    for s, run in runs.items():
        ends[s] = {k: np.asarray(run[k], dtype=float) for k in keys}
        for k in keys:
            if ends[s][k].shape != start[k].shape:
                raise ValueError(f"Run {s}: {ends[s][k].size} {k} scores, {start[k].size} before.")
    per_run = {}
    for s, end in ends.items():
        drop = float(start["toxicity"].mean() - end["toxicity"].mean())
        judge_drop = float(start["judge"].mean() - end["judge"].mean())
        per_run[s] = {"toxicity_after": float(end["toxicity"].mean()),
                      "cut": drop / float(start["toxicity"].mean()),
                      "reward_model_drop": drop, "judge_drop": judge_drop,
                      "hack_gap": drop - judge_drop}
        per_run[s].update({f"{k}_change": float(end[k].mean() - start[k].mean())
                           for k in quality})
    figures = next(iter(per_run.values()))
    mean = {k: float(np.mean([r[k] for r in per_run.values()])) for k in figures}
    averaged = {k: np.mean([end[k] for end in ends.values()], axis=0) for k in keys}
    ci = {k: paired_difference_ci(averaged[k], start[k], seed=seed).as_list() for k in keys}
    # hack_gap per dialogue, written as an after - before change: (judge - reward model)
    ci["hack_gap"] = paired_difference_ci(averaged["judge"] - averaged["toxicity"],
                                          start["judge"] - start["toxicity"],
                                          seed=seed).as_list()
    return {"runs": per_run, "mean": mean, "ci": ci, "count": len(per_run)}
