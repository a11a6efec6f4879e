"""Tests for Lab 3's detoxification helpers: batching, the PPO loop, tables, GRPO setup."""

from __future__ import annotations

import copy
import math
from collections import Counter

import pandas as pd
import pytest
import torch
from peft import LoraConfig, TaskType, get_peft_model

from labs_common import detox
from labs_common.profiles import get_profile

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
    return detox.PPOConfig(**settings)


# ---------------------------------------------------------------- settings and batches


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
    assert [p for b in batches for p in b] != [detox.instruction_prompt(d) for d in DIALOGUES] * 2


def test_prompt_batches_reject_nonsense():
    with pytest.raises(ValueError, match="No dialogues"):
        detox.prompt_batches([], batch_size=4, steps=1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        detox.prompt_batches(DIALOGUES, batch_size=0, steps=1, seed=0)


# ---------------------------------------------------------------- the PPO loop


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


def test_generate_summaries_greedy_and_seeded_sampling(tiny_t5, word_tokenizer):
    def run(decoding, seed=0):
        return detox.generate_summaries(tiny_t5, word_tokenizer, TOY_DIALOGUES, decoding,
                                        seed=seed, max_new_tokens=6, progress=False)

    assert run("greedy") == run("greedy", seed=5)  # greedy ignores the seed
    assert run("sampled") == run("sampled")
    assert any(run("sampled", seed=s) != run("sampled") for s in range(1, 4))
    with pytest.raises(ValueError, match="decoding"):
        run("beam")


class _FakeClassifier:
    name = "fake-classifier"

    def toxicity(self, texts, progress=False):
        return [1.0 if "idiot" in t else 0.0 for t in texts]

    def reward(self, texts):
        return [-2.0 if "idiot" in t else 3.0 for t in texts]


def test_score_toxicity_groups_keeps_names_and_order():
    groups = {"before": ["you idiot", "hello", "idiot"], "after": ["hello"], "empty": []}
    scores = detox.score_toxicity_groups(groups, _FakeClassifier())
    assert scores == {"before": [1.0, 0.0, 1.0], "after": [0.0], "empty": []}


def test_toxicity_never_runs_a_script_downloaded_from_the_hub():
    import inspect

    from labs_common import toxicity

    for module in (detox, toxicity):
        assert "evaluate.load" not in inspect.getsource(module)


# ---------------------------------------------------------------- tables


def test_live_stats_collects_rows_and_prints_outside_a_notebook(capsys):
    live = detox.LiveStats(columns=["env/reward_mean", "objective/kl"])
    live.update(1, {"env/reward_mean": 1.0, "objective/kl": 0.0, "other": 5.0})
    live.update(2, {"env/reward_mean": 1.5})
    frame = live.frame()
    assert list(frame.columns) == ["env/reward_mean", "objective/kl"]
    assert list(frame.index) == [1, 2]
    assert frame.loc[2, "env/reward_mean"] == 1.5 and math.isnan(frame.loc[2, "objective/kl"])
    assert "env/reward_mean" in capsys.readouterr().out


def test_stat_guide_explains_the_lab_statistics():
    guide = detox.stat_guide()
    for key in ("objective/kl", "objective/kl_coef", "ppo/returns/mean",
                "ppo/policy/advantages_mean", "ppo/policy/ratio", "ppo/policy/clipfrac",
                "ppo/loss/value", "env/reward_mean"):
        assert key in guide.index
    assert list(guide.columns) == ["what it is", "healthy"]
    assert "0" in guide.loc["ppo/policy/advantages_mean", "healthy"]


def test_before_after_table_sorts_by_reward_gain():
    table = detox.before_after_table(
        ["d1", "d2", "d3"], ["a", "b", "c"], ["A", "B", "C"], [1.0, -2.0, 0.5], [1.5, 2.0, 0.0]
    )
    assert list(table["dialogue"]) == ["d2", "d1", "d3"]
    assert list(table["reward_diff"]) == pytest.approx([4.0, 0.5, -0.5])
    assert isinstance(table, pd.DataFrame) and "reference" not in table.columns
    with_references = detox.before_after_table(
        ["d1", "d2"], ["a", "b"], ["A", "B"], [0.0, 0.0], [1.0, 2.0], references=["r1", "r2"]
    )
    assert list(with_references["reference"]) == ["r2", "r1"]  # sorted with its row
    with pytest.raises(ValueError, match="one summary"):
        detox.before_after_table(["d1"], ["a", "b"], ["A"], [1.0], [1.0])


def test_percent_change_and_word_counts():
    assert detox.percent_change(0.5, 0.25) == pytest.approx(-50.0)
    assert detox.percent_change(0.2, 0.3) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        detox.percent_change(0.0, 1.0)
    assert detox.word_counts(["a b c", "", "one"]) == [3, 0, 1]


# ---------------------------------------------------------------- GRPO setup


def test_nothate_reward_function_wraps_the_classifier():
    reward = detox.nothate_reward_function(_FakeClassifier())
    assert reward.__name__ == "nothate_logit"  # trl logs rewards/<name>/mean
    plain = reward(["you idiot", "fine"], prompts=["p", "q"], completion_ids=[[1], [2]])
    assert plain == [-2.0, 3.0]
    chat = reward([[{"role": "assistant", "content": "you idiot"}]])
    assert chat == [-2.0]


def test_grpo_config_avoids_the_cpu_pitfalls(tmp_path):
    settings = get_profile("tiny").lab3
    config = detox.grpo_config(settings, str(tmp_path), seed=3, bf16=False, use_cpu=True)
    assert (config.bf16, config.fp16, config.use_cpu, config.use_vllm) == (False, False, True,
                                                                            False)
    assert config.beta > 0  # a KL penalty: the disabled LoRA adapter is the reference
    assert config.max_steps == settings.grpo_steps
    assert config.num_generations == settings.grpo_generations
    assert config.per_device_train_batch_size == settings.grpo_batch_size
    assert config.learning_rate == settings.grpo_learning_rate
    assert config.seed == 3 and config.save_strategy == "no"
    assert config.report_to == [] or config.report_to == "none" or config.report_to == ["none"]


# ---------------------------------------------------------------- GRPO prompts

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_grpo_gives_an_instruct_model_conversations_and_a_plain_model_text(word_tokenizer):
    import copy

    plain = copy.deepcopy(word_tokenizer)
    plain.chat_template = None
    assert detox.grpo_prompts(plain, ["D"]) == [detox.instruction_prompt("D")]
    assert detox.causal_prompt_texts(plain, ["D"]) == [detox.instruction_prompt("D")]
    chat = copy.deepcopy(word_tokenizer)
    chat.chat_template = CHATML
    assert detox.grpo_prompts(chat, ["D"]) == [
        [{"role": "user", "content": detox.instruction_prompt("D")}]]
    text = detox.causal_prompt_texts(chat, ["D"])[0]
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")
    assert detox.causal_prompt(chat)("D") == text  # one dialogue at a time, for PPO and DPO


def test_run_ppo_builds_its_prompts_with_the_prompt_it_is_given(tiny_t5, word_tokenizer):
    seen = []

    class Recorder:
        def step(self, prompts):
            seen.append(list(prompts))
            return detox.StepResult(stats={"env/reward_mean": 0.0, "objective/kl": 0.0},
                                    queries=list(prompts), responses=["r"] * len(prompts),
                                    rewards=[0.0] * len(prompts))

    config = _config()
    detox.run_ppo(None, word_tokenizer, _word_reward, TOY_DIALOGUES, config, steps=2,
                  progress=False, trainer=Recorder(), prompt=lambda d: f"<<{d}>>")
    expected = detox.prompt_batches(TOY_DIALOGUES, config.batch_size, 2, config.seed,
                                    prompt=lambda d: f"<<{d}>>")
    assert seen == expected and seen[0][0].startswith("<<")


def test_the_reward_function_reads_conversational_completions():
    reward = detox.nothate_reward_function(_FakeClassifier())
    completions = [[{"role": "assistant", "content": "you idiot"}],
                   [{"role": "assistant", "content": "hello"}]]
    assert reward(completions) == [-2.0, 3.0]


def test_method_comparison_reports_each_change_with_its_paired_interval():
    before = ["you idiot", "hello there", "idiot again", "fine day"]
    after = ["hello", "hello there", "a fine answer", "fine day"]
    references = ["hello there", "hello there", "a fine answer", "fine day"]
    row = detox.method_comparison(before, after, references, _FakeClassifier(), _FakeClassifier(),
                                  kl=0.25, seconds=12.0, seed=0)
    assert row["toxicity (reward model), before"] == 0.5
    assert row["toxicity (reward model), after"] == 0.0
    assert row["toxicity (reward model), change"] == -0.5
    low, high = row["toxicity (reward model), change 95 % CI"]
    assert low <= -0.5 <= high <= 0
    assert row["ROUGE-1, change"] > 0 and row["KL to the start"] == 0.25
    table = detox.comparison_table({"PPO": row})
    assert table.loc["toxicity (reward model), change", "PPO"] == "-0.500"
    assert table.loc["training seconds", "PPO"] == "12"
