"""Reading a PPO run while it trains (labs_common.ppo_stats): the live table and the guide to
each statistic."""

from __future__ import annotations

import math

from labs_common import ppo_stats


def test_live_stats_collects_rows_and_prints_outside_a_notebook(capsys):
    live = ppo_stats.LiveStats(columns=["env/reward_mean", "objective/kl"])
    live.update(1, {"env/reward_mean": 1.0, "objective/kl": 0.0, "other": 5.0})
    live.update(2, {"env/reward_mean": 1.5})
    frame = live.frame()
    assert list(frame.columns) == ["env/reward_mean", "objective/kl"]
    assert list(frame.index) == [1, 2]
    assert frame.loc[2, "env/reward_mean"] == 1.5 and math.isnan(frame.loc[2, "objective/kl"])
    assert "env/reward_mean" in capsys.readouterr().out


def test_stat_guide_explains_the_lab_statistics():
    guide = ppo_stats.stat_guide()
    for key in ("objective/kl", "objective/kl_coef", "ppo/returns/mean",
                "ppo/policy/advantages_mean", "ppo/policy/ratio", "ppo/policy/clipfrac",
                "ppo/loss/value", "env/reward_mean"):
        assert key in guide.index
    assert list(guide.columns) == ["what it is", "healthy"]
    assert "0" in guide.loc["ppo/policy/advantages_mean", "healthy"]
