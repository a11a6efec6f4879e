"""Lab 3's PPO detoxification run (labs_common.detox): settings, prompt batches, the loop, the
live table and the statistics guide."""

from __future__ import annotations

import copy
import math
from collections import Counter

import pytest
import torch
from peft import LoraConfig, TaskType, get_peft_model

from labs_common import detox
from labs_common.profiles import get_profile
from labs_common.prompts import instruction_prompt
from labs_common.rl.ppo_config import PPOConfig, StepResult

DIALOGUES = [f"#Person1#: hello how are you {i}" for i in range(10)]


TOY_DIALOGUES = ["hello how are you", "buy a ticket to paris", "i love this day", "fine thanks"]


def _policy(tiny_t5):
    """The tiny T5 with a LoRA adapter whose B matrices are non-zero (a 'trained' start)."""
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q", "v"],
                        task_type=TaskType.SEQ_2_SEQ_LM)
    torch.manual_seed(0)  # peft draws the A matrices from torch's global generator
    model = get_peft_model(copy.deepcopy(tiny_t5), config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.3, generator=torch.Generator().manual_seed(1))
    return model


def _word_reward(texts):
    """Toy reward: the share of the word "paris" in each text."""
    return [t.split().count("paris") / max(len(t.split()), 1) for t in texts]


def _config(**overrides):
    settings = {"batch_size": 4, "mini_batch_size": 2, "max_new_tokens": 5,
                "min_new_tokens": 1, "seed": 0}
    settings.update(overrides)
    return PPOConfig(**settings)


def test_ppo_config_takes_the_profile_settings_and_overrides():
    settings = get_profile("tiny").lab3
    config = detox.ppo_config(settings, seed=7)
    assert config.learning_rate == settings.ppo_learning_rate
    assert config.batch_size == settings.ppo_batch_size
    assert config.mini_batch_size == settings.ppo_mini_batch_size
    assert config.ppo_epochs == settings.ppo_epochs
    assert config.init_kl_coef == settings.init_kl_coef
    assert config.max_new_tokens == settings.max_new_tokens
    assert (config.do_sample, config.top_k, config.top_p, config.seed) == (True, 0, 1.0, 7)
    assert detox.ppo_config(settings, seed=7, learning_rate=0.5).learning_rate == 0.5


def test_prompt_batches_cover_every_dialogue_once_per_pass():
    batches = detox.prompt_batches(DIALOGUES, batch_size=4, steps=5, seed=0)
    assert [len(b) for b in batches] == [4] * 5
    assert all(p.startswith("Summarize the following conversation.") for b in batches for p in b)
    first_pass = [p for b in batches for p in b][:10]
    assert len(set(first_pass)) == 10  # every dialogue before any repeats
    counts = Counter(p for b in batches for p in b)
    assert set(counts.values()) == {2}  # 20 prompts = exactly two passes over 10 dialogues
    assert batches == detox.prompt_batches(DIALOGUES, batch_size=4, steps=5, seed=0)
    assert batches != detox.prompt_batches(DIALOGUES, batch_size=4, steps=5, seed=1)
    assert [p for b in batches for p in b] != [instruction_prompt(d) for d in DIALOGUES] * 2


def test_prompt_batches_reject_nonsense():
    with pytest.raises(ValueError, match="No dialogues"):
        detox.prompt_batches([], batch_size=4, steps=1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        detox.prompt_batches(DIALOGUES, batch_size=0, steps=1, seed=0)


def test_run_ppo_logs_every_step_and_calls_back(tiny_t5, word_tokenizer):
    seen = []
    run = detox.run_ppo(
        _policy(tiny_t5), word_tokenizer, _word_reward, TOY_DIALOGUES, _config(), steps=3,
        progress=False, on_step=lambda step, stats: seen.append((step, stats["objective/kl"])),
    )
    assert len(run.history) == 3 and [s for s, _ in seen] == [1, 2, 3]
    assert run.history[0]["objective/kl"] == pytest.approx(0.0, abs=1e-6)  # policy = reference
    assert run.trainer.steps_done == 3
    assert run.last_step is not None and len(run.last_step.responses) == 4
    table = run.table(["env/reward_mean", "objective/kl"])
    assert list(table.index) == [1, 2, 3] and table.shape == (3, 2)
    assert run.seconds > 0
    assert all(math.isfinite(v) for h in run.history for v in h.values())


def test_run_ppo_is_deterministic_under_its_seed(tiny_t5, word_tokenizer):
    def history(seed):
        run = detox.run_ppo(_policy(tiny_t5), word_tokenizer, _word_reward, TOY_DIALOGUES,
                            _config(seed=seed, learning_rate=1e-2), steps=2, progress=False)
        return [{k: v for k, v in h.items() if not k.startswith("time/")} for h in run.history]

    assert history(0) == history(0)
    assert history(0) != history(1)


def test_run_ppo_trains_the_model_it_is_given_and_leaves_a_copy_alone(tiny_t5, word_tokenizer):
    start = _policy(tiny_t5)
    untouched = copy.deepcopy(start)
    detox.run_ppo(start, word_tokenizer, _word_reward, TOY_DIALOGUES,
                  _config(learning_rate=1e-2), steps=2, progress=False)
    assert "reference" in start.peft_config  # the trainer added its frozen reference
    assert "reference" not in untouched.peft_config
    moved = [
        not torch.equal(p, dict(untouched.named_parameters())[n])
        for n, p in start.named_parameters() if "lora_" in n and ".default." in n
    ]
    assert any(moved)


def test_run_ppo_builds_its_prompts_with_the_prompt_it_is_given(tiny_t5, word_tokenizer):
    seen = []

    class Recorder:
        def step(self, prompts):
            seen.append(list(prompts))
            return StepResult(stats={"env/reward_mean": 0.0, "objective/kl": 0.0},
                              queries=list(prompts), responses=["r"] * len(prompts),
                              rewards=[0.0] * len(prompts))

    config = _config()
    detox.run_ppo(None, word_tokenizer, _word_reward, TOY_DIALOGUES, config, steps=2,
                  progress=False, trainer=Recorder(), prompt=lambda d: f"<<{d}>>")
    expected = detox.prompt_batches(TOY_DIALOGUES, config.batch_size, 2, config.seed,
                                    prompt=lambda d: f"<<{d}>>")
    assert seen == expected and seen[0][0].startswith("<<")


def test_targeted_dialogues_keep_the_most_toxic_share_in_order():
    dialogues = ["a", "b", "c", "d", "e"]
    toxicity = [0.1, 0.9, 0.3, 0.8, 0.9]
    assert detox.targeted_dialogues(dialogues, toxicity, 0.4) == ["b", "e"]
    assert detox.targeted_dialogues(dialogues, toxicity, 0.6) == ["b", "d", "e"]
    assert detox.targeted_dialogues(dialogues, toxicity, 1.0) == dialogues
    # at least one is kept, and ties go by position
    assert detox.targeted_dialogues(dialogues, toxicity, 0.01) == ["b"]


@pytest.mark.parametrize("share", [0, -0.5, 1.5])
def test_targeted_dialogues_refuse_a_share_outside_zero_to_one(share):
    with pytest.raises(ValueError, match="share"):
        detox.targeted_dialogues(["a"], [0.5], share)


def test_targeted_dialogues_need_one_score_per_dialogue():
    with pytest.raises(ValueError, match="2 dialogues but 1"):
        detox.targeted_dialogues(["a", "b"], [0.5], 0.5)
    with pytest.raises(ValueError, match="No dialogues"):
        detox.targeted_dialogues([], [], 0.5)
