"""Reading a PPO run while it trains: a live table of its statistics and what each one means.

* :class:`LiveStats` shows a few statistics per step in a table that updates in place
  (``run_ppo(..., on_step=LiveStats().update)``);
* :data:`STAT_GUIDE` (:func:`stat_guide`) explains each statistic the trainer logs and
  what a healthy value looks like. The names are those of trl's former PPO trainer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

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
