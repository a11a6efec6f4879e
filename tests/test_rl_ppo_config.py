"""Lab 3's PPO settings and step result (labs_common.rl.ppo_config): the defaults the course
set, the settings as a checkpoint writes them, and a step's episodes paired row by row."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import pytest

from labs_common.rl.ppo_config import PPOConfig, StepResult


def test_defaults_are_the_course_s_where_it_set_one():
    config = PPOConfig()
    course = {"learning_rate": 1.41e-5, "ppo_epochs": 1, "init_kl_coef": 0.2,
              "adaptive_kl": True, "target_kl": 6.0, "horizon": 10_000, "gamma": 1.0,
              "lam": 0.95, "cliprange": 0.2, "cliprange_value": 0.2, "vf_coef": 0.1,
              "do_sample": True, "top_k": 0, "top_p": 1.0}  # pure sampling: no filtering
    assert {name: getattr(config, name) for name in course} == course
    # A step's prompts split into whole mini-batches, and each forward pass takes one.
    assert config.batch_size % config.mini_batch_size == 0
    assert config.forward_batch_size is None and config.max_new_tokens_range is None
    assert config.pad_to_multiple_of == "auto" and config.seed == 0


def test_every_setting_is_written_as_json_and_reads_back():
    """A checkpoint writes asdict(config) as ppo_config.json, for a reader."""
    config = PPOConfig(max_new_tokens_range=(100, 400), pad_to_multiple_of=None, seed=7)
    written = json.loads(json.dumps(asdict(config)))
    assert written.keys() == {f.name for f in fields(PPOConfig)}
    assert written["max_new_tokens_range"] == [100, 400] and written["pad_to_multiple_of"] is None
    written["max_new_tokens_range"] = tuple(written["max_new_tokens_range"])  # JSON has lists
    assert PPOConfig(**written) == config


def test_step_result_samples_pair_each_query_with_its_response_and_reward():
    result = StepResult({"objective/kl": 0.5}, ["q1", "q2"], ["r1", "r2"], [1.0, -2.0])
    assert result.samples == [{"query": "q1", "response": "r1", "reward": 1.0},
                              {"query": "q2", "response": "r2", "reward": -2.0}]
    assert "samples" not in repr(result)  # the episodes are already in the other fields
    with pytest.raises(ValueError):  # a reward lost or a response too many: no silent cut
        StepResult({}, ["q1", "q2"], ["r1", "r2"], [1.0])
