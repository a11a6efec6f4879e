"""Lab 3's DPO (labs_common.rl.dpo): the loss and the masks against hand-computed values,
then the trainer on tiny random models, seq2seq and causal, beside PPO's log-probs."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from peft import LoraConfig, TaskType

from labs_common.rl.dpo import (
    DPOConfig,
    DPOTrainer,
    dpo_loss,
    response_mask,
    sequence_logprobs,
)
from labs_common.rl.ppo import PPOTrainer
from labs_common.rl.ppo_config import PPOConfig
from labs_common.rl.rollout import Rollout

from tiny_policies import (
    CAUSAL_LORA,
    CAUSAL_PAIRS,
    LOG_2,
    PAIRS,
    llama_base,
    lora_t5,
    word_level_tokenizer,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _loss(chosen, rejected, ref_chosen, ref_rejected, beta):
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
    return dpo_loss(as_tensor(chosen), as_tensor(rejected), as_tensor(ref_chosen),
                    as_tensor(ref_rejected), beta)


def test_loss_is_log_2_when_the_policy_is_the_reference():
    result = _loss([-3.0, -10.0], [-5.0, -1.0], [-3.0, -10.0], [-5.0, -1.0], beta=0.1)
    assert result.loss.item() == pytest.approx(LOG_2, abs=1e-12)
    assert result.losses.tolist() == pytest.approx([LOG_2, LOG_2], abs=1e-12)
    assert result.margins.tolist() == [0.0, 0.0]
    assert result.accuracies.tolist() == [0.0, 0.0]  # a tie is not a win, as in trl


def test_loss_by_hand():
    # Pair 1: chosen log-ratio +1.5, rejected -0.5 -> delta 2; beta 0.5 -> -log sigmoid(1).
    # Pair 2: chosen -1, rejected +1 -> delta -2 -> -log sigmoid(-1).
    result = _loss([-1.5, -4.0], [-6.5, -2.0], [-3.0, -3.0], [-6.0, -3.0], beta=0.5)
    first, second = math.log1p(math.exp(-1.0)), math.log1p(math.exp(1.0))
    assert result.losses.tolist() == pytest.approx([first, second], abs=1e-12)
    assert result.loss.item() == pytest.approx((first + second) / 2, abs=1e-12)
    assert result.chosen_rewards.tolist() == pytest.approx([0.75, -0.5])
    assert result.rejected_rewards.tolist() == pytest.approx([-0.25, 0.5])
    assert result.margins.tolist() == pytest.approx([1.0, -1.0])
    assert result.accuracies.tolist() == [1.0, 0.0]


def test_gradient_signs_and_values():
    beta = 0.2
    logps = torch.tensor([-4.0, -2.0, -4.0, -2.0], dtype=torch.float64, requires_grad=True)
    chosen, rejected, ref_chosen, ref_rejected = logps[:, None]  # four (1,) views
    dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta).loss.backward()
    # At a margin of 0: d loss / d delta = -beta * sigmoid(0) = -beta / 2.
    assert logps.grad.tolist() == pytest.approx([-beta / 2, beta / 2, beta / 2, -beta / 2])
    # Raising the chosen log-prob lowers the loss, raising the rejected one raises it.
    base = _loss([-4.0], [-2.0], [-4.0], [-2.0], beta).loss.item()
    assert _loss([-3.0], [-2.0], [-4.0], [-2.0], beta).loss.item() < base
    assert _loss([-4.0], [-1.0], [-4.0], [-2.0], beta).loss.item() > base


def test_beta_scales_the_margin():
    def loss(beta):  # a fixed positive log-ratio margin of 3
        return _loss([-1.0], [-5.0], [-2.0], [-3.0], beta).loss.item()

    values = [loss(beta) for beta in (0.01, 0.1, 0.5, 2.0)]
    assert values == sorted(values, reverse=True) and len(set(values)) == 4
    assert loss(0.0) == pytest.approx(LOG_2, abs=1e-12)
    assert loss(1e-8) == pytest.approx(LOG_2, abs=1e-7)
    assert loss(0.5) == pytest.approx(math.log1p(math.exp(-1.5)), abs=1e-12)
    with pytest.raises(ValueError, match="beta"):
        loss(-0.1)


def test_sequence_logprobs_mask_padding_and_what_follows_an_early_eos():
    eos, pad = 1, 0
    ids = torch.tensor([[5, 6, 1, 0], [7, 1, 8, 9], [5, 6, 7, 8], [1, 9, 9, 9]])
    attention = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]])
    mask = response_mask(ids, attention, [eos])
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]]
    assert pad not in ids[mask.bool()].tolist()
    logps = -torch.tensor([[1.0, 2.0, 3.0, 100.0], [0.5, 0.25, 50.0, 60.0],
                           [1.0, 1.0, 1.0, 70.0], [4.0, 80.0, 80.0, 80.0]])
    assert sequence_logprobs(logps, mask).tolist() == pytest.approx([-6.0, -0.75, -3.0, -4.0])


def _trainer(model, tokenizer, **overrides) -> DPOTrainer:
    settings = {"beta": 0.5, "learning_rate": 1e-2, "batch_size": 2, "epochs": 3, "seed": 0}
    settings.update(overrides)
    return DPOTrainer(DPOConfig(**settings), model=model, tokenizer=tokenizer)


def _adapter_state(model, adapter: str) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if f".{adapter}." in n}


def test_encode_appends_eos_and_masks_padding(tiny_t5, word_tokenizer):
    trainer = _trainer(lora_t5(tiny_t5), word_tokenizer)
    encoded = trainer.encode(PAIRS[:2])
    assert len(encoded) == 4  # chosen rows, then rejected rows
    assert encoded.queries[0] == encoded.queries[2] == PAIRS[0]["prompt"]
    vocab = word_tokenizer.get_vocab()
    expected = [
        [vocab["fine"], vocab["thanks"], 1, 0, 0],
        [vocab["buy"], vocab["a"], vocab["ticket"], 1, 0],
        [vocab["hate"], 1, 0, 0, 0],
        [vocab["hate"], vocab["hate"], vocab["this"], vocab["day"], 1],
    ]
    assert encoded.response_ids.tolist() == expected
    assert encoded.response_mask.sum(1).tolist() == [3, 4, 2, 5]
    assert (encoded.query_mask[:, 0] == 1).all()  # seq2seq prompts are right-padded


def test_response_logprobs_equal_ppos(tiny_t5, word_tokenizer):
    policy = lora_t5(tiny_t5)
    ppo_trainer = PPOTrainer(PPOConfig(max_new_tokens=5, seed=0), model=copy.deepcopy(policy),
                             tokenizer=word_tokenizer, reward_fn=lambda texts: [0.0] * len(texts))
    rollout = ppo_trainer.generate([p["prompt"] for p in PAIRS])
    trainer = _trainer(policy, word_tokenizer)
    for which in ("policy", "reference", "base"):
        torch.testing.assert_close(trainer.response_logprobs(rollout, which),
                                   ppo_trainer.response_logprobs(rollout, which))
    # The starting adapter is not the base model: the reference is the adapter's copy.
    assert not torch.allclose(trainer.response_logprobs(rollout, "reference"),
                              trainer.response_logprobs(rollout, "base"))


def test_training_raises_the_margin_and_keeps_the_reference_frozen(tiny_t5, word_tokenizer):
    trainer = _trainer(lora_t5(tiny_t5), word_tokenizer)
    model = trainer.model
    assert trainer.evaluate(PAIRS)["loss"] == pytest.approx(LOG_2, abs=1e-6)
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".reference." in n)
    reference, policy = _adapter_state(model, "reference"), _adapter_state(model, "default")
    torch.testing.assert_close(list(reference.values()), list(policy.values()))
    run = trainer.train(PAIRS)
    assert len(run.history) == 6 and run.pairs == 4 and run.seconds > 0
    first = run.history[0]  # the stats of a step are from before its update
    assert first["loss"] == pytest.approx(LOG_2, abs=1e-7)
    assert first["rewards/margins"] == 0.0 and first["rewards/accuracies"] == 0.0  # all ties
    after = trainer.evaluate(PAIRS)
    assert after["rewards/margins"] > 0.5
    assert after["rewards/accuracies"] == 1.0
    assert after["loss"] < 0.5 * LOG_2
    for name, tensor in _adapter_state(model, "reference").items():
        assert torch.equal(tensor, reference[name]), name  # the reference never moves
    assert any(not torch.equal(t, policy[n]) for n, t in _adapter_state(model, "default").items())
    assert run.table(["loss", "rewards/margins"]).shape == (6, 2)
    assert run.history[-1]["epoch"] == pytest.approx(3.0)


def test_zero_learning_rate_leaves_the_loss_at_log_2(tiny_t5, word_tokenizer):
    trainer = _trainer(lora_t5(tiny_t5), word_tokenizer, learning_rate=0.0, epochs=2)
    policy = _adapter_state(trainer.model, "default")
    run = trainer.train(PAIRS)
    assert [h["loss"] for h in run.history] == pytest.approx([LOG_2] * 4, abs=1e-7)
    assert [h["rewards/margins"] for h in run.history] == [0.0] * 4
    assert all(h["grad_norm"] > 0 for h in run.history)  # the gradient was there, unused
    for name, tensor in _adapter_state(trainer.model, "default").items():
        assert torch.equal(tensor, policy[name]), name


def test_same_seed_gives_identical_histories(tiny_t5, word_tokenizer):
    def run():
        history = _trainer(lora_t5(tiny_t5), word_tokenizer, epochs=2).train(PAIRS).history
        return [{k: v for k, v in h.items() if k != "time/step_seconds"} for h in history]

    assert run() == run()


def test_precomputed_reference_gives_the_same_run(tiny_t5, word_tokenizer):
    def run(precompute: bool):
        trainer = _trainer(lora_t5(tiny_t5), word_tokenizer, precompute_reference=precompute)
        return trainer.train(PAIRS).history

    for fresh, precomputed in zip(run(False), run(True), strict=True):
        for name in ("loss", "rewards/margins", "logps/chosen", "logps/rejected"):
            assert precomputed[name] == pytest.approx(fresh[name], rel=1e-4, abs=1e-5), name


def test_a_second_reference_adapter_is_refused(tiny_t5, word_tokenizer):
    trainer = _trainer(lora_t5(tiny_t5), word_tokenizer)
    with pytest.raises(ValueError, match="already has an adapter"):
        _trainer(trainer.model, word_tokenizer)


def test_causal_policy_learns_from_pairs_with_the_base_as_reference():
    tokenizer = word_level_tokenizer(append_eos=False)
    lora = LoraConfig(**CAUSAL_LORA, task_type=TaskType.CAUSAL_LM)
    trainer = DPOTrainer(DPOConfig(beta=0.5, learning_rate=3e-2, batch_size=2, epochs=3),
                         model=llama_base(), tokenizer=tokenizer, lora_config=lora)
    assert trainer.reference_adapter is None  # a fresh adapter: the base is the reference
    encoded = trainer.encode(CAUSAL_PAIRS)
    assert (encoded.query_mask[:, -1] == 1).all()  # causal prompts are left-padded
    assert encoded.responses[0] == " fish"  # the response continues the prompt's text
    # The same numbers as PPO's scoring of the same tokens (same seed: the same new adapter).
    ppo_trainer = PPOTrainer(PPOConfig(seed=0), model=llama_base(), tokenizer=tokenizer,
                             reward_fn=lambda texts: [0.0] * len(texts), lora_config=lora)
    for which in ("policy", "base"):
        torch.testing.assert_close(trainer.response_logprobs(encoded, which),
                                   ppo_trainer.response_logprobs(encoded, which))
    run = trainer.train(CAUSAL_PAIRS)
    assert run.history[0]["loss"] == pytest.approx(LOG_2, abs=1e-6)
    after = trainer.evaluate(CAUSAL_PAIRS)
    assert after["rewards/margins"] > 0.25 and after["rewards/accuracies"] == 1.0
    assert after["loss"] < LOG_2 - 0.1


def test_rollout_is_the_shared_batch_type(tiny_t5, word_tokenizer):
    # DPO's encoded pairs are PPO's Rollout: one batch type, one forward pass, for both.
    assert isinstance(_trainer(lora_t5(tiny_t5), word_tokenizer).encode(PAIRS), Rollout)


def test_kl_to_reference_is_zero_at_the_start_and_grows_with_training(tiny_t5, word_tokenizer):
    trainer = _trainer(lora_t5(tiny_t5), word_tokenizer)
    prompts = [row["prompt"] for row in PAIRS]
    responses = [row["chosen"] for row in PAIRS]
    assert trainer.kl_to_reference(prompts, responses) == pytest.approx(0.0, abs=1e-6)
    trainer.train(PAIRS)
    encoded = trainer.encode([{"prompt": p, "chosen": r, "rejected": r}
                              for p, r in zip(prompts, responses, strict=True)])
    by_hand = (trainer.pair_logprobs(encoded, "policy")[0]
               - trainer.pair_logprobs(encoded, "reference")[0]).mean()
    assert trainer.kl_to_reference(prompts, responses) == pytest.approx(float(by_hand))
    assert float(by_hand) > 0  # training raised the chosen responses' log-probs


def test_base_reference_for_a_trained_adapter_measures_the_distance_from_zero():
    tokenizer = word_level_tokenizer(append_eos=False)
    lora = LoraConfig(**CAUSAL_LORA, task_type=TaskType.CAUSAL_LM)
    trained = DPOTrainer(DPOConfig(beta=0.5, learning_rate=3e-2, batch_size=2, epochs=3),
                         model=llama_base(), tokenizer=tokenizer, lora_config=lora)
    trained.train(CAUSAL_PAIRS)
    model = trained.model
    prompts = [row["prompt"] for row in CAUSAL_PAIRS]
    responses = [row["chosen"] for row in CAUSAL_PAIRS]
    scorer = DPOTrainer(DPOConfig(), model=model, tokenizer=tokenizer, reference="base")
    assert scorer.reference_adapter is None
    assert set(model.peft_config) == {"default"}  # no copy of the adapter was added
    assert scorer.kl_to_reference(prompts, responses) == pytest.approx(
        trained.kl_to_reference(prompts, responses), abs=1e-6)
    assert scorer.kl_to_reference(prompts, responses) > 0.1
    with pytest.raises(ValueError, match="'copy' or 'base'"):
        DPOTrainer(DPOConfig(), model=model, tokenizer=tokenizer, reference="start")
