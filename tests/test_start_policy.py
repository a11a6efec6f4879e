"""The policies the RL labs start from (labs_common.start_policy): Lab 2's adapter loaded or
trained with Lab 2's budget and saved where Lab 2 saves it; Lab 3's PPO policy saved without
its frozen reference and loaded by Lab 4."""

from __future__ import annotations

import torch

from labs_common import data, start_policy
from labs_common.hub import activate
from labs_common.models import load_seq2seq

from tiny_policies import PROMPTS, ppo_trainer, t5_base


def test_lab2_policy_is_trained_once_with_lab2s_budget_then_loaded(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    profile = activate("tiny").with_settings(lab2={"lora_steps": 2, "train_examples": 16})
    dialogues = data.load_dialogues(profile)
    said = []
    base, tokenizer = load_seq2seq(profile.summarizer, torch.device("cpu"))
    policy, source = start_policy.lab2_policy(profile, base, tokenizer, dialogues, seed=1,
                                              bf16=False, log=said.append)
    assert source == "Lab 2's adapter, trained here (2 steps)"
    assert "is not in adapters/tiny/lab2-lora" in said[0] and "2 steps of" in said[0]
    assert (tmp_path / "adapters" / "tiny" / "lab2-lora" / "adapter_config.json").is_file()
    assert not policy.training
    again, source = start_policy.lab2_policy(
        profile, load_seq2seq(profile.summarizer, torch.device("cpu"))[0], tokenizer, dialogues,
        seed=1, bf16=False, log=said.append)
    assert source == "Lab 2's adapter" and len(said) == 2  # no second training message
    assert any(p.requires_grad for p in again.parameters())  # PPO trains it further


def test_a_ppo_policy_is_saved_without_its_reference_and_loads_as_it_was(
        monkeypatch, tmp_path, t5_tokenizer):
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path))
    profile = activate("tiny")
    assert start_policy.lab3_policy(profile, t5_base()) is None  # Lab 3 has not run
    trainer = ppo_trainer(t5_tokenizer)
    trainer.step(PROMPTS)  # the policy moves away from its reference
    directory = start_policy.save_ppo_policy(trainer, "tiny")
    assert directory == tmp_path / "adapters" / "tiny" / "lab3-ppo"
    assert (directory / "adapter_config.json").is_file()
    assert not (directory / "reference").exists()
    loaded = start_policy.lab3_policy(profile, t5_base())
    encoded = t5_tokenizer(PROMPTS, padding=True, return_tensors="pt")
    start = torch.zeros((len(PROMPTS), 1), dtype=torch.long)
    with torch.no_grad():
        expected = trainer.model(**encoded, decoder_input_ids=start).logits
        got = loaded(**encoded, decoder_input_ids=start).logits
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
