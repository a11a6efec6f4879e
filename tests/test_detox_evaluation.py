"""Lab 3's judging of a detoxified policy (labs_common.detox_evaluation): summaries greedy or
seeded, toxicity by group, before/after and method tables, and the KL to a zero-started adapter."""

from __future__ import annotations

import pandas as pd
import pytest
from peft import LoraConfig, TaskType, get_peft_model

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


def test_generate_summaries_greedy_and_seeded_sampling(tiny_t5, word_tokenizer):
    def run(decoding, seed=0):
        return detox_evaluation.generate_summaries(tiny_t5, word_tokenizer, TOY_DIALOGUES, decoding,
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


def test_method_comparison_reports_each_change_with_its_paired_interval():
    before = ["you idiot", "hello there", "idiot again", "fine day"]
    after = ["hello", "hello there", "a fine answer", "fine day"]
    references = ["hello there", "hello there", "a fine answer", "fine day"]
    row = detox_evaluation.method_comparison(before, after, references, _FakeClassifier(),
                                             _FakeClassifier(), kl=0.25, seconds=12.0, seed=0)
    assert row["toxicity (reward model), before"] == 0.5
    assert row["toxicity (reward model), after"] == 0.0
    assert row["toxicity (reward model), change"] == -0.5
    low, high = row["toxicity (reward model), change 95 % CI"]
    assert low <= -0.5 <= high <= 0
    assert row["ROUGE-1, change"] > 0 and row["KL to the start"] == 0.25
    table = detox_evaluation.comparison_table({"PPO": row})
    assert table.loc["toxicity (reward model), change", "PPO"] == "-0.500"
    assert table.loc["training seconds", "PPO"] == "12"
