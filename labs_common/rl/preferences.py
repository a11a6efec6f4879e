"""Preference pairs from a policy's own samples, for DPO (Lab 4, section 3).

DPO learns from pairs of responses to the same prompt, one preferred ("chosen") and one
not ("rejected"). Lab 4 makes them from its own world, without human labels:

* :func:`sample_candidates` samples several summaries per training dialogue from Lab 2's
  policy (pure sampling, as PPO's rollouts);
* :func:`score_candidates` scores them with the reward model, in one pass;
* :func:`build_pairs` keeps, per dialogue, the best and the worst summary when their
  scores differ by at least a threshold (:class:`PreferencePairs`).

:mod:`labs_common.rl.dpo` trains on the pairs, :mod:`labs_common.rl.trl_runs` hands them to
trl's ``DPOTrainer``; both join a causal model's prompt and response with
:func:`as_continuation`, so the two trainers see the same tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from labs_common.generation import generate_batched
from labs_common.prompts import instruction_prompt
from labs_common.rl.rollout import RewardFn, pure_generation_config

PairRows = Iterable[Mapping[str, object]]  # rows with prompt, chosen and rejected texts


def sample_candidates(
    policy,
    tokenizer,
    dialogues: Sequence[str],
    n_samples: int,
    *,
    seed: int,
    max_new_tokens: int,
    min_new_tokens: int = 1,
    batch_size: int = 16,
    prompt: Callable[[str], str] = instruction_prompt,
    progress: bool = False,
) -> list[list[str]]:
    """``n_samples`` summaries per dialogue, sampled from ``policy``.

    Pure sampling, as PPO's rollouts: the model's full next-token distribution
    (``top_k=0``, ``top_p=1``), none of its ``generation_config``'s sampling settings,
    dropout off, torch seeded with ``seed`` first so that a re-run draws the same
    summaries. ``batch_size`` dialogues go into each ``generate`` call, each repeated
    ``n_samples`` times. Returns one list of ``n_samples`` texts per dialogue, in order.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, not {n_samples}.")
    prompts = [prompt(dialogue) for dialogue in dialogues]
    torch.manual_seed(seed)
    with pure_generation_config(policy):
        texts = generate_batched(
            policy,
            tokenizer,
            prompts,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min(min_new_tokens, max_new_tokens),
            do_sample=True,
            top_k=0,
            top_p=1.0,
            num_return_sequences=n_samples,
            progress=progress,
            description="sampling candidates",
        )
    # generate repeats each prompt n_samples times in a row: the samples of a dialogue are adjacent.
    return [texts[i * n_samples : (i + 1) * n_samples] for i in range(len(prompts))]


def score_candidates(candidates: Sequence[Sequence[str]], reward_fn: RewardFn) -> list[list[float]]:
    """The reward of every candidate, in one call of ``reward_fn``, shaped like ``candidates``."""
    flat = [text for texts in candidates for text in texts]
    rewards = [float(r) for r in reward_fn(flat)]
    if len(rewards) != len(flat):
        raise ValueError(f"The reward function gave {len(rewards)} scores for {len(flat)} texts.")
    out, start = [], 0
    for texts in candidates:
        out.append(rewards[start : start + len(texts)])
        start += len(texts)
    return out


@dataclass
class PreferencePairs:
    """The pairs :func:`build_pairs` kept, and how many dialogues it considered and dropped.

    ``rows`` are dicts with ``prompt``, ``chosen``, ``rejected``, ``margin`` (the chosen
    score minus the rejected one), ``chosen_score``, ``rejected_score`` and
    ``dialogue_index`` (the dialogue's position in the list given to :func:`build_pairs`).
    """

    rows: list[dict]
    total: int  # dialogues considered
    min_margin: float  # the threshold a pair's margin had to reach
    dropped_identical: int  # dialogues whose samples were all the same text
    dropped_margin: int  # dialogues whose best and worst samples scored too close

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]

    @property
    def kept(self) -> int:
        return len(self.rows)

    @property
    def margins(self) -> list[float]:
        return [row["margin"] for row in self.rows]

    def summary(self) -> str:
        """One line to print: how many pairs survived the threshold, and why the others did not."""
        return (
            f"{self.kept} of {self.total} dialogues gave a preference pair (best minus worst "
            f"score ≥ {self.min_margin:g}); dropped: {self.dropped_identical} with identical "
            f"samples only, {self.dropped_margin} with a smaller margin."
        )

    def to_dataset(self):
        """The pairs as a ``datasets.Dataset`` (columns as in ``rows``)."""
        from datasets import Dataset

        columns = ("prompt", "chosen", "rejected", "margin", "chosen_score", "rejected_score",
                   "dialogue_index")
        return Dataset.from_dict({c: [row[c] for row in self.rows] for c in columns})

    def frame(self) -> pd.DataFrame:
        """The pairs as a DataFrame, one row per pair, for a look at what DPO learns from."""
        return pd.DataFrame(self.rows)


def build_pairs(
    dialogues: Sequence[str],
    candidates: Sequence[Sequence[str]],
    scores: Sequence[Sequence[float]],
    min_margin: float,
    *,
    prompt: Callable[[str], str] = instruction_prompt,
) -> PreferencePairs:
    """At most one chosen/rejected pair per dialogue: its best and its worst distinct sample.

    Scores are rewards: higher is better (for Lab 4 the ``nothate`` logit). Repeated
    texts count once (their first score is kept). Ties are broken by sampling order: the
    chosen summary is the first sample with the highest score, the rejected one the first
    with the lowest. A pair is kept when its margin (chosen score minus rejected score) is
    above 0 and at least ``min_margin``; a dialogue whose samples are all the same text
    gives none. The prompt is ``prompt(dialogue)``, the one the samples were drawn from.
    """
    if not len(dialogues) == len(candidates) == len(scores):
        raise ValueError(
            f"Got {len(dialogues)} dialogues, {len(candidates)} candidate lists and "
            f"{len(scores)} score lists; give one of each per dialogue."
        )
    rows, identical, too_close = [], 0, 0
    triples = zip(dialogues, candidates, scores, strict=True)
    for index, (dialogue, texts, values) in enumerate(triples):
        if len(texts) != len(values):
            raise ValueError(f"Dialogue {index}: {len(texts)} candidates but {len(values)} scores.")
        distinct: dict[str, float] = {}
        for text, value in zip(texts, values, strict=True):
            if not math.isfinite(float(value)):
                raise ValueError(f"Dialogue {index}: the score {value} is not finite.")
            distinct.setdefault(text, float(value))
        if len(distinct) < 2:
            identical += 1
            continue
        items = list(distinct.items())  # in sampling order
        chosen, best = max(items, key=lambda item: item[1])  # max and min return the first
        rejected, worst = min(items, key=lambda item: item[1])
        margin = best - worst
        if margin <= 0 or margin < min_margin:
            too_close += 1
            continue
        rows.append({
            "prompt": prompt(dialogue),
            "chosen": chosen,
            "rejected": rejected,
            "margin": margin,
            "chosen_score": best,
            "rejected_score": worst,
            "dialogue_index": index,
        })  # fmt: skip
    return PreferencePairs(rows, len(dialogues), float(min_margin), identical, too_close)


def as_continuation(prompt: str, response: str) -> str:
    """A causal model's response as it follows the prompt: after a space, unless there is one.

    Summaries are stored stripped; a causal model continues "...Summary:" with " The...",
    and its tokenizer tells "The" from " The". trl joins the texts the same way, so both
    trainers see the same tokens.
    """
    if not response or response[0].isspace() or not prompt or prompt[-1].isspace():
        return response
    return " " + response
