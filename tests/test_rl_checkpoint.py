"""PPO checkpoints (labs_common.rl.checkpoint): the trainer's public state written to files and
read back, a resumed run that continues as the uninterrupted one, and incomplete ones refused."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file

from labs_common.rl import checkpoint

from tiny_policies import PROMPTS, ppo_trainer, t5_base


def test_save_and_load_round_trip(t5_tokenizer, tmp_path):
    trainer = ppo_trainer(t5_tokenizer, learning_rate=1e-2)
    trainer.step(PROMPTS)
    rollout = trainer.generate(PROMPTS)
    logprobs, values = trainer.response_logprobs(rollout), trainer.response_values(rollout)
    trainer.save(tmp_path)
    assert {"adapter_model.safetensors", "adapter_config.json", "value_head.safetensors"} <= {
        p.name for p in tmp_path.iterdir()
    }

    restored = ppo_trainer(t5_tokenizer)  # same start, untrained
    assert not torch.allclose(restored.response_logprobs(rollout), logprobs)
    restored.load(tmp_path)
    torch.testing.assert_close(restored.response_logprobs(rollout), logprobs)
    torch.testing.assert_close(restored.response_values(rollout), values)

    # The adapter alone reloads with peft, on a fresh base model, for sampling.
    reloaded = PeftModel.from_pretrained(t5_base(), tmp_path).eval()
    with torch.no_grad():
        expected = trainer.model(
            input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
            decoder_input_ids=rollout.response_ids,
        ).logits  # fmt: skip
        got = reloaded(
            input_ids=rollout.query_ids, attention_mask=rollout.query_mask,
            decoder_input_ids=rollout.response_ids,
        ).logits  # fmt: skip
    torch.testing.assert_close(got, expected)


def _without_time(stats: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in stats.items() if not k.startswith("time/")}


def test_a_resumed_run_continues_as_the_uninterrupted_one(t5_tokenizer, tmp_path):
    settings = {"learning_rate": 1e-2, "ppo_epochs": 2, "max_new_tokens_range": (3, 6),
                "init_kl_coef": 0.2, "target_kl": 100.0, "horizon": 50}
    trainer = ppo_trainer(t5_tokenizer, **settings)
    for _ in range(2):
        trainer.step(PROMPTS)
    kl_coef = trainer.kl_controller.value
    assert kl_coef == pytest.approx(0.2 * 0.968**2)  # KL far below target: beta shrank twice
    trainer.save(tmp_path)
    uninterrupted = trainer.step(PROMPTS).stats

    resumed = ppo_trainer(t5_tokenizer, **settings)
    resumed.load(tmp_path)
    assert resumed.kl_controller.value == kl_coef and resumed.steps_done == 2
    assert _without_time(resumed.step(PROMPTS).stats) == _without_time(uninterrupted)


def test_load_refuses_an_incomplete_checkpoint(t5_tokenizer, tmp_path):
    trainer = ppo_trainer(t5_tokenizer)
    trainer.save(tmp_path)
    fresh = ppo_trainer(t5_tokenizer)
    adapter_file = tmp_path / "adapter_model.safetensors"
    adapter = load_file(adapter_file)
    dropped = sorted(adapter)[0]
    save_file({k: v for k, v in adapter.items() if k != dropped}, adapter_file)
    with pytest.raises(ValueError, match="lacks adapter weights"):
        fresh.load(tmp_path)

    trainer.save(tmp_path)
    save_file({"weight": trainer.value_head.weight.detach()}, tmp_path / checkpoint.VALUE_HEAD_FILE)
    with pytest.raises(ValueError, match="value head"):
        fresh.load(tmp_path)

    trainer.save(tmp_path)
    (tmp_path / checkpoint.TRAINER_STATE_FILE).unlink()
    with pytest.raises(ValueError, match="cannot resume"):
        fresh.load(tmp_path)


def test_the_state_goes_to_files_and_back_unchanged(t5_tokenizer, tmp_path):
    trainer = ppo_trainer(t5_tokenizer, learning_rate=1e-2)
    trainer.step(PROMPTS)
    state = trainer.state_dict()
    assert set(state) == {"adapter", "adapter_config", "value_head", "config", "trainer"}
    assert state["adapter_config"].inference_mode and state["trainer"]["steps_done"] == 1
    checkpoint.write_checkpoint(state, tmp_path)
    assert {checkpoint.ADAPTER_FILE, "adapter_config.json", checkpoint.VALUE_HEAD_FILE,
            checkpoint.CONFIG_FILE, checkpoint.TRAINER_STATE_FILE} == {
        p.name for p in tmp_path.iterdir()}
    read = checkpoint.read_checkpoint(tmp_path, torch.device("cpu"))
    for part in ("adapter", "value_head"):
        assert read[part].keys() == state[part].keys()
        for name, tensor in state[part].items():
            assert torch.equal(read[part][name], tensor), name
    saved, loaded = state["trainer"], read["trainer"]
    assert loaded.keys() == saved.keys()
    assert (loaded["kl_coef"], loaded["steps_done"]) == (saved["kl_coef"], saved["steps_done"])
    assert torch.equal(loaded["torch_rng"], saved["torch_rng"])
    assert torch.equal(loaded["shuffle_rng"], saved["shuffle_rng"])
    assert loaded["length_rng"] == saved["length_rng"]
    moments = loaded["optimizer"]["state"][0]["exp_avg"]
    assert torch.equal(moments, saved["optimizer"]["state"][0]["exp_avg"]) and moments.any()
    assert (tmp_path / checkpoint.CONFIG_FILE).read_text().count('"learning_rate": 0.01') == 1


def test_a_trainer_takes_another_s_state_in_memory(t5_tokenizer):
    trained = ppo_trainer(t5_tokenizer, learning_rate=1e-2, max_new_tokens_range=(3, 6))
    trained.step(PROMPTS)
    rollout = trained.generate(PROMPTS)
    fresh = ppo_trainer(t5_tokenizer, max_new_tokens_range=(3, 6))  # (seeds torch again)
    fresh.load_state_dict(copy.deepcopy(trained.state_dict()))  # not the live tensors
    torch.testing.assert_close(fresh.response_logprobs(rollout), trained.response_logprobs(rollout))
    torch.testing.assert_close(fresh.response_values(rollout), trained.response_values(rollout))
    assert fresh.steps_done == 1 and fresh.kl_controller.value == trained.kl_controller.value
    # The same generators of their own (lengths, shuffling); torch's is shared by both, so
    # each step starts from the same state of it.
    shared = torch.get_rng_state()
    expected = _without_time(trained.step(PROMPTS).stats)
    torch.set_rng_state(shared)
    assert _without_time(fresh.step(PROMPTS).stats) == expected


def test_a_folder_without_the_trainer_state_is_not_a_checkpoint(tmp_path):
    (tmp_path / checkpoint.ADAPTER_FILE).write_bytes(b"")
    with pytest.raises(ValueError, match="not written by PPOTrainer.save"):
        checkpoint.read_checkpoint(tmp_path, torch.device("cpu"))


def test_checkpoints_know_nothing_of_the_trainer_s_insides():
    """checkpoint.py reads and writes a state dict: it imports no trainer, and reaches no
    private attribute of anything."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(checkpoint))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("labs_common") for name in imported), imported
    private = [node.attr for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr.startswith("_")]
    assert private == []
