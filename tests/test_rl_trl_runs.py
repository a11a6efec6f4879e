"""trl's trainers on Lab 3's task (labs_common.rl.trl_runs): GRPO's configuration and reward
function, DPO's dataset, and trl's DPOTrainer on a tiny Llama (and its failure on T5)."""

from __future__ import annotations

import copy

import pytest
from peft import LoraConfig, TaskType

from labs_common.profiles import get_profile
from labs_common.rl import trl_runs

from tiny_policies import (
    CAUSAL_LORA,
    CAUSAL_PAIRS,
    LOG_2,
    PAIRS,
    llama_base,
    word_level_tokenizer,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class _FakeClassifier:
    """A reward model that dislikes "idiot"."""

    def reward(self, texts):
        return [-2.0 if "idiot" in t else 3.0 for t in texts]


def test_trl_preference_dataset_plain_and_conversational():
    tokenizer = word_level_tokenizer(append_eos=False)
    plain = trl_runs.trl_preference_dataset(CAUSAL_PAIRS[:2], tokenizer)
    assert plain["prompt"] == ["red green", "blue"]
    assert plain["chosen"] == [" fish", " fish bird"]
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    chat = trl_runs.trl_preference_dataset(CAUSAL_PAIRS[:1], tokenizer)
    assert chat[0]["prompt"] == [{"role": "user", "content": "red green"}]
    assert chat[0]["rejected"] == [{"role": "assistant", "content": "cat"}]


def test_trl_dpo_trainer_runs_two_steps_on_a_tiny_llama(tmp_path):
    pytest.importorskip("trl")
    args = trl_runs.trl_dpo_config(str(tmp_path), seed=0, bf16=False, use_cpu=True, max_steps=2,
                                   per_device_train_batch_size=2, learning_rate=1e-2,
                                   max_length=64)
    assert args.bf16 is False and args.activation_checkpointing is False
    lora = LoraConfig(**CAUSAL_LORA, task_type=TaskType.CAUSAL_LM)
    run = trl_runs.run_trl_dpo(llama_base(), word_level_tokenizer(append_eos=False), CAUSAL_PAIRS,
                               args, peft_config=lora)
    assert [h["step"] for h in run.history] == [1, 2]
    assert run.history[0]["loss"] == pytest.approx(LOG_2, abs=1e-5)  # policy = reference
    assert run.history[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert {"rewards/accuracies", "logps/chosen", "logps/rejected"} <= set(run.history[0])
    assert type(run.trainer.model).__name__ == "PeftModelForCausalLM"


def test_trl_dpo_trainer_fails_on_an_encoder_decoder(tiny_t5, word_tokenizer, tmp_path):
    """What the lab says about trl: its DPOTrainer cannot train FLAN-T5 (trl >= 0.29)."""
    pytest.importorskip("trl")
    args = trl_runs.trl_dpo_config(str(tmp_path), seed=0, bf16=False, use_cpu=True, max_steps=1,
                                   per_device_train_batch_size=2, max_length=64)
    lora = LoraConfig(r=4, target_modules=["q", "v"], task_type=TaskType.SEQ_2_SEQ_LM)
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        trl_runs.run_trl_dpo(copy.deepcopy(tiny_t5), word_tokenizer, PAIRS[:2], args,
                             peft_config=lora)


def test_nothate_reward_function_wraps_the_classifier():
    reward = trl_runs.nothate_reward_function(_FakeClassifier())
    assert reward.__name__ == "nothate_logit"  # trl logs rewards/<name>/mean
    plain = reward(["you idiot", "fine"], prompts=["p", "q"], completion_ids=[[1], [2]])
    assert plain == [-2.0, 3.0]
    chat = reward([[{"role": "assistant", "content": "you idiot"}]])
    assert chat == [-2.0]


def test_grpo_config_avoids_the_cpu_pitfalls(tmp_path):
    settings = get_profile("tiny").lab3
    config = trl_runs.grpo_config(settings, str(tmp_path), seed=3, bf16=False, use_cpu=True)
    assert (config.bf16, config.fp16, config.use_cpu, config.use_vllm) == (False, False, True,
                                                                            False)
    assert config.beta > 0  # a KL penalty: the disabled LoRA adapter is the reference
    assert config.max_steps == settings.grpo_steps
    assert config.num_generations == settings.grpo_generations
    assert config.per_device_train_batch_size == settings.grpo_batch_size
    assert config.learning_rate == settings.grpo_learning_rate
    assert config.seed == 3 and config.save_strategy == "no"
    assert config.report_to == [] or config.report_to == "none" or config.report_to == ["none"]


def test_the_reward_function_reads_conversational_completions():
    reward = trl_runs.nothate_reward_function(_FakeClassifier())
    completions = [[{"role": "assistant", "content": "you idiot"}],
                   [{"role": "assistant", "content": "hello"}]]
    assert reward(completions) == [-2.0, 3.0]
