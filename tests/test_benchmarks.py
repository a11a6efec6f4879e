"""The benchmarks' helpers and their seed-style baselines (no timing is asserted here)."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

common = importlib.import_module("benchmarks.common")
seed_style = importlib.import_module("benchmarks.seed_style")
run_all = importlib.import_module("benchmarks.run_all")

# Smaller still than the tiny scale, so that every test here runs in about a second.
MICRO = dataclasses.replace(
    common.SCALES["tiny"],
    name="tiny",
    t5={"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1,
        "num_heads": 4, "feed_forward_proj": "gated-gelu"},
    t5_vocab=200,
    roberta={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4,
             "intermediate_size": 64, "max_position_embeddings": 130},
    roberta_vocab=120,
    dialogue_tokens=(20, 6, 5, 40),
    summary_tokens=(8, 2, 3, 12),
)


class FakeClock:
    """Each call returns the next of the given readings."""

    def __init__(self, readings):
        self.readings = iter(readings)

    def __call__(self):
        return next(self.readings)


# ---------------------------------------------------------------- timing and tables


def test_time_repeats_skips_warmup_and_takes_the_median():
    calls = []
    clock = FakeClock([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])  # repeats take 1, 3 and 2 s
    timing = common.time_repeats(lambda: calls.append(1), repeats=3, warmup=2, clock=clock)
    assert len(calls) == 5
    assert timing.seconds == [1.0, 3.0, 2.0]
    assert timing.median == 2.0


def test_time_repeats_needs_a_repeat():
    with pytest.raises(ValueError):
        common.time_repeats(lambda: None, repeats=0)


def test_phase_timer_accumulates_and_wraps():
    timer = common.PhaseTimer(clock=FakeClock([0.0, 2.0, 5.0, 6.0, 10.0, 10.5]))
    with timer.phase("generate"):
        pass
    double = timer.wrap("generate", lambda x: 2 * x)
    assert double(21) == 42
    with timer.phase("optimize"):
        pass
    assert timer.seconds == {"generate": 3.0, "optimize": 0.5}
    assert timer.peak_bytes == {}  # memory is only tracked on a GPU


def test_result_ratios_read_the_right_way_round():
    speed = common.Result("g", "examples/s", "throughput", baseline=2.0, ours=10.0)
    seconds = common.Result("p", "seconds/step", "seconds", baseline=30.0, ours=6.0)
    memory = common.Result("p", "peak", "memory", baseline=4 * 2**30, ours=2**30)
    assert speed.ratio == pytest.approx(5.0)
    assert seconds.ratio == pytest.approx(5.0)
    assert memory.ratio == pytest.approx(0.25)
    assert speed.verdict() == "5.0× faster"
    assert memory.verdict() == "0.25× the memory"
    assert common.Result("x", "m", "memory", None, 1.0).verdict() == "n/a"
    slower = common.Result("f", "samples/s", "throughput", baseline=45.0, ours=15.0)
    assert slower.verdict() == "0.33× the speed (slower)"
    table = common.format_table([speed, memory])
    assert "| g | examples/s | 2 | 10 | 5.0× faster |" in table
    assert "4.00 GiB" in table and "1.00 GiB" in table


def test_evaluation_row_adds_the_two_parts_per_example():
    details = {
        "generation": {"seconds_per_example": {"seed-style": 0.5, "ours": 0.04}},
        "toxicity": {"seconds_per_example": {"seed-style": 0.5, "ours": 0.01}},
    }
    row = run_all.evaluation_row(details)
    assert row.baseline == pytest.approx(1.0)
    assert row.ours == pytest.approx(20.0)
    assert run_all.evaluation_row({"generation": details["generation"]}) is None


def test_peak_memory_on_cpu_sees_a_large_allocation():
    with common.PeakMemory("cpu") as memory:
        block = torch.ones(16 * 2**20)  # 64 MiB, written, so resident
    assert block.numel() == 16 * 2**20
    if memory.extra_bytes is not None:  # None where /proc is missing
        assert memory.extra_bytes >= 48 * 2**20


# ---------------------------------------------------------------- synthetic data and models


def test_word_tokenizers_give_one_token_per_word():
    t5 = common.word_tokenizer(200, "t5")
    roberta = common.word_tokenizer(120, "roberta")
    assert len(t5) == 200 and len(roberta) == 120
    assert (t5.pad_token_id, t5.eos_token_id) == (0, 1)
    assert (roberta.bos_token_id, roberta.pad_token_id, roberta.eos_token_id) == (0, 1, 2)
    text = "w1 w7 w42 w3"
    assert t5(text)["input_ids"][-1] == 1 and len(t5(text)["input_ids"]) == 5
    assert len(roberta(text)["input_ids"]) == 6
    assert t5.decode(t5(text)["input_ids"], skip_special_tokens=True) == text


def test_synthetic_dialogues_have_the_scale_lengths():
    tokenizer = common.t5_tokenizer(MICRO)
    rows = common.synthetic_dialogues(MICRO, 200, seed=0)
    lengths = [len(tokenizer(row["dialogue"])["input_ids"]) for row in rows]
    mean, _, low, high = MICRO.dialogue_tokens
    assert low <= min(lengths) and max(lengths) <= high
    assert abs(sum(lengths) / len(lengths) - mean) < 2
    assert rows == common.synthetic_dialogues(MICRO, 200, seed=0)  # seeded


# ---------------------------------------------------------------- the seed-style baselines


@pytest.fixture(scope="module")
def micro_t5():
    return common.build_t5(MICRO, "cpu", torch.float32, seed=0)


def _prompts(count: int = 5) -> list[str]:
    from labs_common.prompts import instruction_prompt

    return [instruction_prompt(row["dialogue"])
            for row in common.synthetic_dialogues(MICRO, count, seed=1)]


def test_one_at_a_time_generation_equals_batched_greedy(micro_t5):
    from labs_common.generation import generate_batched

    tokenizer = common.t5_tokenizer(MICRO)
    prompts = _prompts()
    lengths = {"max_new_tokens": 6, "min_new_tokens": 6}
    ours = generate_batched(micro_t5, tokenizer, prompts, batch_size=5, **lengths)
    seed = seed_style.generate_one_at_a_time(micro_t5, tokenizer, prompts, **lengths)
    assert ours == seed
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    generated = micro_t5.generate(**encoded, **lengths)
    assert generated.shape == (5, 1 + 6)  # forced lengths: decoder start + 6 tokens, every row


def test_one_at_a_time_toxicity_equals_batched(tmp_path):
    from labs_common.toxicity import ToxicityClassifier

    common.save_classifier(MICRO, tmp_path)
    classifier = ToxicityClassifier(str(tmp_path), device="cpu", batch_size=4)
    assert classifier.labels == {0: "nothate", 1: "hate"}
    texts = [row["dialogue"] for row in common.synthetic_dialogues(MICRO, 6, seed=2)]
    seed = seed_style.toxicity_one_at_a_time(classifier.model, classifier.tokenizer, texts,
                                             classifier.toxic_index, classifier.max_length)
    assert seed == pytest.approx(classifier.toxicity(texts), abs=1e-5)


def test_seed_tokenization_pads_everything_to_512_with_the_pad_id():
    from labs_common.training import summary_pairs

    tokenizer = common.t5_tokenizer(MICRO)
    pairs = summary_pairs(common.synthetic_dialogues(MICRO, 3, seed=3))
    padded = seed_style.pad_to_max_length(pairs, tokenizer)
    assert padded.column_names == ["input_ids", "labels"]  # no attention mask, as in the seeds
    for row in padded:
        assert len(row["input_ids"]) == len(row["labels"]) == 512
        assert row["labels"][-1] == tokenizer.pad_token_id  # padding is a training target
        assert -100 not in row["labels"]


def _micro_policy():
    from labs_common.lora import make_lora_model

    return make_lora_model(common.build_t5(MICRO, "cpu", torch.float32, seed=0), r=4, alpha=8,
                           in_place=True)


def test_seed_style_ppo_step_keeps_its_deep_copied_reference():
    torch.manual_seed(0)
    tokenizer = common.t5_tokenizer(MICRO)
    trainer = seed_style.SeedStylePPO(_micro_policy(), tokenizer, lambda texts: [1.0] * len(texts),
                                      mini_batch_size=2, learning_rate=1e-2)
    reference = {n: p.detach().clone() for n, p in trainer.ref_model.named_parameters()}
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()
              if p.requires_grad}
    assert not any(p.requires_grad for p in trainer.ref_model.parameters())
    sampling = {"do_sample": True, "top_k": 0, "top_p": 1.0, "min_new_tokens": 5,
                "max_new_tokens": 5}
    stats = trainer.step_from_prompts(_prompts(4), **sampling)
    assert stats["objective/kl"] == 0.0  # the copy equals the policy that sampled
    for name, parameter in trainer.ref_model.named_parameters():
        assert torch.equal(parameter, reference[name]), name
    changed = [n for n, p in trainer.model.named_parameters()
               if p.requires_grad and not torch.equal(p, before[n])]
    assert any("lora_" in n for n in changed) and any("v_head" in n for n in changed)


def test_lengths_rounded_up_only_add_masked_padding():
    from benchmarks.bench_ppo import cheap_reward
    from labs_common.rl.ppo import PPOTrainer
    from labs_common.rl.ppo_config import PPOConfig

    tokenizer = common.t5_tokenizer(MICRO)
    stats = []
    for multiple in (None, 64):
        trainer = PPOTrainer(PPOConfig(batch_size=4, mini_batch_size=2, max_new_tokens=5,
                                       min_new_tokens=2, learning_rate=1e-2,
                                       pad_to_multiple_of=multiple),
                             model=_micro_policy(), tokenizer=tokenizer, reward_fn=cheap_reward)
        assert trainer.pad_multiple == multiple
        stats.append(trainer.step(_prompts(4)).stats)
    for key in ("objective/kl", "ppo/loss/total", "ppo/returns/mean", "ppo/policy/ratio"):
        assert stats[1][key] == pytest.approx(stats[0][key], abs=1e-5), key


def test_fit_t4_says_it_needs_a_gpu(monkeypatch):
    fit_t4 = importlib.import_module("benchmarks.fit_t4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="GPU"):
        fit_t4.main(["--steps", "1"])
