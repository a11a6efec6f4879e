"""Lab 3's judging of a detoxified policy (labs_common.detox_evaluation): summaries greedy or
seeded, toxicity by group, before/after and method tables, and the KL to a zero-started adapter."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model

from labs_common import detox_evaluation, toxicity
from labs_common.rl.dpo import DPOConfig, DPOTrainer

from tiny_policies import CAUSAL_LORA, CAUSAL_PAIRS, llama_base, word_level_tokenizer

TOY_DIALOGUES = ["hello how are you", "buy a ticket to paris", "i love this day", "fine thanks"]


def test_kl_to_start_is_zero_for_a_fresh_adapter_and_positive_after_training():
    tokenizer = word_level_tokenizer(append_eos=False)
    lora = LoraConfig(**CAUSAL_LORA, task_type=TaskType.CAUSAL_LM)
    prompts = [row["prompt"] for row in CAUSAL_PAIRS]
    fresh = get_peft_model(llama_base(), lora).eval()
    kl_to_start = detox_evaluation.kl_to_start
    assert kl_to_start(fresh, tokenizer, prompts, seed=0, max_new_tokens=3) == (
        pytest.approx(0.0, abs=1e-6))
    trainer = DPOTrainer(DPOConfig(beta=0.5, learning_rate=3e-2, batch_size=2, epochs=3),
                         model=llama_base(), tokenizer=tokenizer, lora_config=lora)
    trainer.train(CAUSAL_PAIRS)
    assert kl_to_start(trainer.model, tokenizer, prompts, seed=0, max_new_tokens=3) > 0.05


def test_kl_between_two_separate_policies_is_zero_for_equals_and_positive_after_training(
        tmp_path):
    tokenizer = word_level_tokenizer(append_eos=False)
    lora = LoraConfig(**CAUSAL_LORA, task_type=TaskType.CAUSAL_LM)
    prompts = [row["prompt"] for row in CAUSAL_PAIRS]
    start = get_peft_model(llama_base(), lora).eval()
    kl_between = detox_evaluation.kl_between
    same = copy.deepcopy(start)
    assert kl_between(same, start, tokenizer, prompts, seed=0, max_new_tokens=3) == (
        pytest.approx(0.0, abs=1e-6))
    trainer = DPOTrainer(DPOConfig(beta=0.5, learning_rate=3e-2, batch_size=2, epochs=3),
                         model=copy.deepcopy(start), tokenizer=tokenizer)
    trainer.train(CAUSAL_PAIRS)
    trainer.model.save_pretrained(str(tmp_path), selected_adapters=[trainer.policy_adapter])
    moved = PeftModel.from_pretrained(llama_base(), str(tmp_path)).eval()  # as Lab 4 loads it
    before = {n: p.clone() for n, p in start.named_parameters()}
    assert kl_between(moved, start, tokenizer, prompts, seed=0, max_new_tokens=3) > 0.05
    assert all(torch.equal(p, before[n]) for n, p in start.named_parameters())  # untouched
    assert not any(".reference." in n for n, _ in start.named_parameters())


def test_generate_summaries_greedy_and_seeded_sampling(tiny_t5, word_tokenizer):
    def run(decoding, seed=0):
        return detox_evaluation.generate_summaries(tiny_t5, word_tokenizer, TOY_DIALOGUES, decoding,
                                        seed=seed, max_new_tokens=6, progress=False)

    assert run("greedy") == run("greedy", seed=5)  # greedy ignores the seed
    assert run("sampled") == run("sampled")
    assert any(run("sampled", seed=s) != run("sampled") for s in range(1, 4))
    with pytest.raises(ValueError, match="decoding"):
        run("beam")
    greedy, sampled = run("greedy"), run("sampled")
    saved = tiny_t5.generation_config
    tiny_t5.generation_config = copy.deepcopy(saved)
    tiny_t5.generation_config.temperature = 5.0  # a Hub config's settings must not apply
    tiny_t5.generation_config.repetition_penalty = 3.0
    try:
        assert run("greedy") == greedy and run("sampled") == sampled
    finally:
        tiny_t5.generation_config = saved


class _FakeClassifier:
    name = "fake-classifier"

    def toxicity(self, texts, progress=False):
        return [1.0 if "idiot" in t else 0.0 for t in texts]

    def reward(self, texts):
        return [-2.0 if "idiot" in t else 3.0 for t in texts]


def test_score_toxicity_groups_keeps_names_and_order():
    groups = {"before": ["you idiot", "hello", "idiot"], "after": ["hello"], "empty": []}
    scores = detox_evaluation.score_toxicity_groups(groups, _FakeClassifier())
    assert scores == {"before": [1.0, 0.0, 1.0], "after": [0.0], "empty": []}


def test_toxicity_never_runs_a_script_downloaded_from_the_hub():
    import inspect

    for module in (detox_evaluation, toxicity):
        assert "evaluate.load" not in inspect.getsource(module)


def test_before_after_table_sorts_by_reward_gain():
    table = detox_evaluation.before_after_table(
        ["d1", "d2", "d3"], ["a", "b", "c"], ["A", "B", "C"], [1.0, -2.0, 0.5], [1.5, 2.0, 0.0]
    )
    assert list(table["dialogue"]) == ["d2", "d1", "d3"]
    assert list(table["reward_diff"]) == pytest.approx([4.0, 0.5, -0.5])
    assert isinstance(table, pd.DataFrame) and "reference" not in table.columns
    with_references = detox_evaluation.before_after_table(
        ["d1", "d2"], ["a", "b"], ["A", "B"], [0.0, 0.0], [1.0, 2.0], references=["r1", "r2"]
    )
    assert list(with_references["reference"]) == ["r2", "r1"]  # sorted with its row
    with pytest.raises(ValueError, match="one summary"):
        detox_evaluation.before_after_table(["d1"], ["a", "b"], ["A"], [1.0], [1.0])


def test_percent_change_and_word_counts():
    assert detox_evaluation.percent_change(0.5, 0.25) == pytest.approx(-50.0)
    assert detox_evaluation.percent_change(0.2, 0.3) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        detox_evaluation.percent_change(0.0, 1.0)
    assert detox_evaluation.word_counts(["a b c", "", "one"]) == [3, 0, 1]


def test_runs_summary_gives_each_run_and_the_mean_over_runs():
    before = {"toxicity": [0.8, 0.4, 0.0, 0.4], "judge": [0.8, 0.8, 0.0, 0.4],
              "rouge1": [0.5, 0.5, 0.5, 0.5]}
    runs = {
        0: {"toxicity": [0.0, 0.0, 0.0, 0.0], "judge": [0.8, 0.0, 0.0, 0.4],
            "rouge1": [0.5, 0.4, 0.5, 0.5]},
        1: {"toxicity": [0.4, 0.4, 0.0, 0.4], "judge": [0.4, 0.8, 0.0, 0.4],
            "rouge1": [0.6, 0.5, 0.5, 0.5]},
    }
    summary = detox_evaluation.runs_summary(before, runs, seed=3)
    first, second = summary["runs"][0], summary["runs"][1]
    assert first["cut"] == pytest.approx(1.0) and second["cut"] == pytest.approx(0.25)
    assert first["reward_model_drop"] == pytest.approx(0.4)
    assert first["judge_drop"] == pytest.approx(0.2)
    assert first["hack_gap"] == pytest.approx(0.2)  # the reward model saw more than the judge
    assert second["hack_gap"] == pytest.approx(0.0)
    assert first["rouge1_change"] == pytest.approx(-0.025)
    assert second["rouge1_change"] == pytest.approx(0.025)
    assert summary["mean"]["cut"] == pytest.approx(0.625)
    assert summary["mean"]["rouge1_change"] == pytest.approx(0.0)
    assert summary["count"] == 2
    low, high = summary["ci"]["toxicity"]
    assert low <= -0.25 <= high  # the mean-over-runs change of toxicity is -0.25
    assert set(summary["ci"]) == {"toxicity", "judge", "rouge1", "hack_gap"}


def test_runs_summary_refuses_runs_scored_on_other_dialogues():
    before = {"toxicity": [0.5, 0.5], "judge": [0.5, 0.5]}
    with pytest.raises(ValueError, match="Run 7: 3 toxicity scores, 2 before"):
        detox_evaluation.runs_summary(before, {7: {"toxicity": [0, 0, 0], "judge": [0, 0]}})
    with pytest.raises(ValueError, match="No runs"):
        detox_evaluation.runs_summary(before, {})
    with pytest.raises(ValueError, match="judge"):
        detox_evaluation.runs_summary({"toxicity": [0.5, 0.5]}, {0: {"toxicity": [0, 0]}})


def test_middle_share_counts_the_texts_neither_clean_nor_hateful():
    assert detox_evaluation.middle_share([0.05, 0.1, 0.5, 0.9, 0.95]) == pytest.approx(0.6)
    assert detox_evaluation.middle_share([0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="No toxicity"):
        detox_evaluation.middle_share([])
